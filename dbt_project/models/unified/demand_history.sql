{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['item_id', 'location_id', 'demand_date'],
        pre_hook=[
            "{{ delete_date_window('demand_date') }}",
        ],
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['demand_date']},
            {'columns': ['loaded_at'], 'type': 'brin'},
        ],
    )
}}
-- Daily demand per item and location, zero-filled so forecasting sees the days
-- without demand; split into independent demand and consumption by production. Incremental like inventory_snapshots: the window given by
-- vars min_date/max_date is rewritten, computed from the inputs since var
-- lookback_days before the window and from this table's rows in the lookback (which
-- item-locations were already active). Days before the window that this run's
-- inventory_snapshots bridged (an export gap ending in the window) are rewritten too:
-- their stockout flag comes from the stock carried into the gap.
{%- set window_start = forgecast_window_date('min_date') if is_incremental() else none %}
{%- set window_end = forgecast_window_date('max_date') if is_incremental() else none %}
with

goods_movements as (
    select * from {{ ref('stg_sap__goods_movements') }}
    where true {{ input_window_filter('posting_date', bound='lower') }}
),

odoo_moves as (
    select * from {{ ref('stg_odoo__stock_moves') }}
    where true {{ input_window_filter('move_date', bound='lower') }}
),

external_ids as (
    select * from {{ ref('item_external_ids') }}
),

