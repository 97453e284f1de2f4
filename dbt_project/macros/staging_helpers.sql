{#
    The one rule every staging model applies before renaming:
      1. only rows of batches whose status is 'loaded' count (received,
         validating, rejected and superseded batches are ignored);
      2. a natural key delivered in several batches keeps the row of the latest
         batch (highest batch id); within one batch the last file row wins.
    `raw_rows` is the model's import CTE of the raw table.

    Rule 1 is written as "no batch of another status": a raw row always belongs to a
    batch (the loader attaches a batch's table only once its batch row exists), and
    PostgreSQL estimates an anti-join against the few non-loaded batches well, where
    an inner join with the loaded ones is guessed at a fraction of the rows and
    planned with nested loops and sorts that spill.
#}
{% macro latest_loaded_rows(raw_rows, natural_key) -%}
    select distinct on ({{ natural_key | join(', ') }})
        {{ raw_rows }}.*
    from {{ raw_rows }}
    where not exists (
        select from {{ source('raw', 'raw_data_batches') }} as batches
        where batches.id = {{ raw_rows }}._batch_id
            and batches.status <> 'loaded'
    )
    order by
        {{ natural_key | join(', ') }},
        {{ raw_rows }}._batch_id desc,
        {{ raw_rows }}._row_number desc
{%- endmacro %}

