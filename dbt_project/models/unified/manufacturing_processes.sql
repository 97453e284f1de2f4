-- Routing operations per item from both ERPs, times in minutes.
with

sap_routings as (
    select * from {{ ref('stg_sap__routings') }}
),

odoo_operations as (
    select * from {{ ref('stg_odoo__workcenter_operations') }}
),

external_ids as (
    select * from {{ ref('item_external_ids') }}
),

-- SAP routings are per plant and task list group, so both are part of the id.
sap_processes as (
    select
        {{ forgecast_uuid(
            "'forgecast:process:sap:' || sap_routings.material_number || ':' || sap_routings.plant"
            ~ " || ':' || sap_routings.routing_group || ':' || sap_routings.operation_number"
        ) }} as process_id,
        external_ids.item_id,
        'sap' as source_system,
        {{ location_id('sap', 'sap_routings.plant') }} as location_id,
        sap_routings.routing_group as routing_ref,
        sap_routings.sequence,
        sap_routings.work_center,
        sap_routings.operation,
        sap_routings.setup_minutes,
        sap_routings.run_minutes_per_unit
    from sap_routings
    inner join external_ids
        on external_ids.source_system = 'sap'
        and external_ids.external_id = sap_routings.material_number
),

-- Odoo operations are not tied to a warehouse: location_id stays NULL.
odoo_processes as (
    select
        {{ forgecast_uuid("'forgecast:process:odoo:' || odoo_operations.operation_id::text") }} as process_id,
        external_ids.item_id,
        'odoo' as source_system,
        null::text as location_id,
        null::text as routing_ref,
        odoo_operations.sequence,
        odoo_operations.work_center,
        odoo_operations.operation,
        odoo_operations.setup_minutes,
        odoo_operations.run_minutes_per_unit
    from odoo_operations
    inner join external_ids
        on external_ids.source_system = 'odoo'
        and external_ids.external_id = odoo_operations.product_id::text
),

final as (
    select * from sap_processes
    union all
    select * from odoo_processes
)

select * from final
