{#
    Batch-incremental staging, for the staging models of the daily exports (stock,
    goods movements, stock quants, stock moves): millions of rows, of which a nightly
    build adds one day. Re-deduplicating all of raw every night would cost more than
    everything downstream, so these models are incremental tables that stage only the
    loaded batches they have not seen yet:

      - staging.staged_batches records, per model, every batch id it has staged;
      - a build reads only the raw partitions of loaded batches not yet recorded (the
        ids are written into the SQL, so PostgreSQL prunes every other partition);
      - delete+insert on the staged natural key replaces the rows of keys that a newer
        batch delivers again; a late batch older than the staged row of a key loses
        (keep_newer_staged_rows), exactly like the full rule "the latest batch wins";
      - when a staged batch is no longer 'loaded' (superseded, e.g. by a replay), the
        model restages from all loaded batches (rows of the old batch must vanish and
        the previous versions of their keys come back); so does --full-refresh.

    The natural-key columns are required by the export registry (ingest quarantines
    blank ones), so the key equality of delete+insert sees every staged row.

    The ids are picked once per node, when dbt renders the model, into a temporary
    table of the node's connection; the post-hook records exactly those (a batch that
    commits while the model runs is staged by the next build, never skipped).
#}

{# on-run-start: the bookkeeping table (dbt creates the staging schema only with its first model). #}
{% macro create_staged_batches_table() -%}
    create schema if not exists staging;
    create table if not exists staging.staged_batches (
        model      text   not null,
        batch_id   bigint not null,
        staged_at  timestamptz not null default now(),
        primary key (model, batch_id)
    )
{%- endmacro %}


{#
    The node's staging plan (`raw_table`: the model's raw table, i.e. its export's
    batches), decided once when dbt renders the model: mode 'rebuild'
    (first build, --full-refresh, or a staged batch is no longer loaded: stage every
    loaded batch) or 'new' (only the loaded batches not staged yet), and the batch ids
    to read. The ids also go into a temporary table of the node's connection, which
    the post-hook records (dbt renders and runs a node on one connection).
#}
{% macro staging_plan(raw_table) -%}
    {%- if not execute -%}{{ return({'mode': 'rebuild', 'batch_ids': []}) }}{%- endif -%}
    {%- set model_name = this.identifier -%}
    {%- set batches = source('raw', 'raw_data_batches') -%}
    {#- This model's batches only: a batch of another export superseded is none of its business. -#}
    {%- set own = " and b.source_system || '_' || b.entity = '" ~ raw_table ~ "'" -%}
    {%- set mode = 'rebuild' -%}
    {%- if is_incremental() -%}
        {%- set stale = run_query(
            "select exists (select from staging.staged_batches s join " ~ batches
            ~ " b on b.id = s.batch_id where s.model = '" ~ model_name ~ "' and b.status <> 'loaded'" ~ own ~ ")"
        ).columns[0].values()[0] -%}
        {%- set mode = 'rebuild' if stale else 'new' -%}
    {%- endif -%}
    {%- set unstaged = "" if mode == 'rebuild' else
        " and not exists (select from staging.staged_batches s where s.model = '"
        ~ model_name ~ "' and s.batch_id = b.id)" -%}
    {%- do run_query(
        "drop table if exists pg_temp.staging_plan_" ~ model_name ~ "; "
        ~ "create temporary table staging_plan_" ~ model_name ~ " as select b.id, '" ~ mode
        ~ "'::text as mode from " ~ batches ~ " b where b.status = 'loaded'" ~ own ~ unstaged
    ) -%}
    {%- set ids = run_query("select id from pg_temp.staging_plan_" ~ model_name ~ " order by id")
        .columns[0].values() | list -%}
    {{ return({'mode': mode, 'batch_ids': ids}) }}
{%- endmacro %}


{# ` and _batch_id in (...)`: the planned batches only (PostgreSQL prunes the rest). #}
{% macro staged_batch_filter(plan, column='_batch_id') -%}
    {%- if plan.batch_ids | length == 0 %} and false
    {%- else %} and {{ column }} in ({{ plan.batch_ids | join(', ') }})
    {%- endif -%}
{%- endmacro %}


{#
    pre_hook: restaging into an existing table empties it first (keys that only the
    no-longer-loaded batch had must not survive).
#}
{% macro staging_pre_hook() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where exists (select from pg_temp.staging_plan_{{ this.identifier }} where mode = 'rebuild')
    {%- endif -%}
{%- endmacro %}


{# post_hook: record what was staged (after a restage, instead of the old records). #}
{% macro staging_post_hook() -%}
    {%- set model_name = this.identifier -%}
    delete from staging.staged_batches
    where model = '{{ model_name }}'
        and exists (select from pg_temp.staging_plan_{{ model_name }} where mode = 'rebuild');
    insert into staging.staged_batches (model, batch_id)
    select '{{ model_name }}', id from pg_temp.staging_plan_{{ model_name }}
    on conflict do nothing;
    -- Statistics after a (re)build; one more batch into millions of rows changes none
    -- that matters (analyze_new_table).
    do $analyze$ begin
        if exists (select from pg_temp.staging_plan_{{ model_name }} where mode = 'rebuild') then
            analyze {{ this }};
        end if;
    end $analyze$;
    drop table pg_temp.staging_plan_{{ model_name }}
{%- endmacro %}


{#
    The final select of a batch-incremental staging model: `relation`'s rows, minus
    keys whose staged row comes from a newer batch than the one offered now.
#}
{% macro keep_newer_staged_rows(relation, key_columns, plan) -%}
    select {{ relation }}.*
    from {{ relation }}
    {%- if plan.mode == 'new' %}
    where not exists (
        select from {{ this }} as staged
        where {% for column in key_columns -%}
            staged.{{ column }} = {{ relation }}.{{ column }}{{ ' and ' if not loop.last }}
        {%- endfor %}
            and staged.batch_id > {{ relation }}.batch_id
            {%- set date_range = key_date_range('staged', relation, key_columns) %}
            {%- if date_range %}
            and {{ date_range }}
            {%- endif %}
    )
    {%- endif %}
{%- endmacro %}


{#
    The model's window column (meta.window_column) when it is part of the unique key,
    else none. Rows that share a key share that date, so the rows a batch or a window
    replaces lie between the new rows' first and last date: a range the date index
    finds, where matching the key alone reads the whole table (hash joins only, see
    resources/dbt_env.py).
#}
{% macro key_date_column(key_columns) -%}
    {%- set column = (config.get('meta') or {}).get('window_column') -%}
    {%- set keys = [key_columns] if key_columns is string else key_columns -%}
    {{ return(column if column in keys else none) }}
{%- endmacro %}


{# `<alias>.<col> between (min of <col> in relation) and (max ...)`, or '' (key_date_column). #}
{% macro key_date_range(alias, relation, key_columns) -%}
    {%- set column = key_date_column(key_columns) -%}
    {%- if column is not none -%}
        {{ alias }}.{{ column }} between (select min({{ column }}) from {{ relation }})
            and (select max({{ column }}) from {{ relation }})
    {%- endif -%}
{%- endmacro %}


{#
    dbt's delete+insert, with the delete narrowed to the new rows' date range when the
    key holds the window column (key_date_column): one day's rows out of millions.
#}
{% macro postgres__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set predicates = (incremental_predicates or []) | list -%}
    {%- set date_range = key_date_range('DBT_INTERNAL_DEST', source, unique_key) -%}
    {%- if date_range -%}{%- do predicates.append(date_range) -%}{%- endif -%}
    {{ default__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, predicates) }}
{%- endmacro %}
