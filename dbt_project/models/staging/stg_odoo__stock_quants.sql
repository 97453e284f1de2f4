{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['snapshot_date', 'product_id', 'location'],
        indexes=[{'columns': ['snapshot_date']}],
        pre_hook="{{ staging_pre_hook() }}",
        post_hook="{{ staging_post_hook() }}",
    )
}}
{%- set plan = staging_plan('odoo_stock_quants') %}
-- Odoo daily stock.quant snapshot per product and location.
-- A daily-volume export: staged batch by batch (macros/staged_batches.sql).
with

raw_rows as (
    select * from {{ source('raw', 'odoo_stock_quants') }}
    where true {{ staged_batch_filter(plan) }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['date', 'product_id', 'location_id']) }}
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

{{ keep_newer_staged_rows('renamed', ['snapshot_date', 'product_id', 'location'], plan) }}
