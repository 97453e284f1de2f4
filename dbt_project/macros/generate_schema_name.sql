{#
    Use a model's custom schema name as-is (`staging`, `unified`) instead of
    dbt's default `<target_schema>_<custom>`: every target (dev, ci, prod) is its
    own database, so the schema names can be the same everywhere, and the
    Dagster assets and the forecasting code can hard-code `unified.<table>`.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
