-- Odoo stock moves: done moves are history, assigned moves are expected receipts.
with

raw_rows as (
    select * from {{ source('raw', 'odoo_stock_moves') }}
),

loaded_batches as (
    select id as batch_id from {{ source('raw', 'raw_data_batches') }} where status = 'loaded'
),

latest as (
    {{ latest_loaded_rows('raw_rows', 'loaded_batches', ['id']) }}
),

renamed as (
    select
        {{ safe_cast_int('id') }} as move_id,
        {{ safe_cast_int('product_id') }} as product_id,
        -- Odoo stores UTC; the date of a move is its UTC date.
        {{ safe_cast_timestamp_utc('date') }} as moved_at,
        ({{ safe_cast_timestamp_utc('date') }})::date as move_date,
        {{ safe_cast_numeric('product_uom_qty') }} as quantity,
        {{ clean_text('location_id') }} as source_location,
        {{ clean_text('location_dest_id') }} as destination_location,
        lower(trim(state)) as state,
        {{ clean_text('reference') }} as reference,
        _batch_id as batch_id
    from latest
)

select * from renamed
