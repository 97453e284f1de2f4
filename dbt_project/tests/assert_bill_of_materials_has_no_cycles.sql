-- No item needs itself through its BOMs (A needs B needs ... needs A) at a location:
-- exploding demand through a cycle never ends, and a cycle is a master data error.
-- Blocking. One row per cycle (its strongly connected items) naming the SKUs, which
-- the build also logs, so the dbt output says which items to fix. BOM rows that
-- expired before today cannot explode anything and are not followed.
{{ config(meta={'dagster': {'ref': {'name': 'bill_of_materials'}}}) }}

{%- set cycles_sql -%}
with recursive

edges as (
    select distinct parent_item_id, component_item_id, location_id
    from {{ ref('bill_of_materials') }}
    where valid_to is null or valid_to >= current_date
),

-- Every (from, to) pair such that `from` needs `to` through one or more BOM levels.
-- UNION (not UNION ALL) keeps each pair once, so the recursion ends on a cycle too.
reaches (location_id, from_item_id, to_item_id) as (
    select location_id, parent_item_id, component_item_id
    from edges
    union
    select reaches.location_id, reaches.from_item_id, edges.component_item_id
    from reaches
    inner join edges
        on edges.parent_item_id = reaches.to_item_id
        and edges.location_id = reaches.location_id
),

-- An item on a cycle reaches itself; its cycle is every item it reaches that reaches
-- it back.
members as (
    select
        on_cycle.location_id,
        on_cycle.from_item_id as item_id,
        array_agg(items.sku order by items.sku collate "C") as skus
    from reaches as on_cycle
    inner join reaches as outward
        on outward.location_id = on_cycle.location_id
        and outward.from_item_id = on_cycle.from_item_id
    inner join reaches as back
        on back.location_id = outward.location_id
        and back.from_item_id = outward.to_item_id
        and back.to_item_id = outward.from_item_id
    inner join {{ ref('manufacturing_items') }} as items
        on items.item_id = outward.to_item_id
    where on_cycle.from_item_id = on_cycle.to_item_id
    group by on_cycle.location_id, on_cycle.from_item_id
)

select distinct
    location_id,
    array_to_string(skus, ', ') as skus_in_cycle
from members
{%- endset -%}

{%- if execute and flags.WHICH in ('build', 'test') %}
    {%- for row in run_query(cycles_sql) %}
        {{- log('BOM cycle at ' ~ row[0] ~ ': ' ~ row[1], info=True) }}
    {%- endfor %}
{%- endif %}

{{ cycles_sql }}
