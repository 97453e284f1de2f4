{#
    Deterministic uuid from a text: md5 of the text, formatted 8-4-4-4-12.
    Same input -> same id in every run and every environment, so ids survive a
    full refresh and can be recomputed outside dbt. Python equivalent:
        str(uuid.UUID(hashlib.md5(text.encode()).hexdigest()))
    Callers namespace the text, e.g. forgecast_uuid("'forgecast:item:' || sku").
#}
{% macro forgecast_uuid(text_expr) -%}
    (
        substr(md5({{ text_expr }}), 1, 8) || '-'
        || substr(md5({{ text_expr }}), 9, 4) || '-'
        || substr(md5({{ text_expr }}), 13, 4) || '-'
        || substr(md5({{ text_expr }}), 17, 4) || '-'
        || substr(md5({{ text_expr }}), 21, 12)
    )
{%- endmacro %}


{# Location ids shared by inventory, demand and supply: '<source>:<location>'. #}
{% macro location_id(source_system, location) -%}
    ('{{ source_system }}:' || {{ location }})
{%- endmacro %}
