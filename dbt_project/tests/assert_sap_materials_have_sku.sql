-- SAP materials without BISMT (the SKU) cannot be matched to an item, so their
-- stock, movements and purchase orders are left out of unified. Warn, so the
-- master data team can fill the field.
{{ config(severity='warn') }}

select material_number
from {{ ref('stg_sap__material_master') }}
group by material_number
having count(sku) = 0
