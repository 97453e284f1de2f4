-- Odoo daily stock.quant snapshot per product and location.
with

raw_rows as (
    select * from {{ source('raw', 'odoo_stock_quants') }}
),

loaded_batches as (
    select id as batch_id from {{ source('raw', 'raw_data_batches') }} where status = 'loaded'
),

latest as (
    {{ latest_loaded_rows('raw_rows', 'loaded_batches', ['date', 'product_id', 'location_id']) }}
),

renamed as (
    select
        {{ safe_cast_date('date', 'YYYY-MM-DD') }} as snapshot_date,
        {{ safe_cast_int('product_id') }} as product_id,
        -- Odoo exports the location's full name ('WH/Stock'), not its database id.
        {{ clean_text('location_id') }} as location,
        {{ safe_cast_numeric('quantity') }} as on_hand,
        coalesce({{ safe_cast_numeric('reserved_quantity') }}, 0) as reserved,
        _batch_id as batch_id
    from latest
)

select * from renamed
