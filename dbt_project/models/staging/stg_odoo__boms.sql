-- Odoo bills of materials (mrp.bom): the header, the lines are stg_odoo__bom_lines.
with

raw_rows as (
    select * from {{ source('raw', 'odoo_boms') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['id']) }}
),

renamed as (
    select
        {{ safe_cast_int('id') }} as bom_id,
        {{ safe_cast_int('product_id') }} as product_id,
        {{ safe_cast_numeric('product_qty') }} as quantity,
        lower(trim(type)) as bom_type,
        -- Exports without the field list active BOMs only.
        coalesce({{ safe_cast_bool('active') }}, true) as is_active,
        _batch_id as batch_id
    from latest
)

select * from renamed
