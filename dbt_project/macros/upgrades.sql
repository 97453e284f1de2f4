{#
    on-run-start: tables that outlive a run (the incremental models and the snapshot)
    built before item ids were uuids hold them as text; the models now write uuids, and
    delete+insert / the snapshot's merge compare the two (text = uuid has no operator).
    Convert such columns in place, once: a full refresh would lose the snapshot's
    history. Every other unified table is rebuilt by each run. A no-op (one catalog
    query) on an up-to-date warehouse.
#}
{% macro convert_item_ids_to_uuid() -%}
    do $$
    declare stale record;
    begin
        for stale in
            select table_name from information_schema.columns
            where table_schema = 'unified' and column_name = 'item_id' and data_type = 'text'
              and table_name in ('inventory_snapshots', 'demand_history', 'item_master_snapshot')
        loop
            execute format('alter table unified.%I alter column item_id type uuid using item_id::uuid',
                           stale.table_name);
        end loop;
    end
    $$
{%- endmacro %}
