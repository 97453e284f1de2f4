{#
    Odoo exports locations by full name. Internal (stock-holding) locations are
    the warehouse ones, e.g. 'WH/Stock'; the others are partner and virtual
    locations: 'Partners/Vendors', 'Partners/Customers', 'Virtual/Production'
    (Odoo 17: 'Virtual Locations/Production'), 'Physical Locations/Transit'.
#}
{% macro odoo_is_internal_location(col) -%}
    (
        {{ col }} is not null
        and {{ col }} not like 'Partners/%'
        and {{ col }} not like 'Virtual%'
        and {{ col }} not like 'Physical Locations/%'
    )
{%- endmacro %}


{% macro odoo_is_customer_location(col) -%}
    ({{ col }} = 'Partners/Customers' or {{ col }} like 'Partners/Customers/%')
{%- endmacro %}


{% macro odoo_is_production_location(col) -%}
    ({{ col }} like 'Virtual%' and {{ col }} ~* '/production$')
{%- endmacro %}
