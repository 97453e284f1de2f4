{#
    Partition window of the incremental models, from the dbt vars `min_date` and
    `max_date` (ISO dates, both inclusive; either may be omitted). Dagster passes
    its partition time window; an inclusive end only means one extra day is
    recomputed, which is harmless because the models recompute from all data.
#}
{% macro forgecast_window_date(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {#- Accept a date or an ISO date-time ('2024-03-01T00:00:00+00:00'): keep the date. -#}
    {%- set text = (value | string | trim)[:10] -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be an ISO date, got " ~ value) }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}


{#
    SQL predicate(s) ` and <col> >= ... and <col> <= ...`; empty when no vars are given,
    and empty when the table is built from scratch (first run or --full-refresh): a new
    table holds all history, whatever partition happened to create it.
#}
{% macro date_window_filter(date_column) -%}
    {%- if not is_incremental() -%}{{ return('') }}{%- endif -%}
    {%- set min_date = forgecast_window_date('min_date') -%}
    {%- set max_date = forgecast_window_date('max_date') -%}
    {%- if min_date is not none %} and {{ date_column }} >= date '{{ min_date }}'{% endif -%}
    {%- if max_date is not none %} and {{ date_column }} <= date '{{ max_date }}'{% endif -%}
{%- endmacro %}


{#
    pre_hook of the incremental models: before inserting the recomputed window,
    delete every existing row of the window. delete+insert on the unique key
    alone would keep rows that vanished upstream (a batch superseded, an item
    whose external id was remapped); deleting the window makes an incremental
    run equal to a full refresh over that window. Without vars the window is
    everything. Runs inside the model's transaction.
#}
{% macro delete_date_window(date_column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where true {{ date_window_filter(date_column) }}
    {%- endif -%}
{%- endmacro %}


{#
    The start of this dbt invocation as a timestamptz literal: the same value in every
    model and test of one `dbt build`. The incremental models stamp it on the rows they
    write (loaded_at), which lets written_inside_partition_window tell them apart.
#}
{% macro forgecast_run_started_at() -%}
    '{{ run_started_at.isoformat() }}'::timestamptz
{%- endmacro %}


{#
    What the incremental models read of their inputs for a window: the window widened
    by var `lookback_days` on both sides (default 14). Carry-forward needs the last
    exported day before the window and the next one after it; the zero-filled calendar
    needs to know which item-locations were already active. A gap in the exports longer
    than the lookback is exact only after a full refresh or a backfill that spans it.
    `bound` = 'both' or 'lower' (only the lower bound: for "latest day" lookups).
    Empty when the model is built from scratch.
#}
{% macro input_window_filter(date_column, bound='both') -%}
    {%- if not is_incremental() -%}{{ return('') }}{%- endif -%}
    {%- set lookback = var('lookback_days', 14) | int -%}
    {%- set min_date = forgecast_window_date('min_date') -%}
    {%- set max_date = forgecast_window_date('max_date') -%}
    {%- if min_date is not none %} and {{ date_column }} >= date '{{ min_date }}' - {{ lookback }}{% endif -%}
    {%- if max_date is not none and bound == 'both' %} and {{ date_column }} <= date '{{ max_date }}' + {{ lookback }}{% endif -%}
{%- endmacro %}


{#
    post-hook of the unified models: analyze a table that has no statistics yet, i.e.
    one dbt just created (a table model, a first build, a full refresh). An incremental
    run's window into millions of rows moves no statistic that matters (dates past the
    histogram are estimated from the index), and analyzing them costs seconds a night.
#}
{% macro analyze_new_table() -%}
    do $analyze$ begin
        if not exists (
            select from pg_stats
            where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}'
        ) then
            analyze {{ this }};
        end if;
    end $analyze$
{%- endmacro %}
