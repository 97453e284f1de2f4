-- SAP material master, one row per material and plant, in unified vocabulary.
with

raw_rows as (
    select * from {{ source('raw', 'sap_material_master') }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['matnr', 'werks']) }}
),

renamed as (
    select
        {{ clean_text('matnr') }} as material_number,
        {{ clean_text('werks') }} as plant,
        -- BISMT (old material number) carries the SKU shared with Odoo and accounting.
        {{ clean_text('bismt') }} as sku,
        {{ clean_text('maktx') }} as name,
        {{ clean_text('matkl') }} as category,
        {{ normalize_uom('meins') }} as uom,
        {{ clean_text('ean11') }} as ean,
        {{ safe_cast_int('plifz') }} as lead_time_days,
        {{ safe_cast_numeric('eisbe') }} as safety_stock,
        {{ safe_cast_numeric('minbe') }} as reorder_point,
        -- LVORM = 'X': flagged for deletion at this plant.
        coalesce(upper(trim(lvorm)) = 'X', false) as is_deletion_flagged,
        -- STRGR planning strategy group: 20 = make-to-order (40 = to stock, the default).
        {{ clean_text('strgr') }} as strategy_group,
        coalesce(trim(strgr) = '20', false) as is_make_to_order,
        _batch_id as batch_id
    from latest
)

select * from renamed
