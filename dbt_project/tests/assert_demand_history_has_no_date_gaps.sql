-- demand_history is a dense daily series: per item-location exactly one row for
-- every day between its first and last date. Forecasting relies on it. Nightly builds
-- check the window's days (macros/test_window.sql).
select
    item_id,
    location_id,
    min(demand_date) as first_date,
    max(demand_date) as last_date,
    count(*) as n_rows,
    count(distinct demand_date) as n_days
from {{ in_test_window(ref('demand_history')) }}
group by item_id, location_id
having count(*) <> max(demand_date) - min(demand_date) + 1
    or count(distinct demand_date) <> count(*)
