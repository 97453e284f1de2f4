-- One row per item record in an ERP (SAP material x plant, Odoo product), with the
-- SKU that identifies the item across systems. Shared by manufacturing_items (the
-- item attributes) and item_external_ids (the id mapping) so both agree on which
-- record belongs to which SKU.
with

sap_materials as (
    select * from {{ ref('stg_sap__material_master') }}
),

odoo_products as (
    select * from {{ ref('stg_odoo__products') }}
),

-- BISMT belongs to the client-level material but the export repeats it per plant;
-- take it from the lowest plant that has one, so a material has exactly one SKU.
-- Materials without any BISMT have no identity across systems and are left out
-- (warned by the test assert_sap_materials_have_sku).
sap_material_skus as (
    select distinct on (material_number)
        material_number,
        sku
    from sap_materials
    where sku is not null
    order by material_number, plant
),

sap_records as (
    select
        'sap' as source_system,
        sap_materials.material_number as external_id,
        sap_material_skus.sku,
        sap_materials.plant,
        sap_materials.name,
        sap_materials.category,
        sap_materials.uom,
        sap_materials.lead_time_days,
        sap_materials.safety_stock,
        sap_materials.reorder_point,
        not sap_materials.is_deletion_flagged as is_active
    from sap_materials
    inner join sap_material_skus
        on sap_materials.material_number = sap_material_skus.material_number
),

odoo_records as (
    select
        'odoo' as source_system,
        product_id::text as external_id,
        sku,
        null::text as plant,
        name,
        category,
        uom,
        lead_time_days,
        safety_stock,
        reorder_point,
        coalesce(is_active, true) as is_active
    from odoo_products
    where sku is not null
),

unioned as (
    select * from sap_records
    union all
    select * from odoo_records
),

ranked as (
    select
        *,
        -- Which record supplies the item-level attributes: SAP (the planning ERP)
        -- before Odoo; within SAP the lowest plant; then the lowest external id.
        row_number() over (
            partition by sku
            order by
                case source_system when 'sap' then 0 else 1 end,
                plant nulls last,
                length(external_id),
                external_id
        ) as attribute_rank
    from unioned
)

select * from ranked
