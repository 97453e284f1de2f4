{#
    The one rule every staging model applies before renaming:
      1. only rows of batches whose status is 'loaded' count (received,
         validating, rejected and superseded batches are ignored);
      2. a natural key delivered in several batches keeps the row of the latest
         batch (highest batch id); within one batch the last file row wins.
    `raw_rows` and `loaded_batches` are the model's import CTEs, the latter with
    the batch ids in a column named `batch_id`.
#}
{% macro latest_loaded_rows(raw_rows, loaded_batches, natural_key) -%}
    select distinct on ({{ natural_key | join(', ') }})
        {{ raw_rows }}.*
    from {{ raw_rows }}
    inner join {{ loaded_batches }}
        on {{ raw_rows }}._batch_id = {{ loaded_batches }}.batch_id
    order by
        {{ natural_key | join(', ') }},
        {{ raw_rows }}._batch_id desc,
        {{ raw_rows }}._row_number desc
{%- endmacro %}

