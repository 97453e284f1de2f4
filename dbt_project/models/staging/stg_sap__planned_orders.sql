-- SAP planned orders from MRP (PLAF): proposals, firm once the planner fixes them.
with

raw_rows as (
    select * from {{ source('raw', 'sap_planned_orders') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['plnum']) }}
),

renamed as (
    select
        {{ clean_text('plnum') }} as planned_order,
        {{ clean_text('matnr') }} as material_number,
        {{ clean_text('plwrk') }} as plant,
        {{ safe_cast_numeric('gsmng') }} as quantity,
        {{ safe_cast_date('psttr', 'YYYYMMDD') }} as start_date,
        {{ safe_cast_date('pedtr', 'YYYYMMDD') }} as finish_date,
        -- AUFFX = 'X': firmed, MRP no longer reschedules or deletes it.
        coalesce(upper(trim(auffx)) = 'X', false) as is_firmed,
        {{ normalize_uom('meins') }} as uom,
        _batch_id as batch_id
    from latest
)

select * from renamed
