-- Supply expected to arrive: open SAP purchase order lines and Odoo receipts
-- that are assigned but not done yet.
with

purchase_orders as (
    select * from {{ ref('stg_sap__purchase_orders') }}
),

odoo_moves as (
    select * from {{ ref('stg_odoo__stock_moves') }}
),

external_ids as (
    select * from {{ ref('item_external_ids') }}
),

-- Open quantity = ordered - received; fully received lines are history, not supply.
sap_purchase_orders as (
    select
        {{ forgecast_uuid(
            "'forgecast:supply:sap:' || purchase_orders.purchase_order"
            ~ " || ':' || purchase_orders.purchase_order_item::text"
        ) }} as supply_id,
        external_ids.item_id,
        {{ location_id('sap', 'purchase_orders.plant') }} as location_id,
        purchase_orders.delivery_date as expected_date,
        purchase_orders.ordered_quantity - purchase_orders.received_quantity as quantity,
        'purchase_order' as supply_type,
        'sap' as source_system,
        purchase_orders.purchase_order || '/' || purchase_orders.purchase_order_item::text as reference
    from purchase_orders
    inner join external_ids
        on external_ids.source_system = 'sap'
        and external_ids.external_id = purchase_orders.material_number
    where purchase_orders.ordered_quantity - purchase_orders.received_quantity > 0
),

-- Incoming = from a vendor or production (not internal) into an internal location.
-- Assigned outgoing moves (deliveries) are not supply.
odoo_receipts as (
    select
        {{ forgecast_uuid("'forgecast:supply:odoo:' || odoo_moves.move_id::text") }} as supply_id,
        external_ids.item_id,
        {{ location_id('odoo', 'odoo_moves.destination_location') }} as location_id,
        odoo_moves.move_date as expected_date,
        odoo_moves.quantity,
        'receipt' as supply_type,
        'odoo' as source_system,
        coalesce(odoo_moves.reference, 'move ' || odoo_moves.move_id::text) as reference
    from odoo_moves
    inner join external_ids
        on external_ids.source_system = 'odoo'
        and external_ids.external_id = odoo_moves.product_id::text
    where odoo_moves.state = 'assigned'
        and odoo_moves.quantity > 0
        and {{ odoo_is_internal_location('odoo_moves.destination_location') }}
        and not {{ odoo_is_internal_location('odoo_moves.source_location') }}
),

final as (
    select * from sap_purchase_orders
    union all
    select * from odoo_receipts
)

select * from final
