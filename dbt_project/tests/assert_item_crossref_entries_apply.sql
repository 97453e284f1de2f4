-- Entries of seeds/item_crossref.csv whose id no current export contains: a typo
-- (SAP MATNR without its leading zeros) or an item since deleted. Warn: the entry
-- does nothing, which is harmless but probably not what its author meant.
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'item_crossref'}}}) }}

with

crossref as (
    select * from {{ ref('item_crossref') }}
),

identity as (
    select * from {{ ref('int_item_identity') }}
)

select
    crossref.source_system,
    crossref.external_id,
    crossref.sku
from crossref
left join identity
    on trim(crossref.source_system) = identity.source_system
    and trim(crossref.external_id) = identity.external_id
where identity.external_id is null
