{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['snapshot_date', 'material_number', 'plant', 'storage_location'],
        indexes=[{'columns': ['snapshot_date']}],
        pre_hook="{{ staging_pre_hook() }}",
        post_hook="{{ staging_post_hook() }}",
    )
}}
{%- set plan = staging_plan('sap_stock') %}
-- SAP daily stock per plant and storage location.
-- A daily-volume export: staged batch by batch (macros/staged_batches.sql).
with

raw_rows as (
    select * from {{ source('raw', 'sap_stock') }}
    where true {{ staged_batch_filter(plan) }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['stichtag', 'matnr', 'werks', 'lgort']) }}
),

renamed as (
    select
        {{ safe_cast_date('stichtag', 'YYYYMMDD') }} as snapshot_date,
        {{ clean_text('matnr') }} as material_number,
        {{ clean_text('werks') }} as plant,
        {{ clean_text('lgort') }} as storage_location,
        -- Unrestricted-use stock is what planning can consume; blocked is kept apart.
        {{ safe_cast_numeric('labst') }} as on_hand,
        coalesce({{ safe_cast_numeric('speme') }}, 0) as blocked,
        {{ normalize_uom('meins') }} as uom,
        _batch_id as batch_id
    from latest
)

{{ keep_newer_staged_rows('renamed', ['snapshot_date', 'material_number', 'plant', 'storage_location'], plan) }}
