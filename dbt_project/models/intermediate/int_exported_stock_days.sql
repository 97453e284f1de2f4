-- Stock per item, location and exported day, straight from staging: SAP storage
-- locations summed to the plant, several source ids of one item summed to the item.
-- inventory_snapshots fills the missing days from it; demand_history reads the
-- stock days from inventory_snapshots, which spans exactly the exported days.
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

-- Nothing is reserved in SAP's MARD terms: allocated is 0.
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
    where sap_stock.snapshot_date is not null
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
    where odoo_quants.snapshot_date is not null
    group by 1, 2, 3
),

final as (
    select * from sap_days
    union all
    select * from odoo_days
)

select * from final
