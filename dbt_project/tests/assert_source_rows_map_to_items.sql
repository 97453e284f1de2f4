-- Source rows whose item id does not resolve through item_external_ids are left
-- out of unified (ingest normally quarantines them upstream). Warn with the ids.
-- Nightly builds look at the window's rows of the daily tables (macros/test_window.sql).
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'item_external_ids'}}}) }}

with

external_ids as (
    select * from {{ ref('item_external_ids') }}
),

referenced as (
    select distinct 'sap' as source_system, material_number as external_id, 'stg_sap__stock' as model
    from {{ in_test_window(ref('stg_sap__stock')) }}
    union all
    select distinct 'sap', material_number, 'stg_sap__goods_movements'
    from {{ in_test_window(ref('stg_sap__goods_movements')) }}
    union all
    select distinct 'sap', material_number, 'stg_sap__purchase_orders'
    from {{ ref('stg_sap__purchase_orders') }}
    union all
    select distinct 'sap', material_number, 'stg_sap__routings'
    from {{ ref('stg_sap__routings') }}
    union all
    select distinct 'sap', material_number, 'stg_sap__production_orders'
    from {{ ref('stg_sap__production_orders') }}
    union all
    select distinct 'sap', material_number, 'stg_sap__planned_orders'
    from {{ ref('stg_sap__planned_orders') }}
    union all
    select distinct 'sap', material_number, 'stg_sap__stock_transport_orders'
    from {{ ref('stg_sap__stock_transport_orders') }}
    union all
    select distinct 'sap', material_number, 'stg_sap__bom'
    from {{ ref('stg_sap__bom') }}
    union all
    select distinct 'sap', component_material_number, 'stg_sap__bom'
    from {{ ref('stg_sap__bom') }}
    union all
    select distinct 'odoo', product_id::text, 'stg_odoo__stock_quants'
    from {{ in_test_window(ref('stg_odoo__stock_quants')) }}
    union all
    select distinct 'odoo', product_id::text, 'stg_odoo__stock_moves'
    from {{ in_test_window(ref('stg_odoo__stock_moves')) }}
    union all
    select distinct 'odoo', product_id::text, 'stg_odoo__workcenter_operations'
    from {{ ref('stg_odoo__workcenter_operations') }}
    union all
    select distinct 'odoo', product_id::text, 'stg_odoo__manufacturing_orders'
    from {{ ref('stg_odoo__manufacturing_orders') }}
    union all
    select distinct 'odoo', product_id::text, 'stg_odoo__boms'
    from {{ ref('stg_odoo__boms') }}
    union all
    select distinct 'odoo', product_id::text, 'stg_odoo__bom_lines'
    from {{ ref('stg_odoo__bom_lines') }}
)

select referenced.*
from referenced
left join external_ids
    on referenced.source_system = external_ids.source_system
    and referenced.external_id = external_ids.external_id
where external_ids.item_id is null
