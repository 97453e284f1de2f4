{#
    Deterministic uuid from a text: the md5 of the text as a uuid (PostgreSQL reads 32
    hex digits as one). Same input -> same id in every run and every environment, so
    ids survive a full refresh and can be recomputed outside dbt. Python equivalent:
        uuid.UUID(hashlib.md5(text.encode()).hexdigest())
    Callers namespace the text, e.g. forgecast_uuid("'forgecast:item:' || sku").
    A uuid, not its text: an item id is a uuid in every table (forecast and ml too).
#}
{% macro forgecast_uuid(text_expr) -%}
    md5({{ text_expr }})::uuid
{%- endmacro %}


{# Location ids shared by inventory, demand and supply: '<source>:<location>'. #}
{% macro location_id(source_system, location) -%}
    ('{{ source_system }}:' || {{ location }})
{%- endmacro %}
