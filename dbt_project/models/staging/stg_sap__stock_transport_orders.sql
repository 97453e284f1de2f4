-- SAP stock transport orders between plants (EKKO/EKPO with BSART UB).
with

raw_rows as (
    select * from {{ source('raw', 'sap_stock_transport_orders') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['ebeln', 'ebelp']) }}
),

renamed as (
    select
        {{ clean_text('ebeln') }} as purchase_order,
        {{ safe_cast_int('ebelp') }} as purchase_order_item,
        upper(trim(bsart)) as document_type,
        {{ clean_text('matnr') }} as material_number,
        {{ clean_text('werks') }} as plant,
        {{ clean_text('reswk') }} as supplying_plant,
        {{ safe_cast_date('eindt', 'YYYYMMDD') }} as delivery_date,
        {{ safe_cast_numeric('menge') }} as ordered_quantity,
        coalesce({{ safe_cast_numeric('wemng') }}, 0) as received_quantity,
        {{ normalize_uom('meins') }} as uom,
        _batch_id as batch_id
    from latest
)

select * from renamed
