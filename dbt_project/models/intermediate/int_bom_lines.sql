-- Every BOM line unified reads, one row per exported line, with its quantity per ONE
-- parent base unit in the component's base unit (scrap applied), or why it cannot be
-- used (left_out_reason). bill_of_materials sums the usable lines; the warn test
-- assert_bom_lines_left_out lists the others.
with

sap_bom as (
    select * from {{ ref('stg_sap__bom') }}
),

odoo_boms as (
    select * from {{ ref('stg_odoo__boms') }}
),

odoo_bom_lines as (
    select * from {{ ref('stg_odoo__bom_lines') }}
),

external_ids as (
    select * from {{ ref('item_external_ids') }}
),

items as (
    select * from {{ ref('manufacturing_items') }}
),

conversions as (
    select * from {{ ref('unit_conversions') }}
),

-- Production BOMs (usage 1), the alternative MRP explodes (01). MENGE is per BMENG
-- units of the parent. Lines of unknown materials are left out (and warned by
-- assert_source_rows_map_to_items).
sap_lines as (
    select
        'sap' as source_system,
        parents.item_id as parent_item_id,
        components.item_id as component_item_id,
        {{ location_id('sap', 'sap_bom.plant') }} as location_id,
        sap_bom.valid_from,
        sap_bom.valid_to,
        sap_bom.component_quantity / nullif(sap_bom.base_quantity, 0) as quantity_per_parent,
        sap_bom.scrap_pct,
        sap_bom.uom as line_uom,
        sap_bom.material_number || '/' || sap_bom.item_number as reference
    from sap_bom
    inner join external_ids as parents
        on parents.source_system = 'sap'
        and parents.external_id = sap_bom.material_number
    inner join external_ids as components
        on components.source_system = 'sap'
        and components.external_id = sap_bom.component_material_number
    where ltrim(sap_bom.bom_usage, '0') = '1'
        and ltrim(sap_bom.bom_alternative, '0') = '1'
        and sap_bom.valid_from is not null
),

-- The BOM Odoo manufactures with: active, type normal (a phantom kit is exploded into
-- its parent's order, subcontracting is bought), the lowest id when a product has
-- several (Odoo takes the first by sequence, which is not exported).
odoo_production_boms as (
    select distinct on (product_id) *
    from odoo_boms
    where is_active and bom_type = 'normal'
    order by product_id, bom_id
),

-- Odoo BOMs are not per warehouse: they apply at the stock location, where demand
-- history and stock of Odoo items are.
odoo_lines as (
    select
        'odoo' as source_system,
        parents.item_id as parent_item_id,
        components.item_id as component_item_id,
        {{ location_id('odoo', "'WH/Stock'") }} as location_id,
        date '1900-01-01' as valid_from,
        null::date as valid_to,
        odoo_bom_lines.quantity / nullif(odoo_production_boms.quantity, 0) as quantity_per_parent,
        0::numeric as scrap_pct,
        odoo_bom_lines.uom as line_uom,
        odoo_production_boms.bom_id::text || '/' || odoo_bom_lines.bom_line_id::text as reference
    from odoo_bom_lines
    inner join odoo_production_boms
        on odoo_production_boms.bom_id = odoo_bom_lines.bom_id
    inner join external_ids as parents
        on parents.source_system = 'odoo'
        and parents.external_id = odoo_production_boms.product_id::text
    inner join external_ids as components
        on components.source_system = 'odoo'
        and components.external_id = odoo_bom_lines.product_id::text
),

lines as (
    select * from sap_lines
    union all
    select * from odoo_lines
),

-- The line's unit -> the component's base unit: 1 when equal, else the seed's factor.
converted as (
    select
        lines.*,
        items.uom as component_uom,
        case
            when lines.line_uom = items.uom then 1::numeric
            else conversions.factor
        end as factor
    from lines
    inner join items
        on items.item_id = lines.component_item_id
    left join conversions
        on conversions.from_uom = lines.line_uom
        and conversions.to_uom = items.uom
),

final as (
    select
        source_system,
        parent_item_id,
        component_item_id,
        location_id,
        valid_from,
        valid_to,
        quantity_per_parent * factor as quantity_per_without_scrap,
        quantity_per_parent * factor * (1 + scrap_pct / 100) as quantity_per,
        scrap_pct,
        line_uom,
        component_uom,
        reference,
        case
            when quantity_per_parent is null then 'base quantity is 0'
            when factor is null then
                'unit ' || coalesce(line_uom, '(none)') || ' does not convert to the component''s base unit '
                || coalesce(component_uom, '(none)')
        end as left_out_reason
    from converted
)

select * from final
