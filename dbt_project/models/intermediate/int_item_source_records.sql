-- One row per item record in an ERP (SAP material x plant, Odoo product), with the
-- SKU that identifies the item across systems (int_item_identity). Shared by
-- manufacturing_items (the item attributes) and item_external_ids (the id mapping) so
-- both agree on which record belongs to which SKU.
with

sap_materials as (
    select * from {{ ref('stg_sap__material_master') }}
),

odoo_products as (
    select * from {{ ref('stg_odoo__products') }}
),

-- Which SKU each record belongs to (matching rules and the crossref seed). Records
-- whose identity is a conflict or unmatched are left out: they are reported by tests
-- (assert_item_identity_has_no_conflicts blocks, assert_erp_records_map_to_items
-- warns), never attached to a guessed item.
identity as (
    select * from {{ ref('int_item_identity') }}
    where identity_status = 'matched'
),

sap_records as (
    select
        'sap' as source_system,
        sap_materials.material_number as external_id,
        identity.sku,
        sap_materials.plant,
        sap_materials.name,
        sap_materials.category,
        sap_materials.uom,
        sap_materials.lead_time_days,
        sap_materials.safety_stock,
        sap_materials.reorder_point,
        not sap_materials.is_deletion_flagged as is_active,
        sap_materials.is_make_to_order
    from sap_materials
    inner join identity
        on identity.source_system = 'sap'
        and identity.external_id = sap_materials.material_number
),

odoo_records as (
    select
        'odoo' as source_system,
        odoo_products.product_id::text as external_id,
        identity.sku,
        null::text as plant,
        odoo_products.name,
        odoo_products.category,
        odoo_products.uom,
        odoo_products.lead_time_days,
        odoo_products.safety_stock,
        odoo_products.reorder_point,
        coalesce(odoo_products.is_active, true) as is_active,
        odoo_products.is_make_to_order
    from odoo_products
    inner join identity
        on identity.source_system = 'odoo'
        and identity.external_id = odoo_products.product_id::text
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
                plant collate "C" nulls last,
                length(external_id),
                external_id collate "C"  -- byte order: whatever the database's collation
        ) as attribute_rank
    from unioned
)

select * from ranked
