-- A table, not a view like the other master-data staging models: every valuation of
-- every item (~23 per item at 10,000 items), deduplicated once per build instead of in
-- each model that reads it (item identity, manufacturing_items).
{{ config(materialized='table', post_hook='analyze {{ this }}') }}
-- Accounting standard cost per SKU and valuation date.
with

raw_rows as (
    select * from {{ source('raw', 'acct_item_valuation') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['item_ref', 'valuation_date']) }}
),

renamed as (
    select
        -- item_ref is the SKU.
        {{ clean_text('item_ref') }} as sku,
        {{ safe_cast_date('valuation_date', 'YYYY-MM-DD') }} as valuation_date,
        {{ safe_cast_numeric('standard_cost') }} as standard_cost,
        upper(trim(currency)) as currency,
        {{ clean_text('valuation_class') }} as valuation_class,
        _batch_id as batch_id
    from latest
)

select * from renamed
