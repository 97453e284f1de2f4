-- Odoo bill of materials lines (mrp.bom.line): component quantities per BOM.
with

raw_rows as (
    select * from {{ source('raw', 'odoo_bom_lines') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['id']) }}
),

renamed as (
    select
        {{ safe_cast_int('id') }} as bom_line_id,
        {{ safe_cast_int('bom_id') }} as bom_id,
        {{ safe_cast_int('product_id') }} as product_id,
        {{ safe_cast_numeric('product_qty') }} as quantity,
        {{ normalize_uom('product_uom_id') }} as uom,
        _batch_id as batch_id
    from latest
)

select * from renamed
