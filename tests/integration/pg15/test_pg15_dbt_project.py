"""test_dbt_project.py again, on PostgreSQL 15 (conftest.py): the hand-made data set's
edge cases (identity rules, crossref conflicts, carried-forward stock, incremental
windows) through the casts of 15 and a non-byte-order collation."""

from rerun import rerun

rerun(globals(), "test_dbt_project", without=(
    "test_sources_yml_is_generated_from_registry", "test_every_raw_table_has_a_staging_model",
    "test_gitignore_keeps_dbt_artefacts_out"))
