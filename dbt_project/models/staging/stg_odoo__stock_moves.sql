{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['move_id'],
        indexes=[{'columns': ['move_date']}],
        pre_hook="{{ staging_pre_hook() }}",
        post_hook="{{ staging_post_hook() }}",
    )
}}
{%- set plan = staging_plan('odoo_stock_moves') %}
-- Odoo stock moves: done moves are history, assigned moves are expected receipts.
-- A daily-volume export: staged batch by batch (macros/staged_batches.sql).
with

raw_rows as (
    select * from {{ source('raw', 'odoo_stock_moves') }}
    where true {{ staged_batch_filter(plan) }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['id']) }}
),

renamed as (
    select
        {{ safe_cast_int('id') }} as move_id,
        {{ safe_cast_int('product_id') }} as product_id,
        -- Odoo stores UTC; the date of a move is its UTC date.
        {{ safe_cast_timestamp_utc('date') }} as moved_at,
        {{ safe_cast_numeric('product_uom_qty') }} as quantity,
        {{ clean_text('location_id') }} as source_location,
        {{ clean_text('location_dest_id') }} as destination_location,
        lower(trim(state)) as state,
        {{ clean_text('reference') }} as reference,
        _batch_id as batch_id
    from latest
),

dated as (
    select
        move_id,
        product_id,
        moved_at,
        moved_at::date as move_date,
        quantity,
        source_location,
        destination_location,
        state,
        reference,
        batch_id
    from renamed
)

{{ keep_newer_staged_rows('dated', ['move_id'], plan) }}
