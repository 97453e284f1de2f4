{#
    An incremental run for a partition window (vars min_date / max_date) writes only
    rows dated inside that window: the rows this dbt invocation wrote (loaded_at =
    run_started_at) must have column_name inside [min_date, max_date]. Every other day
    belongs to another partition and must be left as it was.

    Not checked (nothing to check) when no window is given, or when this invocation
    wrote the whole table (first build, --full-refresh: a new table holds all history).
    Only meaningful inside the `dbt build` that built the model; run on its own
    (`dbt test`) no row carries this invocation's run_started_at and it passes.
#}
{% test written_inside_partition_window(model, column_name, loaded_at_column='loaded_at') %}

{%- set min_date = forgecast_window_date('min_date') -%}
{%- set max_date = forgecast_window_date('max_date') -%}

{%- if min_date is none and max_date is none %}
select null::date as {{ column_name }} where false
{%- else %}
with

written as (
    select {{ column_name }}
    from {{ model }}
    where {{ loaded_at_column }} = {{ forgecast_run_started_at() }}
),

-- Rows of tables built before loaded_at existed have it null: earlier runs too.
kept_from_earlier_runs as (
    select 1
    from {{ model }}
    where {{ loaded_at_column }} is distinct from {{ forgecast_run_started_at() }}
    limit 1
)

select {{ column_name }}
from written
where exists (select 1 from kept_from_earlier_runs)
    and (
        false
        {%- if min_date is not none %} or {{ column_name }} < date '{{ min_date }}'{% endif %}
        {%- if max_date is not none %} or {{ column_name }} > date '{{ max_date }}'{% endif %}
    )
{%- endif %}

{% endtest %}
