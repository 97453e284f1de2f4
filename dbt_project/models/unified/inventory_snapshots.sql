{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['item_id', 'location_id', 'snapshot_date'],
        pre_hook="{{ delete_date_window('snapshot_date') }}",
        on_schema_change='append_new_columns',
    )
}}
-- Daily stock per item and location. Days missing from an export between an
-- item-location's first and last exported day are carried forward.
--
-- Incremental: with vars min_date/max_date only that window is rewritten, but it
-- is always computed from all staged data (carry-forward needs the days before the
-- window), so an incremental run gives exactly the rows a full refresh gives.
with

sap_stock as (
    select * from {{ ref('stg_sap__stock') }}
),

odoo_quants as (
    select * from {{ ref('stg_odoo__stock_quants') }}
),

external_ids as (
    select * from {{ ref('item_external_ids') }}
),

open_supply as (
    select * from {{ ref('open_supply') }}
),

-- SAP: storage locations summed to the plant. Nothing is reserved in MARD terms.
sap_days as (
    select
        external_ids.item_id,
        {{ location_id('sap', 'sap_stock.plant') }} as location_id,
        sap_stock.snapshot_date,
        sum(sap_stock.on_hand) as on_hand,
        0::numeric as allocated
    from sap_stock
    inner join external_ids
        on external_ids.source_system = 'sap'
        and external_ids.external_id = sap_stock.material_number
    group by 1, 2, 3
),

odoo_days as (
    select
        external_ids.item_id,
        {{ location_id('odoo', 'odoo_quants.location') }} as location_id,
        odoo_quants.snapshot_date,
        sum(odoo_quants.on_hand) as on_hand,
        sum(odoo_quants.reserved) as allocated
    from odoo_quants
    inner join external_ids
        on external_ids.source_system = 'odoo'
        and external_ids.external_id = odoo_quants.product_id::text
    group by 1, 2, 3
),

exported_days as (
    select * from sap_days
    union all
    select * from odoo_days
),

spans as (
    select
        item_id,
        location_id,
        min(snapshot_date) as first_date,
        max(snapshot_date) as last_date
    from exported_days
    group by item_id, location_id
),

calendar as (
    select
        spans.item_id,
        spans.location_id,
        day::date as snapshot_date
    from spans
    cross join lateral generate_series(spans.first_date, spans.last_date, interval '1 day') as day
),

-- fill_group counts exported days so far: a missing day shares the group of the
-- last exported day before it, whose values it takes.
calendar_with_exports as (
    select
        calendar.item_id,
        calendar.location_id,
        calendar.snapshot_date,
        exported_days.on_hand,
        exported_days.allocated,
        exported_days.snapshot_date is null as is_carried_forward,
        count(exported_days.snapshot_date) over (
            partition by calendar.item_id, calendar.location_id
            order by calendar.snapshot_date
        ) as fill_group
    from calendar
    left join exported_days
        on calendar.item_id = exported_days.item_id
        and calendar.location_id = exported_days.location_id
        and calendar.snapshot_date = exported_days.snapshot_date
),

filled as (
    select
        item_id,
        location_id,
        snapshot_date,
        first_value(on_hand) over fill_window as on_hand,
        first_value(allocated) over fill_window as allocated,
        is_carried_forward
    from calendar_with_exports
    window fill_window as (
        partition by item_id, location_id, fill_group
        order by snapshot_date
    )
),

windowed as (
    select * from filled
    where true {{ date_window_filter('snapshot_date') }}
),

-- Approximation: we only know today's open supply, so "on order" on a day is the
-- currently open supply expected after that day.
with_on_order as (
    select
        windowed.item_id,
        windowed.location_id,
        windowed.snapshot_date,
        windowed.on_hand,
        coalesce(sum(open_supply.quantity), 0) as on_order,
        windowed.allocated,
        windowed.is_carried_forward
    from windowed
    left join open_supply
        on windowed.item_id = open_supply.item_id
        and windowed.location_id = open_supply.location_id
        and open_supply.expected_date > windowed.snapshot_date
    group by
        windowed.item_id,
        windowed.location_id,
        windowed.snapshot_date,
        windowed.on_hand,
        windowed.allocated,
        windowed.is_carried_forward
)

select * from with_on_order
