-- Supply expected to arrive, one row per open order line: purchase orders, production
-- orders, planned orders and stock transport orders of SAP; manufacturing orders and
-- assigned incoming moves of Odoo. quantity is always the OPEN quantity (> 0).
with

purchase_orders as (
    select * from {{ ref('stg_sap__purchase_orders') }}
),

transport_order_lines as (
    select * from {{ ref('stg_sap__stock_transport_orders') }}
),

production_orders as (
    select * from {{ ref('stg_sap__production_orders') }}
),

planned_orders as (
    select * from {{ ref('stg_sap__planned_orders') }}
),

open_transfers as (
    select * from {{ ref('int_open_transfers') }}
),

manufacturing_orders as (
    select * from {{ ref('stg_odoo__manufacturing_orders') }}
),

odoo_moves as (
    select * from {{ ref('stg_odoo__stock_moves') }}
),

external_ids as (
    select * from {{ ref('item_external_ids') }}
),

-- Open quantity = ordered - received; fully received lines are history, not supply.
-- A line the stock transport order export also has is a transfer, not a purchase
-- (an export of every EKPO line would otherwise count it twice).
sap_purchase_orders as (
    select
        {{ forgecast_uuid(
            "'forgecast:supply:sap:' || purchase_orders.purchase_order"
            ~ " || ':' || purchase_orders.purchase_order_item::text"
        ) }} as supply_id,
        external_ids.item_id,
        {{ location_id('sap', 'purchase_orders.plant') }} as location_id,
        purchase_orders.delivery_date as expected_date,
        null::date as start_date,
        purchase_orders.ordered_quantity - purchase_orders.received_quantity as quantity,
        'purchase' as supply_type,
        true as is_firm,
        'sap' as source_system,
        purchase_orders.purchase_order || '/' || purchase_orders.purchase_order_item::text as reference,
        null::text as supplying_location_id
    from purchase_orders
    inner join external_ids
        on external_ids.source_system = 'sap'
        and external_ids.external_id = purchase_orders.material_number
    where purchase_orders.ordered_quantity - purchase_orders.received_quantity > 0
        and not exists (
            select from transport_order_lines
            where transport_order_lines.document_type = 'UB'
                and transport_order_lines.purchase_order = purchase_orders.purchase_order
                and transport_order_lines.purchase_order_item = purchase_orders.purchase_order_item
        )
),

-- Production orders until technically completed, delivered or closed (TECO, DLV,
-- CLSD); created (CRTD) and released ones are firm. Open = planned - delivered. An
-- order past its finish date still counts: it is late, not gone.
sap_production_orders as (
    select
        {{ forgecast_uuid("'forgecast:supply:sap:production:' || production_orders.production_order") }}
            as supply_id,
        external_ids.item_id,
        {{ location_id('sap', 'production_orders.plant') }} as location_id,
        production_orders.finish_date as expected_date,
        production_orders.start_date,
        production_orders.planned_quantity - production_orders.delivered_quantity as quantity,
        'production' as supply_type,
        true as is_firm,
        'sap' as source_system,
        production_orders.production_order as reference,
        null::text as supplying_location_id
    from production_orders
    inner join external_ids
        on external_ids.source_system = 'sap'
        and external_ids.external_id = production_orders.material_number
    where not production_orders.is_closed
        and production_orders.finish_date is not null
        and production_orders.planned_quantity - production_orders.delivered_quantity > 0
),

-- MRP's planned orders: firm only when the planner firmed them (AUFFX).
sap_planned_orders as (
    select
        {{ forgecast_uuid("'forgecast:supply:sap:planned:' || planned_orders.planned_order") }}
            as supply_id,
        external_ids.item_id,
        {{ location_id('sap', 'planned_orders.plant') }} as location_id,
        planned_orders.finish_date as expected_date,
        planned_orders.start_date,
        planned_orders.quantity,
        'planned' as supply_type,
        planned_orders.is_firmed as is_firm,
        'sap' as source_system,
        planned_orders.planned_order as reference,
        null::text as supplying_location_id
    from planned_orders
    inner join external_ids
        on external_ids.source_system = 'sap'
        and external_ids.external_id = planned_orders.material_number
    where planned_orders.finish_date is not null
        and planned_orders.quantity > 0
),

