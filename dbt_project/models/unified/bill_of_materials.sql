-- Bills of materials of SAP and Odoo, one row per parent x component x location x
-- validity start: how many base units of the component ONE base unit of the parent
-- consumes, scrap included (int_bom_lines does the per-line arithmetic).
with

bom_lines as (
    select * from {{ ref('int_bom_lines') }}
),

-- A component listed on several positions of one BOM (e.g. the same screw at two
-- assembly steps) is one row: the quantities add up. scrap_pct is then the
-- quantity-weighted scrap of the positions.
final as (
    select
        {{ forgecast_uuid(
            "'forgecast:bom:' || source_system || ':' || parent_item_id::text"
            ~ " || ':' || component_item_id::text || ':' || location_id || ':' || valid_from::text"
        ) }} as bom_line_id,
        parent_item_id,
        component_item_id,
        location_id,
        valid_from,
        case when bool_or(valid_to is null) then null else max(valid_to) end as valid_to,
        sum(quantity_per) as quantity_per,
        case
            when sum(quantity_per_without_scrap) > 0
                then round(100 * (sum(quantity_per) / sum(quantity_per_without_scrap) - 1), 6)
            else max(scrap_pct)
        end as scrap_pct,
        component_uom,
        source_system,
        string_agg(reference, ', ' order by reference collate "C") as reference
    from bom_lines
    where left_out_reason is null
    group by source_system, parent_item_id, component_item_id, location_id, valid_from, component_uom
)

select * from final
