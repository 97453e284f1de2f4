-- Identity conflicts, never resolved silently: an id whose matching rules propose two
-- or more SKUs (an SAP material with two BISMTs on two plants; a BISMT that says one
-- SKU while the EAN equals the barcode of an Odoo product with another), or whose
-- crossref entries disagree. Such an id maps to no item (mapped_item_id is null: its
-- stock and demand are left out) until the master data is fixed or an entry in
-- seeds/item_crossref.csv decides. Blocking: a forecast without part of an item's
-- demand, or with another item's, is wrong.
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'item_external_ids'}}}) }}

with

identity as (
    select * from {{ ref('int_item_identity') }}
),

external_ids as (
    select * from {{ ref('item_external_ids') }}
)

select
    identity.source_system,
    identity.external_id,
    identity.rule_skus,
    identity.crossref_skus,
    external_ids.item_id as mapped_item_id
from identity
left join external_ids
    on identity.source_system = external_ids.source_system
    and identity.external_id = external_ids.external_id
where identity.identity_status = 'conflict'
