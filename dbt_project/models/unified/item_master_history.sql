-- The change log of the items' planning parameters: the SCD2 history dbt records
-- (item_master_snapshot: which value was current when) joined with the ERP's own
-- change documents (stg_sap__master_audit: who changed which field, old -> new, on
-- which day). One row per change of one attribute.
--
-- A version change seen by the snapshot is explained by the latest change document
-- of the same item, attribute and new value from the plant the item takes its
-- attributes from, dated no later than the day dbt saw it. Change documents nothing
-- in the snapshot matches stay as rows of their own: changes before dbt started
-- recording, and changes at other plants (is_item_level = false). Snapshot changes
-- without a document (Odoo items, accounting cost) have no author.
with

snapshot as (
    select * from {{ ref('item_master_snapshot') }}
),

audits as (
    select * from {{ ref('stg_sap__master_audit') }}
),

external_ids as (
    select * from {{ ref('item_external_ids') }}
),

item_records as (
    select * from {{ ref('int_item_source_records') }}
),

-- The SAP plant whose record supplies the item-level attributes (manufacturing_items).
attribute_plants as (
    select sku, plant
    from item_records
    where attribute_rank = 1 and source_system = 'sap'
),

versions as (
    select
        item_id,
        sku,
        dbt_valid_from,
        lead_time_days::numeric as lead_time_days,
        safety_stock,
        reorder_point,
        unit_cost,
        row_number() over by_item as version_number,
        lag(lead_time_days::numeric) over by_item as previous_lead_time_days,
        lag(safety_stock) over by_item as previous_safety_stock,
        lag(reorder_point) over by_item as previous_reorder_point,
        lag(unit_cost) over by_item as previous_unit_cost
    from snapshot
    window by_item as (partition by item_id order by dbt_valid_from)
),

snapshot_changes as (
    select
        versions.item_id,
        versions.sku,
        changes.attribute,
        changes.old_value,
        changes.new_value,
        versions.dbt_valid_from as detected_at
    from versions
    cross join lateral (
        values
            ('lead_time_days', versions.previous_lead_time_days, versions.lead_time_days),
            ('safety_stock', versions.previous_safety_stock, versions.safety_stock),
            ('reorder_point', versions.previous_reorder_point, versions.reorder_point),
            ('unit_cost', versions.previous_unit_cost, versions.unit_cost)
    ) as changes (attribute, old_value, new_value)
    where versions.version_number > 1
        and changes.old_value is distinct from changes.new_value
),

audit_changes as (
    select
        external_ids.item_id,
        external_ids.sku,
        case audits.field_name
            when 'PLIFZ' then 'lead_time_days'
            when 'EISBE' then 'safety_stock'
            when 'MINBE' then 'reorder_point'
        end as attribute,
        {{ location_id('sap', 'audits.plant') }} as location_id,
        coalesce(audits.plant = attribute_plants.plant, false) as is_item_level,
        {{ safe_cast_numeric('audits.value_old', validated=false) }} as old_value,
        {{ safe_cast_numeric('audits.value_new', validated=false) }} as new_value,
        audits.change_date,
        audits.changed_by,
        audits.change_number
    from audits
    inner join external_ids
        on external_ids.source_system = 'sap'
        and external_ids.external_id = audits.material_number
    left join attribute_plants
        on external_ids.sku = attribute_plants.sku
    where audits.field_name in ('PLIFZ', 'EISBE', 'MINBE')
),

explained as (
    select distinct on (snapshot_changes.item_id, snapshot_changes.attribute, snapshot_changes.detected_at)
        snapshot_changes.item_id,
        snapshot_changes.sku,
        snapshot_changes.attribute,
        snapshot_changes.old_value,
        snapshot_changes.new_value,
        snapshot_changes.detected_at,
        audit_changes.location_id,
        audit_changes.change_date,
        audit_changes.changed_by,
        audit_changes.change_number
    from snapshot_changes
    left join audit_changes
        on snapshot_changes.item_id = audit_changes.item_id
        and snapshot_changes.attribute = audit_changes.attribute
        and snapshot_changes.new_value = audit_changes.new_value
        and audit_changes.is_item_level
        and audit_changes.change_date <= snapshot_changes.detected_at::date
    order by
        snapshot_changes.item_id,
        snapshot_changes.attribute,
        snapshot_changes.detected_at,
        audit_changes.change_date desc nulls last,
        audit_changes.change_number collate "C" desc nulls last  -- byte order, any collation
),

from_snapshot as (
    select
        item_id,
        sku,
        attribute,
        location_id,
        true as is_item_level,
        old_value,
        new_value,
        coalesce(change_date, detected_at::date) as changed_on,
        changed_by,
        change_number,
        detected_at,
        case when change_number is null then 'snapshot' else 'snapshot+audit' end as evidence
    from explained
),

audit_only as (
    select
        audit_changes.item_id,
        audit_changes.sku,
        audit_changes.attribute,
        audit_changes.location_id,
        audit_changes.is_item_level,
        audit_changes.old_value,
        audit_changes.new_value,
        audit_changes.change_date as changed_on,
        audit_changes.changed_by,
        audit_changes.change_number,
        null::timestamp as detected_at,
        'audit' as evidence
    from audit_changes
    left join explained
        on audit_changes.change_number = explained.change_number
        and audit_changes.attribute = explained.attribute
        and audit_changes.item_id = explained.item_id
    where explained.change_number is null
),

unioned as (
    select * from from_snapshot
    union all
    select * from audit_only
),

final as (
    select
        -- A snapshot change is one per item, attribute and version; a document-only
        -- change one per change document, attribute and plant.
        {{ forgecast_uuid(
            "'forgecast:item-change:' || item_id || ':' || attribute || ':'"
            ~ " || coalesce('snapshot:' || detected_at::text,"
            ~ " 'audit:' || change_number || ':' || location_id)"
        ) }} as change_id,
        item_id,
        sku,
        attribute,
        location_id,
        is_item_level,
        old_value,
        new_value,
        changed_on,
        changed_by,
        change_number,
        detected_at,
        evidence
    from unioned
)

select * from final
