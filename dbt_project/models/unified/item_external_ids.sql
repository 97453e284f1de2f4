-- Maps every id a source system uses for an item to the unified item_id. The
-- other unified models resolve their source rows through this table.
with

identity as (
    select * from {{ ref('int_item_identity') }}
),

items as (
    select * from {{ ref('manufacturing_items') }}
),

-- Only ids with exactly one SKU. Conflicts are left out and reported by the blocking
-- test assert_item_identity_has_no_conflicts; ids without any match are warned.
matched as (
    select * from identity
    where identity_status = 'matched'
),

-- Inner join: an id whose SKU no ERP exports (an accounting ref of an unknown SKU)
-- is not an item.
final as (
    select
        matched.source_system,
        matched.external_id,
        items.item_id,
        items.sku,
        matched.match_rule
    from matched
    inner join items
        on matched.sku = items.sku
)

select * from final
