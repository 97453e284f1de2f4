"""test_notify_semantics.py again, on PostgreSQL 15 (conftest.py)."""

from rerun import rerun

rerun(globals(), "test_notify_semantics")
