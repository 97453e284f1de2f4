{# Quantities and stock levels are never below zero (NULLs are not checked). #}
{% test non_negative(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} < 0

{% endtest %}
