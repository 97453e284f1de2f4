"""test_dbt_project.py again, on PostgreSQL 15 (conftest.py)."""

from rerun import rerun

rerun(globals(), "test_dbt_project")
