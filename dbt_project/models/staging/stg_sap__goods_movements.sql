{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['material_document', 'document_line'],
        indexes=[{'columns': ['posting_date']}],
        pre_hook="{{ staging_pre_hook() }}",
        post_hook="{{ staging_post_hook() }}",
    )
}}
{%- set plan = staging_plan('sap_goods_movements') %}
-- SAP goods movements (material document lines).
-- A daily-volume export: staged batch by batch (macros/staged_batches.sql).
with

raw_rows as (
    select * from {{ source('raw', 'sap_goods_movements') }}
    where true {{ staged_batch_filter(plan) }}
),

latest as (
    {{ latest_loaded_rows('raw_rows', ['mblnr', 'zeile']) }}
),

renamed as (
    select
        {{ clean_text('mblnr') }} as material_document,
        {{ safe_cast_int('zeile') }} as document_line,
        {{ clean_text('bwart') }} as movement_type,
        {{ clean_text('matnr') }} as material_number,
        {{ clean_text('werks') }} as plant,
        {{ clean_text('lgort') }} as storage_location,
        {{ safe_cast_date('budat', 'YYYYMMDD') }} as posting_date,
        {{ safe_cast_numeric('menge') }} as quantity,
        {{ normalize_uom('meins') }} as uom,
        -- SHKZG: S = debit (receipt into stock), H = credit (issue out of stock).
        upper(trim(shkzg)) as debit_credit,
        _batch_id as batch_id
    from latest
)

{{ keep_newer_staged_rows('renamed', ['material_document', 'document_line'], plan) }}
