{#
    An incremental run for a partition window (vars min_date / max_date) writes only
    rows dated inside that window: the rows this dbt invocation wrote (loaded_at =
    run_started_at) must have column_name inside [min_date, max_date]. Every other day
    belongs to another partition and must be left as it was.

    One exception, when `bridged_by` names the stock model (inventory_snapshots): a
    row dated before the window may be written where that model's row for the same
    item, location and day is a carried-forward day this run wrote, i.e. the bridge of
    an export gap that ends inside the window (`bridged_by_column`: its date column).

    This test reads the whole table, not the window other tests read (test_window.sql):
    the rows it looks for are the ones outside the window. The BRIN index on loaded_at
    keeps that cheap. Not checked when no window is given, or when this invocation
    wrote the whole table (first build, --full-refresh: a new table holds all history).
    Only meaningful inside the `dbt build` that built the model; run on its own
    (`dbt test`) no row carries this invocation's run_started_at and it passes.
#}
{% test written_inside_partition_window(
    model, column_name, loaded_at_column='loaded_at', bridged_by=none, bridged_by_column=none
) %}

{%- set min_date = forgecast_window_date('min_date') -%}
{%- set max_date = forgecast_window_date('max_date') -%}
{%- set this_run = forgecast_run_started_at() -%}

{%- if min_date is none and max_date is none %}
select null::date as {{ column_name }} where false
{%- else %}
with

written as (
    select *
    from {{ model }}
    where {{ loaded_at_column }} = {{ this_run }}
),

-- Rows of tables built before loaded_at existed have it null: earlier runs too.
kept_from_earlier_runs as (
    select 1
    from {{ model }}
    where {{ loaded_at_column }} is distinct from {{ this_run }}
    limit 1
)

select written.{{ column_name }}
from written
where exists (select 1 from kept_from_earlier_runs)
    and (
        false
        {%- if min_date is not none %} or written.{{ column_name }} < date '{{ min_date }}'{% endif %}
        {%- if max_date is not none %} or written.{{ column_name }} > date '{{ max_date }}'{% endif %}
    )
    {%- if bridged_by is not none and min_date is not none %}
    and not (
        written.{{ column_name }} < date '{{ min_date }}'
        and exists (
            select 1
            from {{ bridged_by }} as bridge
            where bridge.item_id = written.item_id
                and bridge.location_id = written.location_id
                and bridge.{{ bridged_by_column or column_name }} = written.{{ column_name }}
                and bridge.is_carried_forward
                and bridge.loaded_at = {{ this_run }}
        )
    )
    {%- endif %}
{%- endif %}

{% endtest %}
