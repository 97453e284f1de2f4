-- SAP goods movements (material document lines).
with

raw_rows as (
    select * from {{ source('raw', 'sap_goods_movements') }}
),

loaded_batches as (
    select id as batch_id from {{ source('raw', 'raw_data_batches') }} where status = 'loaded'
),

latest as (
    {{ latest_loaded_rows('raw_rows', 'loaded_batches', ['mblnr', 'zeile']) }}
),

renamed as (
    select
        {{ clean_text('mblnr') }} as material_document,
        {{ safe_cast_int('zeile') }} as document_line,
        {{ clean_text('bwart') }} as movement_type,
        {{ clean_text('matnr') }} as material_number,
        {{ clean_text('werks') }} as plant,
        {{ clean_text('lgort') }} as storage_location,
        {{ safe_cast_date('budat', 'YYYYMMDD') }} as posting_date,
        {{ safe_cast_numeric('menge') }} as quantity,
        {{ normalize_uom('meins') }} as uom,
        -- SHKZG: S = debit (receipt into stock), H = credit (issue out of stock).
        upper(trim(shkzg)) as debit_credit,
        _batch_id as batch_id
    from latest
)

select * from renamed
