-- Which unified item (SKU) each id of each source system belongs to, and why.
--
-- Candidates come from matching rules:
--   sku      the record's own SKU field: SAP BISMT (per plant), Odoo default_code,
--            the accounting item_ref;
--   ean      an SAP material and an Odoo product with the same EAN/barcode share the
--            SKU the other side has: this is how an SAP material without BISMT finds
--            its item, and how a BISMT and a barcode that point at different SKUs are
--            caught;
-- and from the hand-maintained seed item_crossref, which overrides every rule.
--
-- An id whose rules propose two or more SKUs (without a crossref entry), or whose
-- crossref entries disagree, is a conflict: it maps to no item here (nothing is
-- guessed) and the blocking test assert_item_identity_has_no_conflicts lists it. An id
-- without any candidate is unmatched (warned by assert_erp_records_map_to_items).
with

sap_materials as (
    select * from {{ ref('stg_sap__material_master') }}
),

odoo_products as (
    select * from {{ ref('stg_odoo__products') }}
),

valuations as (
    select * from {{ ref('stg_acct__item_valuation') }}
),

crossref as (
    select * from {{ ref('item_crossref') }}
),

-- Every id a source exports for an item.
records as (
    select distinct 'sap' as source_system, material_number as external_id
    from sap_materials
    where material_number is not null
    union
    select distinct 'odoo', product_id::text
    from odoo_products
    where product_id is not null
    union
    select distinct 'acct', sku
    from valuations
    where sku is not null
),

-- Rule sku. SAP repeats BISMT on every plant of a material: two different BISMTs on
-- two plants are two candidates, i.e. a conflict, not a pick of one of them.
sku_rule as (
    select distinct 'sap' as source_system, material_number as external_id, sku, 'sku' as rule
    from sap_materials
    where sku is not null
    union
    select distinct 'odoo', product_id::text, sku, 'sku'
    from odoo_products
    where sku is not null and product_id is not null
    union
    select distinct 'acct', sku, sku, 'sku'
    from valuations
    where sku is not null
),

-- EANs compared as digits without leading zeros: a GTIN-14 '0400...' and the
-- EAN-13 '400...' are the same number.
sap_eans as (
    select distinct
        material_number,
        ltrim(ean, '0') as ean_key
    from sap_materials
    where ean ~ '^[0-9]{8,14}$' and ltrim(ean, '0') <> ''
),

odoo_eans as (
    select distinct
        product_id::text as product_id,
        ltrim(ean, '0') as ean_key,
        sku
    from odoo_products
    where ean ~ '^[0-9]{8,14}$' and ltrim(ean, '0') <> '' and product_id is not null
),

sap_material_skus as (
    select distinct material_number, sku
    from sap_materials
    where sku is not null
),

-- Rule ean, both directions: the SAP material takes the SKU of the Odoo product with
-- its EAN; the Odoo product takes the BISMT of the SAP material with its barcode.
ean_rule as (
    select distinct
        'sap' as source_system,
        sap_eans.material_number as external_id,
        odoo_eans.sku,
        'ean' as rule
    from sap_eans
    inner join odoo_eans
        on sap_eans.ean_key = odoo_eans.ean_key
    where odoo_eans.sku is not null
    union
    select distinct
        'odoo',
        odoo_eans.product_id,
        sap_material_skus.sku,
        'ean'
    from odoo_eans
    inner join sap_eans
        on odoo_eans.ean_key = sap_eans.ean_key
    inner join sap_material_skus
        on sap_eans.material_number = sap_material_skus.material_number
),

rule_candidates as (
    select * from sku_rule
    union all
    select * from ean_rule
),

rule_skus as (
    select
        source_system,
        external_id,
        count(distinct sku) as n_skus,
        min(sku) as sku,
        -- Lists in byte order (collate "C"): the same text whatever the database's
        -- collation; "default" keeps the column's own collation.
        string_agg(distinct rule collate "C", '+' order by rule collate "C") collate "default" as rules,
        string_agg(distinct sku collate "C", ',' order by sku collate "C") collate "default" as skus
    from rule_candidates
    group by source_system, external_id
),

crossref_skus as (
    select
        trim(source_system) as source_system,
        trim(external_id) as external_id,
        count(distinct trim(sku)) as n_skus,
        min(trim(sku)) as sku,
        string_agg(distinct trim(sku) collate "C", ',' order by trim(sku) collate "C")
            collate "default" as skus
    from crossref
    where nullif(trim(sku), '') is not null
    group by trim(source_system), trim(external_id)
),

resolved as (
    select
        records.source_system,
        records.external_id,
        case
            when crossref_skus.n_skus > 1 then 'conflict'
            when crossref_skus.n_skus = 1 then 'matched'
            when rule_skus.n_skus > 1 then 'conflict'
            when rule_skus.n_skus = 1 then 'matched'
            else 'unmatched'
        end as identity_status,
        case
            when crossref_skus.n_skus = 1 then crossref_skus.sku
            when crossref_skus.n_skus is null and rule_skus.n_skus = 1 then rule_skus.sku
        end as sku,
        case
            when crossref_skus.n_skus is not null then 'crossref'
            else rule_skus.rules
        end as match_rule,
        rule_skus.skus as rule_skus,
        crossref_skus.skus as crossref_skus
    from records
    left join rule_skus
        on records.source_system = rule_skus.source_system
        and records.external_id = rule_skus.external_id
    left join crossref_skus
        on records.source_system = crossref_skus.source_system
        and records.external_id = crossref_skus.external_id
)

select * from resolved
