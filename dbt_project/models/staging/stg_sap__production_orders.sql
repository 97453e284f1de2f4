-- SAP production orders (AFKO/AFPO): one row per order.
with

raw_rows as (
    select * from {{ source('raw', 'sap_production_orders') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['aufnr']) }}
),

renamed as (
    select
        {{ clean_text('aufnr') }} as production_order,
        {{ clean_text('matnr') }} as material_number,
        {{ clean_text('werks') }} as plant,
        {{ clean_text('lgort') }} as storage_location,
        {{ safe_cast_numeric('psmng') }} as planned_quantity,
        coalesce({{ safe_cast_numeric('wemng') }}, 0) as delivered_quantity,
        {{ safe_cast_date('gstrs', 'YYYYMMDD') }} as start_date,
        {{ safe_cast_date('gltrs', 'YYYYMMDD') }} as finish_date,
        upper(trim(sttxt)) as system_status,
        -- STTXT lists every active status ('REL PCNF'). Technically completed, delivered
        -- or closed: nothing more will be received (whole words: PDLV, partially
        -- delivered, is still open).
        coalesce(upper(sttxt) ~ '\m(TECO|DLV|CLSD)\M', false) as is_closed,
        {{ normalize_uom('meins') }} as uom,
        _batch_id as batch_id
    from latest
)

select * from renamed
