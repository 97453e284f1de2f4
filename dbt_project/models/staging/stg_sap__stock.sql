-- SAP daily stock per plant and storage location.
with

raw_rows as (
    select * from {{ source('raw', 'sap_stock') }}
),

loaded_batches as (
    select id as batch_id from {{ source('raw', 'raw_data_batches') }} where status = 'loaded'
),

latest as (
    {{ latest_loaded_rows('raw_rows', 'loaded_batches', ['stichtag', 'matnr', 'werks', 'lgort']) }}
),

renamed as (
    select
        {{ safe_cast_date('stichtag', 'YYYYMMDD') }} as snapshot_date,
        {{ clean_text('matnr') }} as material_number,
        {{ clean_text('werks') }} as plant,
        {{ clean_text('lgort') }} as storage_location,
        -- Unrestricted-use stock is what planning can consume; blocked is kept apart.
        {{ safe_cast_numeric('labst') }} as on_hand,
        coalesce({{ safe_cast_numeric('speme') }}, 0) as blocked,
        {{ normalize_uom('meins') }} as uom,
        _batch_id as batch_id
    from latest
)

select * from renamed
