-- BOM lines of known items that bill_of_materials leaves out: a unit that does not
-- convert to the component's base unit (seeds/unit_conversions.csv: add the pair, or
-- fix the BOM), or a base quantity of 0. The rest of the BOM is used; explosion then
-- misses this component of the parent. Warn, naming the line.
-- depends_on: {{ ref('bill_of_materials') }}
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'bill_of_materials'}}}) }}

with

bom_lines as (
    select * from {{ ref('int_bom_lines') }}
),

items as (
    select * from {{ ref('manufacturing_items') }}
)

select
    bom_lines.source_system,
    bom_lines.location_id,
    bom_lines.reference,
    parents.sku as parent_sku,
    components.sku as component_sku,
    bom_lines.line_uom,
    bom_lines.component_uom,
    bom_lines.left_out_reason
from bom_lines
inner join items as parents
    on parents.item_id = bom_lines.parent_item_id
inner join items as components
    on components.item_id = bom_lines.component_item_id
where bom_lines.left_out_reason is not null
