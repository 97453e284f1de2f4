-- Odoo routing operations (mrp.routing.workcenter); times are already minutes.
with

raw_rows as (
    select * from {{ source('raw', 'odoo_workcenter_operations') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['id']) }}
),

renamed as (
    select
        {{ safe_cast_int('id') }} as operation_id,
        {{ safe_cast_int('product_id') }} as product_id,
        {{ clean_text('workcenter') }} as work_center,
        {{ clean_text('name') }} as operation,
        {{ safe_cast_int('sequence') }} as sequence,
        -- setup_time is optional in the export; absent means no setup.
        coalesce({{ safe_cast_numeric('setup_time') }}, 0) as setup_minutes,
        {{ safe_cast_numeric('time_cycle_manual') }} as run_minutes_per_unit,
        _batch_id as batch_id
    from latest
)

select * from renamed
