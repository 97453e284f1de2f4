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
