-- Scheduled outflows that are not forecast: the issuing side of open SAP stock
-- transport orders, at the supplying plant (open_supply has the receiving side).
with

open_transfers as (
    select * from {{ ref('int_open_transfers') }}
),

final as (
    select
        {{ forgecast_uuid(
            "'forgecast:demand:sap:transfer:' || open_transfers.purchase_order"
            ~ " || ':' || open_transfers.purchase_order_item::text"
        ) }} as demand_id,
        open_transfers.item_id,
        open_transfers.supplying_location_id as location_id,
        open_transfers.delivery_date as required_date,
        open_transfers.open_quantity as quantity,
        'transfer' as demand_type,
        'sap' as source_system,
        open_transfers.reference,
        open_transfers.receiving_location_id
    from open_transfers
)

select * from final
