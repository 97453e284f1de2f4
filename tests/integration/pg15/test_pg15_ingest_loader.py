"""test_ingest_loader.py again, on PostgreSQL 15 (conftest.py)."""

from rerun import rerun

rerun(globals(), "test_ingest_loader")
