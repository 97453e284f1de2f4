-- Maps every id a source system uses for an item to the unified item_id. The
-- other unified models resolve their source rows through this table.
with

item_records as (
    select * from {{ ref('int_item_source_records') }}
),

valuations as (
    select * from {{ ref('stg_acct__item_valuation') }}
),

items as (
    select * from {{ ref('manufacturing_items') }}
),

-- SAP rows are per plant: one id per material number.
erp_ids as (
    select distinct
        source_system,
        external_id,
        sku
    from item_records
),

-- Accounting refers to items by SKU directly.
accounting_ids as (
    select distinct
        'acct' as source_system,
        sku as external_id,
        sku
    from valuations
    where sku is not null
),

all_ids as (
    select * from erp_ids
    union all
    select * from accounting_ids
),

-- Inner join: accounting refs for SKUs no ERP exports are not items.
final as (
    select
        all_ids.source_system,
        all_ids.external_id,
        items.item_id,
        items.sku
    from all_ids
    inner join items
        on all_ids.sku = items.sku
)

select * from final
