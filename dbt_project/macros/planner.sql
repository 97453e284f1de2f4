{#
    pre_hook for the models that join large staging views to item_external_ids.
    PostgreSQL cannot estimate the row counts of the staging views (DISTINCT ON
    over a join with raw_data_batches, then filters on cast expressions) and
    guesses ~1 row, so it picks nested loops that scan item_external_ids once per
    staged row: quadratic, 2-3x slower already on a year of demo data. Hash joins
    are right for these set-wise joins. `set local` ends with the model's
    transaction, so nothing else is affected; unavoidable nested loops (the
    lateral generate_series) still run.
#}
{% macro prefer_hash_joins() -%}
    set local enable_nestloop = off
{%- endmacro %}
