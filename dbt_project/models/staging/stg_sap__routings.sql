-- SAP routing operations, times converted to minutes.
with

raw_rows as (
    select * from {{ source('raw', 'sap_routings') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['matnr', 'werks', 'plnnr', 'vornr']) }}
),

renamed as (
    select
        {{ clean_text('matnr') }} as material_number,
        {{ clean_text('werks') }} as plant,
        {{ clean_text('plnnr') }} as routing_group,
        {{ clean_text('vornr') }} as operation_number,
        -- VORNR '0010' -> 10: the operation's position in the routing.
        {{ safe_cast_int('vornr', validated=false) }} as sequence,
        {{ clean_text('arbpl') }} as work_center,
        {{ clean_text('ltxa1') }} as operation,
        -- VGE01 is the unit of both VGW01 and VGW02 (MIN or H).
        {{ to_minutes(safe_cast_numeric('vgw01'), 'vge01') }} as setup_minutes,
        {{ to_minutes(safe_cast_numeric('vgw02'), 'vge01') }} as run_minutes_per_unit,
        upper(trim(vge01)) as source_time_unit,
        _batch_id as batch_id
    from latest
)

select * from renamed
