{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['item_id', 'location_id', 'snapshot_date'],
        pre_hook=[
            "{{ delete_date_window('snapshot_date') }}",
        ],
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['snapshot_date']},
            {'columns': ['loaded_at'], 'type': 'brin'},
        ],
    )
}}
-- Daily stock per item and location. Days missing from an export between an
-- item-location's first and last exported day are carried forward.
--
-- Incremental: with vars min_date/max_date only that window is rewritten, computed
-- from the exported days of the window widened by var lookback_days on both sides
-- (carry-forward needs the exported days around the window), so an incremental run
-- gives the rows a full refresh gives as long as no export gap exceeds the lookback.
-- A gap that ends inside the window is bridged: its carried-forward days before the
-- window are written too (when the last export before the gap was loaded, nothing
-- could be carried forward yet).
{%- set window_start = forgecast_window_date('min_date') if is_incremental() else none %}
with

exported_days as (
    select * from {{ ref('int_exported_stock_days') }}
    where true {{ input_window_filter('snapshot_date') }}
),

open_supply as (
    select * from {{ ref('open_supply') }}
),

-- Each exported day stands for itself and for the missing days up to the next
-- exported day of the item-location (carried forward). The last exported day
-- stands only for itself: nothing is invented after the data ends.
exported_with_next as (
    select
        *,
        lead(snapshot_date) over (
            partition by item_id, location_id
            order by snapshot_date
        ) as next_exported_date
    from exported_days
),

filled as (
    select
        exported_with_next.item_id,
        exported_with_next.location_id,
        day::date as snapshot_date,
        exported_with_next.on_hand,
        exported_with_next.allocated,
        day::date > exported_with_next.snapshot_date as is_carried_forward,
        exported_with_next.next_exported_date
    from exported_with_next
    cross join lateral generate_series(
        exported_with_next.snapshot_date,
        coalesce(exported_with_next.next_exported_date - 1, exported_with_next.snapshot_date),
        interval '1 day'
    ) as day
),

windowed as (
    select * from filled
    where (true {{ date_window_filter('snapshot_date') }})
    {%- if window_start is not none %}
        -- The bridge: days carried forward into a gap whose next export is in the window.
        or (
            snapshot_date < date '{{ window_start }}'
            and is_carried_forward
            and next_exported_date >= date '{{ window_start }}'
            {%- set window_end = forgecast_window_date('max_date') %}
            {%- if window_end is not none %}
            and next_exported_date <= date '{{ window_end }}'
            {%- endif %}
        )
    {%- endif %}
),

supply_by_day as (
    select
        item_id,
        location_id,
        expected_date,
        sum(quantity) as quantity
    from open_supply
    group by item_id, location_id, expected_date
),

-- Approximation: we only know today's open supply, so "on order" on a day is the
-- currently open supply expected after that day. Per item-location that is a step
-- function of the day: between two expected dates it is the supply expected from the
-- later one on. As intervals [previous expected date, expected date) it is one hash
-- join on item and location (few intervals per item-location), not a range join
-- aggregated over every day.
on_order_steps as (
    select
        item_id,
        location_id,
        coalesce(
            lag(expected_date) over (partition by item_id, location_id order by expected_date),
            '-infinity'::date
        ) as from_date,
        expected_date as until_date,
        sum(quantity) over (
            partition by item_id, location_id
            order by expected_date desc
            rows between unbounded preceding and current row
        ) as on_order
    from supply_by_day
),

with_on_order as (
    select
        windowed.item_id,
        windowed.location_id,
        windowed.snapshot_date,
        windowed.on_hand,
        coalesce(on_order_steps.on_order, 0) as on_order,
        windowed.allocated,
        windowed.is_carried_forward
    from windowed
    left join on_order_steps
        on windowed.item_id = on_order_steps.item_id
        and windowed.location_id = on_order_steps.location_id
        and windowed.snapshot_date >= on_order_steps.from_date
        and windowed.snapshot_date < on_order_steps.until_date
),

final as (
    select
        *,
        -- When this dbt invocation wrote the row (test written_inside_partition_window).
        {{ forgecast_run_started_at() }} as loaded_at
    from with_on_order
)

select * from final
