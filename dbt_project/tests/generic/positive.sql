{# Open quantities are above zero: a line with nothing open is left out, not kept as 0. #}
{% test positive(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} <= 0

{% endtest %}
