-- SAP change documents of the material master (planning parameters history).
with

raw_rows as (
    select * from {{ source('raw', 'sap_master_audit') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['changenr', 'fname']) }}
),

renamed as (
    select
        {{ clean_text('changenr') }} as change_number,
        {{ clean_text('objectid') }} as material_number,
        {{ clean_text('werks') }} as plant,
        {{ safe_cast_date('udate', 'YYYYMMDD') }} as change_date,
        upper(trim(fname)) as field_name,
        {{ clean_text('value_old') }} as value_old,
        {{ clean_text('value_new') }} as value_new,
        {{ clean_text('username') }} as changed_by,
        _batch_id as batch_id
    from latest
)

select * from renamed
