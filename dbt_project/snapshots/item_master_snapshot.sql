{#
    History of the planning parameters of every item (type 2 slowly changing
    dimension): a new version whenever lead time, safety stock, reorder point or
    unit cost changes. Lets forecasting and alerting ask "what were the
    parameters on day X", which the unified tables (always current) cannot.
#}
{% snapshot item_master_snapshot %}

{{
    config(
        target_schema='unified',
        unique_key='item_id',
        strategy='check',
        check_cols=['lead_time_days', 'safety_stock', 'reorder_point', 'unit_cost'],
    )
}}

select * from {{ ref('manufacturing_items') }}

{% endsnapshot %}
