-- ERP item records that no rule and no crossref entry attach to an item: an SAP
-- material without BISMT whose EAN matches no Odoo product, an Odoo product without
-- internal reference. Their stock, movements and orders are left out of unified.
-- Warn, so the master data team can fill the field or add a crossref entry.
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'item_external_ids'}}}) }}

select
    source_system,
    external_id
from {{ ref('int_item_identity') }}
where identity_status = 'unmatched'
    and source_system in ('sap', 'odoo')
