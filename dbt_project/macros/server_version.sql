{#
    The server's version as server_version_num (160002 for 16.2), asked once per dbt
    invocation: the casting macros pick PostgreSQL 16's pg_input_is_valid when the
    server has it and a PostgreSQL 15 form otherwise. The answer is kept in the
    invocation's graph dict, the one context object shared by every node a run compiles
    (a macro's own variables last one call), so ~40 casts cost one round trip.
    While dbt parses (no connection, nothing executed) the newest form is assumed.
#}
{% macro server_version_num() -%}
    {%- if not execute -%}
        {{ return(999999) }}
    {%- endif -%}
    {%- if graph.get('forgecast_server_version_num') is none -%}
        {%- set version = run_query('show server_version_num').columns[0].values()[0] -%}
        {%- do graph.update({'forgecast_server_version_num': version | int}) -%}
    {%- endif -%}
    {{ return(graph['forgecast_server_version_num']) }}
{%- endmacro %}


{# True when pg_input_is_valid (PostgreSQL 16+) is there. #}
{% macro has_pg_input_is_valid() -%}
    {{ return(server_version_num() >= 160000) }}
{%- endmacro %}
