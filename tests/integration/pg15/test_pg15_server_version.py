"""test_server_version.py again, on PostgreSQL 15 (conftest.py): a 15 server refused when
16 is required, accepted at the default minimum."""

from rerun import rerun

rerun(globals(), "test_server_version")


def test_the_leg_runs_on_postgresql_15_with_a_non_c_collation(conn):
    assert conn.info.server_version // 10000 == 15
    # Text sorts as on most external servers, not in byte order as on the embedded one.
    assert conn.execute("select 'B' < 'a'").fetchone()[0] is False
