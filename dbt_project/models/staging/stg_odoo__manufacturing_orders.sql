-- Odoo manufacturing orders (mrp.production).
with

raw_rows as (
    select * from {{ source('raw', 'odoo_manufacturing_orders') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['name']) }}
),

renamed as (
    select
        {{ clean_text('name') }} as manufacturing_order,
        {{ safe_cast_int('product_id') }} as product_id,
        {{ safe_cast_numeric('product_qty') }} as quantity,
        coalesce({{ safe_cast_numeric('qty_produced') }}, 0) as produced_quantity,
        -- Odoo stores UTC; a day is the UTC day, as for stock moves.
        {{ safe_cast_timestamp_utc('date_start') }} as start_at,
        {{ safe_cast_timestamp_utc('date_finished') }} as finish_at,
        lower(trim(state)) as state,
        {{ clean_text('location_dest_id') }} as destination_location,
        _batch_id as batch_id
    from latest
),

dated as (
    select
        manufacturing_order,
        product_id,
        quantity,
        produced_quantity,
        start_at,
        start_at::date as start_date,
        finish_at,
        finish_at::date as finish_date,
        state,
        destination_location,
        batch_id
    from renamed
)

select * from dated
