-- Odoo products (product.product with its orderpoint).
with

raw_rows as (
    select * from {{ source('raw', 'odoo_products') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['id']) }}
),

renamed as (
    select
        {{ safe_cast_int('id') }} as product_id,
        -- default_code (internal reference) carries the SKU shared with SAP and accounting.
        {{ clean_text('default_code') }} as sku,
        {{ clean_text('name') }} as name,
        {{ clean_text('categ_id') }} as category_path,
        -- 'All / Saleable / Components' -> 'Components': the leaf is the category.
        nullif(trim(regexp_replace(categ_id, '^.*/', '')), '') as category,
        {{ normalize_uom('uom_id') }} as uom,
        {{ clean_text('barcode') }} as ean,
        {{ safe_cast_bool('active') }} as is_active,
        {{ safe_cast_int('produce_delay') }} as lead_time_days,
        {{ safe_cast_numeric('safety_stock') }} as safety_stock,
        {{ safe_cast_numeric('reorder_point') }} as reorder_point,
        {{ clean_text('route_ids') }} as routes,
        -- 'Replenish on Order (MTO)' among the routes: produced or bought per order.
        coalesce(route_ids ~* '\mMTO\M', false) as is_make_to_order,
        _batch_id as batch_id
    from latest
)

select * from renamed
