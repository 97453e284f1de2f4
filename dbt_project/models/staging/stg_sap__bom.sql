-- SAP bills of material (STKO/STPO): one row per BOM item and validity start.
with

raw_rows as (
    select * from {{ source('raw', 'sap_bom') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['matnr', 'werks', 'stlan', 'stlal', 'posnr', 'datuv']) }}
),

renamed as (
    select
        {{ clean_text('matnr') }} as material_number,
        {{ clean_text('werks') }} as plant,
        {{ clean_text('stlan') }} as bom_usage,
        {{ clean_text('stlal') }} as bom_alternative,
        {{ clean_text('posnr') }} as item_number,
        {{ clean_text('idnrk') }} as component_material_number,
        {{ safe_cast_numeric('menge') }} as component_quantity,
        {{ safe_cast_numeric('bmeng') }} as base_quantity,
        {{ normalize_uom('meins') }} as uom,
        coalesce({{ safe_cast_numeric('ausch') }}, 0) as scrap_pct,
        {{ safe_cast_date('datuv', 'YYYYMMDD') }} as valid_from,
        -- SAP writes 99991231 for a validity without end.
        nullif({{ safe_cast_date('datub', 'YYYYMMDD') }}, date '9999-12-31') as valid_to,
        _batch_id as batch_id
    from latest
)

select * from renamed