-- The receiving side of stock transport orders (open_demand has the issuing side).
sap_transfers as (
    select
        {{ forgecast_uuid(
            "'forgecast:supply:sap:transfer:' || open_transfers.purchase_order"
            ~ " || ':' || open_transfers.purchase_order_item::text"
        ) }} as supply_id,
        open_transfers.item_id,
        open_transfers.receiving_location_id as location_id,
        open_transfers.delivery_date as expected_date,
        null::date as start_date,
        open_transfers.open_quantity as quantity,
        'transfer' as supply_type,
        true as is_firm,
        'sap' as source_system,
        open_transfers.reference,
        open_transfers.supplying_location_id
    from open_transfers
),

-- Confirmed, in progress or to close: firm; draft: planned, not firm; done and
-- cancelled orders supply nothing more. Open = to produce - produced.
odoo_manufacturing_orders as (
    select
        {{ forgecast_uuid("'forgecast:supply:odoo:production:' || manufacturing_orders.manufacturing_order") }}
            as supply_id,
        external_ids.item_id,
        {{ location_id('odoo', 'manufacturing_orders.destination_location') }} as location_id,
        manufacturing_orders.finish_date as expected_date,
        manufacturing_orders.start_date,
        manufacturing_orders.quantity - manufacturing_orders.produced_quantity as quantity,
        case when manufacturing_orders.state = 'draft' then 'planned' else 'production' end
            as supply_type,
        manufacturing_orders.state <> 'draft' as is_firm,
        'odoo' as source_system,
        manufacturing_orders.manufacturing_order as reference,
        null::text as supplying_location_id
    from manufacturing_orders
    inner join external_ids
        on external_ids.source_system = 'odoo'
        and external_ids.external_id = manufacturing_orders.product_id::text
    where manufacturing_orders.state in ('draft', 'confirmed', 'progress', 'to_close')
        and manufacturing_orders.finish_date is not null
        and manufacturing_orders.quantity - manufacturing_orders.produced_quantity > 0
),

-- Incoming = from outside the warehouse (vendors, production) into an internal
-- location. A receipt from production belongs to its manufacturing order when the
-- export has one (move.reference = the order's name): the order is the supply, never
-- counted twice; without one the move stands for it. Everything else is a purchase.
odoo_receipts as (
    select
        {{ forgecast_uuid("'forgecast:supply:odoo:' || odoo_moves.move_id::text") }} as supply_id,
        external_ids.item_id,
        {{ location_id('odoo', 'odoo_moves.destination_location') }} as location_id,
        odoo_moves.move_date as expected_date,
        null::date as start_date,
        odoo_moves.quantity,
        case
            when {{ odoo_is_production_location('odoo_moves.source_location') }} then 'production'
            else 'purchase'
        end as supply_type,
        true as is_firm,
        'odoo' as source_system,
        coalesce(odoo_moves.reference, 'move ' || odoo_moves.move_id::text) as reference,
        null::text as supplying_location_id
    from odoo_moves
    inner join external_ids
        on external_ids.source_system = 'odoo'
        and external_ids.external_id = odoo_moves.product_id::text
    where odoo_moves.state = 'assigned'
        and odoo_moves.quantity > 0
        and odoo_moves.move_date is not null
        and {{ odoo_is_internal_location('odoo_moves.destination_location') }}
        and not {{ odoo_is_internal_location('odoo_moves.source_location') }}
        and not (
            {{ odoo_is_production_location('odoo_moves.source_location') }}
            and exists (
                select from manufacturing_orders
                where manufacturing_orders.manufacturing_order = odoo_moves.reference
            )
        )
),

final as (
    select * from sap_purchase_orders
    union all
    select * from sap_production_orders
    union all
    select * from sap_planned_orders
    union all
    select * from sap_transfers
    union all
    select * from odoo_manufacturing_orders
    union all
    select * from odoo_receipts
)

select * from final
