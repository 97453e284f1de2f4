-- ERP item records that map to no item: an SAP material without BISMT whose EAN
-- matches no Odoo product, an Odoo product without internal reference, and no entry
-- in seeds/item_crossref.csv. Their stock, movements and orders are left out of
-- unified. Warn, so the master data team can fill the field or add an entry.
-- (Conflicts are not repeated here: assert_item_identity_has_no_conflicts blocks.)
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'item_external_ids'}}}) }}

with

identity as (
    select * from {{ ref('int_item_identity') }}
),

external_ids as (
    select * from {{ ref('item_external_ids') }}
)

select
    identity.source_system,
    identity.external_id
from identity
left join external_ids
    on identity.source_system = external_ids.source_system
    and identity.external_id = external_ids.external_id
where identity.source_system in ('sap', 'odoo')
    and identity.identity_status <> 'conflict'
    and external_ids.item_id is null
