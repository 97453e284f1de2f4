{#
    Stock on hand is never below zero by more than the tolerance in the dbt var
    `on_hand_negative_tolerance` (base unit, default 0): projected inventory starts
    from on hand, so a negative start makes every stockout alert of the item wrong.
    NULLs are not checked (not_null does that).
#}
{% test on_hand_within_tolerance(model, column_name) %}

{%- set tolerance = var('on_hand_negative_tolerance', 0) | float -%}

select {{ column_name }}
from {{ model }}
where {{ column_name }} < -{{ tolerance }}

{% endtest %}
