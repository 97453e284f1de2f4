-- Open SAP stock transport orders (BSART UB): the goods leave the supplying plant
-- (RESWK) and arrive at the receiving plant (WERKS). open_supply takes the receipt,
-- open_demand the issue, so both sides count the same open quantity.
with

transport_orders as (
    select * from {{ ref('stg_sap__stock_transport_orders') }}
),

external_ids as (
    select * from {{ ref('item_external_ids') }}
),

final as (
    select
        transport_orders.purchase_order,
        transport_orders.purchase_order_item,
        transport_orders.purchase_order || '/' || transport_orders.purchase_order_item::text as reference,
        external_ids.item_id,
        {{ location_id('sap', 'transport_orders.plant') }} as receiving_location_id,
        {{ location_id('sap', 'transport_orders.supplying_plant') }} as supplying_location_id,
        -- EINDT is the receipt date; no transit time is exported, so the issue is
        -- planned on the same day.
        transport_orders.delivery_date,
        transport_orders.ordered_quantity - transport_orders.received_quantity as open_quantity
    from transport_orders
    inner join external_ids
        on external_ids.source_system = 'sap'
        and external_ids.external_id = transport_orders.material_number
    where transport_orders.document_type = 'UB'
        and transport_orders.delivery_date is not null
        and transport_orders.ordered_quantity - transport_orders.received_quantity > 0
)

select * from final
