-- Production that started: one row per SAP production order released (or further) and
-- Odoo manufacturing order in progress or done, dated by its scheduled start, when its
-- components are issued for the whole order quantity. Exploded through the BOMs it is
-- what the components' consumption by production should have been: the check of the BOMs
-- against the actual 261 / production moves. (Orders in progress count: their components
-- were issued before anything was received.)
with

production_orders as (
    select * from {{ ref('stg_sap__production_orders') }}
),

manufacturing_orders as (
    select * from {{ ref('stg_odoo__manufacturing_orders') }}
),

external_ids as (
    select * from {{ ref('item_external_ids') }}
),

sap_production as (
    select
        {{ forgecast_uuid("'forgecast:production:sap:' || production_orders.production_order") }}
            as production_id,
        external_ids.item_id,
        {{ location_id('sap', 'production_orders.plant') }} as location_id,
        production_orders.start_date,
        production_orders.finish_date,
        production_orders.planned_quantity as order_quantity,
        production_orders.delivered_quantity,
        'sap' as source_system,
        production_orders.production_order as reference
    from production_orders
    inner join external_ids
        on external_ids.source_system = 'sap'
        and external_ids.external_id = production_orders.material_number
    where production_orders.system_status ~ '\m(REL|PCNF|CNF|DLV|TECO|CLSD)\M'
        and production_orders.planned_quantity > 0
        and production_orders.start_date is not null
),

odoo_production as (
    select
        {{ forgecast_uuid("'forgecast:production:odoo:' || manufacturing_orders.manufacturing_order") }}
            as production_id,
        external_ids.item_id,
        {{ location_id('odoo', 'manufacturing_orders.destination_location') }} as location_id,
        manufacturing_orders.start_date,
        manufacturing_orders.finish_date,
        manufacturing_orders.quantity as order_quantity,
        manufacturing_orders.produced_quantity as delivered_quantity,
        'odoo' as source_system,
        manufacturing_orders.manufacturing_order as reference
    from manufacturing_orders
    inner join external_ids
        on external_ids.source_system = 'odoo'
        and external_ids.external_id = manufacturing_orders.product_id::text
    where manufacturing_orders.state in ('progress', 'to_close', 'done')
        and manufacturing_orders.quantity > 0
        and manufacturing_orders.start_date is not null
)

select * from sap_production
union all
select * from odoo_production
