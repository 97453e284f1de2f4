"""test_dbt_supply.py again, on PostgreSQL 15 (conftest.py): the supply-side models,
the recursive BOM cycle test and the unit conversions."""

from rerun import rerun

rerun(globals(), "test_dbt_supply")
