-- Every (source_system, external_id) resolves to exactly one item, and that item
-- exists. Returns the offending external ids. Blocking: stock or demand booked on
-- the wrong item makes every forecast of both items wrong.
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'item_external_ids'}}}) }}

with

external_ids as (
    select * from {{ ref('item_external_ids') }}
),

items as (
    select * from {{ ref('manufacturing_items') }}
),

resolved as (
    select
        external_ids.source_system,
        external_ids.external_id,
        count(distinct external_ids.item_id) as n_items,
        count(items.item_id) as n_known_items,
        count(*) as n_rows
    from external_ids
    left join items
        on external_ids.item_id = items.item_id
    group by external_ids.source_system, external_ids.external_id
)

select *
from resolved
where n_items <> 1 or n_known_items <> n_rows
