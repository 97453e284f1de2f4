-- Identity conflicts, never resolved silently: an id whose matching rules propose two
-- or more SKUs (an SAP material with two BISMTs on two plants; a BISMT that says one
-- SKU while the EAN equals the barcode of an Odoo product with another), or whose
-- crossref entries disagree. Such an id maps to no item (its stock and demand are
-- left out) until the master data is fixed or an entry in seeds/item_crossref.csv
-- decides. Blocking: a forecast without part of an item's demand is wrong.
-- Columns: the id, the SKUs each side proposes.
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'item_external_ids'}}}) }}

select
    source_system,
    external_id,
    rule_skus,
    crossref_skus
from {{ ref('int_item_identity') }}
where identity_status = 'conflict'