-- Components of a BOM in force today, per location: their consumption by production
-- is dependent demand (the explosion of their parents' plans covers it), not demand
-- their own forecast may count again.
bom_components as (
    select distinct component_item_id as item_id, location_id
    from {{ ref('bill_of_materials') }}
    where valid_from <= current_date
        and (valid_to is null or valid_to >= current_date)
),

-- Stock days: inventory_snapshots runs first and spans each item-location from its
-- first to its last exported day (carried-forward days lie in between), which is all
-- the calendar needs from stock.
inventory as (
    select * from {{ ref('inventory_snapshots') }}
    where true {{ input_window_filter('snapshot_date', bound='lower') }}
),

-- SAP demand: deliveries to customers (601, independent) and goods issues to
-- production orders (261, consumption), credit side (H). Quantities are in the base
-- unit. Reversals (262/602) are not netted: a known approximation.
sap_demand as (
    select
        external_ids.item_id,
        {{ location_id('sap', 'goods_movements.plant') }} as location_id,
        goods_movements.posting_date as demand_date,
        coalesce(sum(goods_movements.quantity) filter (where goods_movements.movement_type = '601'), 0)
            as independent_quantity,
        coalesce(sum(goods_movements.quantity) filter (where goods_movements.movement_type = '261'), 0)
            as consumption_quantity
    from goods_movements
    inner join external_ids
        on external_ids.source_system = 'sap'
        and external_ids.external_id = goods_movements.material_number
    where goods_movements.movement_type in ('261', '601')
        and goods_movements.debit_credit = 'H'
        and goods_movements.posting_date is not null
    group by 1, 2, 3
),

-- Odoo demand: done moves out of an internal location to customers (independent) or
-- to production (consumption); the location is the one the stock left.
odoo_demand as (
    select
        external_ids.item_id,
        {{ location_id('odoo', 'odoo_moves.source_location') }} as location_id,
        odoo_moves.move_date as demand_date,
        coalesce(sum(odoo_moves.quantity) filter (
            where {{ odoo_is_customer_location('odoo_moves.destination_location') }}), 0)
            as independent_quantity,
        coalesce(sum(odoo_moves.quantity) filter (
            where not {{ odoo_is_customer_location('odoo_moves.destination_location') }}), 0)
            as consumption_quantity
    from odoo_moves
    inner join external_ids
        on external_ids.source_system = 'odoo'
        and external_ids.external_id = odoo_moves.product_id::text
    where odoo_moves.state = 'done'
        and odoo_moves.move_date is not null
        and {{ odoo_is_internal_location('odoo_moves.source_location') }}
        and (
            {{ odoo_is_customer_location('odoo_moves.destination_location') }}
            or {{ odoo_is_production_location('odoo_moves.destination_location') }}
        )
    group by 1, 2, 3
),

demand_split as (
    select * from sap_demand
    union all
    select * from odoo_demand
),

-- quantity, what forecasting reads: all of it for an item no current BOM at the
-- location consumes (nothing else covers its consumption), only the independent part
-- for a component (the explosion covers the rest). Decided on the demand days only,
-- before the calendar multiplies the rows.
demand as (
    select
        demand_split.item_id,
        demand_split.location_id,
        demand_split.demand_date,
        case
            when bom_components.item_id is null
                then demand_split.independent_quantity + demand_split.consumption_quantity
            else demand_split.independent_quantity
        end as quantity,
        demand_split.independent_quantity,
        demand_split.consumption_quantity
    from demand_split
    left join bom_components
        on demand_split.item_id = bom_components.item_id
        and demand_split.location_id = bom_components.location_id
),

-- Days an item-location shows up in the data at all, as (first, last) per item-location:
-- demand and stock (incremental: and its calendar days already built in the lookback
-- before the window).
activity as (
    select item_id, location_id, min(demand_date) as first_date, max(demand_date) as last_date
    from demand
    group by item_id, location_id
    union all
    select item_id, location_id, min(snapshot_date), max(snapshot_date)
    from inventory
    group by item_id, location_id
    {%- if window_start is not none %}
    union all
    select item_id, location_id, min(demand_date), max(demand_date)
    from {{ this }}
    where demand_date < date '{{ window_start }}' {{ input_window_filter('demand_date', bound='lower') }}
    group by item_id, location_id
    {%- endif %}
),

-- Zero-fill up to the latest day of the item-location's source system, not the
-- overall latest day: a source whose export is a day late must not get a day of
-- invented zero demand. The source is the location_id prefix ('sap:', 'odoo:').
source_last_dates as (
    select
        split_part(location_id, ':', 1) as source_system,
        max(last_date) as last_date
    from activity
    group by 1
),

spans as (
    select
        activity.item_id,
        activity.location_id,
        min(activity.first_date) as first_date,
        source_last_dates.last_date
    from activity
    inner join source_last_dates
        on split_part(activity.location_id, ':', 1) = source_last_dates.source_system
    group by activity.item_id, activity.location_id, source_last_dates.last_date
),
{%- if window_start is not none %}

-- First day of each item-location's gap bridge before the window (see above).
bridges as (
    select item_id, location_id, min(snapshot_date) as bridge_start
    from inventory
    where snapshot_date < date '{{ window_start }}'
        and loaded_at = {{ forgecast_run_started_at() }}
    group by item_id, location_id
),
{%- endif %}

calendar as (
    select
        spans.item_id,
        spans.location_id,
        day::date as demand_date
    from spans
    {%- if window_start is not none %}
    left join bridges
        on spans.item_id = bridges.item_id
        and spans.location_id = bridges.location_id
    {%- endif %}
    cross join lateral generate_series(
        {% if window_start is not none -%}
        greatest(spans.first_date, coalesce(bridges.bridge_start, date '{{ window_start }}'))
        {%- else %}spans.first_date{% endif %},
        {% if window_end is not none %}least(spans.last_date, date '{{ window_end }}'){% else %}spans.last_date{% endif %},
        interval '1 day'
    ) as day
),

-- A stockout day has no stock to consume: forecasting can treat its zero (or low)
-- demand as censored rather than as a real absence of demand.
stockout_days as (
    select item_id, location_id, snapshot_date
    from inventory
    where on_hand = 0
),

-- Every calendar day once, its demand and stockout flag joined on: the joined sides
-- are small next to the calendar (demand days, stockout days), so both are hash
-- joins probed by the streamed calendar. sap_demand and odoo_demand never share a
-- location (the location_id prefix), so demand has one row per item-location-day.
final as (
    select
        calendar.item_id,
        calendar.location_id,
        calendar.demand_date,
        coalesce(demand.quantity, 0) as quantity,
        stockout_days.snapshot_date is not null as is_stockout,
        -- When this dbt invocation wrote the row (test written_inside_partition_window).
        {{ forgecast_run_started_at() }} as loaded_at,
        coalesce(demand.independent_quantity, 0) as independent_quantity,
        coalesce(demand.consumption_quantity, 0) as consumption_quantity
    from calendar
    left join demand
        on calendar.item_id = demand.item_id
        and calendar.location_id = demand.location_id
        and calendar.demand_date = demand.demand_date
    left join stockout_days
        on calendar.item_id = stockout_days.item_id
        and calendar.location_id = stockout_days.location_id
        and calendar.demand_date = stockout_days.snapshot_date
)

select * from final
