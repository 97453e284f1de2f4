-- One row per manufactured or purchased item, identified by its SKU across SAP,
-- Odoo and accounting.
with

item_records as (
    select * from {{ ref('int_item_source_records') }}
),

valuations as (
    select * from {{ ref('stg_acct__item_valuation') }}
),

-- Accounting refers to items by item_ref, normally the SKU; the crossref seed can
-- point an accounting ref at another SKU.
acct_identity as (
    select * from {{ ref('int_item_identity') }}
    where source_system = 'acct' and identity_status = 'matched'
),

-- SAP keeps planning parameters per plant: the item-level columns come from the
-- record ranked first (SAP lowest plant, else Odoo).
primary_records as (
    select * from item_records where attribute_rank = 1
),

item_rollup as (
    select
        sku,
        -- Byte order (collate "C") for lists and tie-breaks: the same result whatever
        -- the database's collation; "default" keeps the column's own collation.
        string_agg(distinct source_system collate "C", ',' order by source_system collate "C")
            collate "default" as source_systems,
        -- Discontinued only when every record is deleted/archived: one plant still
        -- running the item keeps it active.
        bool_or(is_active) as is_active,
        -- Odoo routes are per product, not per plant: any record with MTO counts.
        coalesce(bool_or(is_make_to_order) filter (where source_system = 'odoo'), false)
            as odoo_make_to_order
    from item_records
    group by sku
),

-- The standard cost in force is the one with the latest valuation date.
latest_valuations as (
    select distinct on (acct_identity.sku)
        acct_identity.sku,
        valuations.standard_cost,
        valuations.currency
    from valuations
    inner join acct_identity
        on valuations.sku = acct_identity.external_id
    where valuations.valuation_date is not null
    order by acct_identity.sku, valuations.valuation_date desc, valuations.sku collate "C"
),

final as (
    select
        {{ forgecast_uuid("'forgecast:item:' || primary_records.sku") }} as item_id,
        primary_records.sku,
        primary_records.name,
        primary_records.category,
        primary_records.uom,
        primary_records.lead_time_days,
        primary_records.safety_stock,
        primary_records.reorder_point,
        latest_valuations.standard_cost as unit_cost,
        latest_valuations.currency,
        case when item_rollup.is_active then 'active' else 'discontinued' end as status,
        item_rollup.source_systems,
        -- Make-to-order: SAP strategy group 20 on the record the item's attributes come
        -- from, or an Odoo MTO route. Such an item is produced against its orders, so
        -- its forecast generates no dependent demand for components.
        (primary_records.source_system = 'sap' and primary_records.is_make_to_order)
            or item_rollup.odoo_make_to_order as make_to_order
    from primary_records
    inner join item_rollup
        on primary_records.sku = item_rollup.sku
    left join latest_valuations
        on primary_records.sku = latest_valuations.sku
)

select * from final
