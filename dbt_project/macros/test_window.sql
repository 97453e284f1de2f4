{#
    Partition-scoped tests. A nightly build passes its one-day window (vars min_date /
    max_date); re-testing two years of history every night would cost more than the
    build itself, and those days were tested when they were built. So a generic test on
    a model that declares `meta: {window_column: <date column>}` reads only the rows of
    the window (plus rows whose date is null, so not_null tests still see them). A build
    without vars, or with --full-refresh, tests everything.

    dbt calls get_where_subquery for the model a generic test reads; this keeps the
    test's own `where` config working beside the window.
#}
{% macro postgres__get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}{%- do filters.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- set window = '' if reads_whole_table() else test_window_predicate(window_column_of(relation)) -%}
    {%- if window -%}{%- do filters.append(window) -%}{%- endif -%}
    {%- if filters -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ filters | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{#
    written_inside_partition_window looks for rows outside the window: it must see the
    whole table. `model` is the test node being compiled.
#}
{% macro reads_whole_table() -%}
    {%- set test_metadata = model.get('test_metadata') if model is mapping else none -%}
    {{ return(test_metadata is not none and test_metadata.name == 'written_inside_partition_window') }}
{%- endmacro %}


{# The window_column meta of the model behind `relation`, or none. #}
{% macro window_column_of(relation) -%}
    {%- if not execute or relation is none -%}{{ return(none) }}{%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type in ('model', 'snapshot')
              and (node.alias or node.name) == relation.identifier
              and node.schema == relation.schema -%}
            {{ return(node.config.meta.get('window_column')) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}


{#
    ` (<col> is null or <col> between min and max)` for a test of the partition
    window; empty when no window applies (no column, no vars, or --full-refresh).
#}
{% macro test_window_predicate(date_column) -%}
    {%- if date_column is none or flags.FULL_REFRESH -%}{{ return('') }}{%- endif -%}
    {%- set min_date = forgecast_window_date('min_date') -%}
    {%- set max_date = forgecast_window_date('max_date') -%}
    {%- if min_date is none and max_date is none -%}{{ return('') }}{%- endif -%}
    {%- set bounds = [] -%}
    {%- if min_date is not none -%}{%- do bounds.append(date_column ~ " >= date '" ~ min_date ~ "'") -%}{%- endif -%}
    {%- if max_date is not none -%}{%- do bounds.append(date_column ~ " <= date '" ~ max_date ~ "'") -%}{%- endif -%}
    {{ return('(' ~ date_column ~ ' is null or (' ~ bounds | join(' and ') ~ '))') }}
{%- endmacro %}


{# For singular tests: `relation` narrowed to the partition window like generic tests. #}
{% macro in_test_window(relation) -%}
    {{ return(postgres__get_where_subquery(relation)) }}
{%- endmacro %}
