"""How dbt reaches the warehouse: the environment the profile reads and the dbt
executable. No Dagster import: dbt_project/scripts/run_dbt.py uses this from a shell,
and importing Dagster would add seconds to every dbt invocation it makes.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from resources.database import Server

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


DBT_SESSION_OPTIONS = "-c enable_nestloop=off -c work_mem=256MB -c hash_mem_multiplier=4"


def dbt_profile_env(server: Server) -> dict[str, str]:
    """Environment the dbt profile (dbt_project/profiles.yml) reads."""
    return {
        "FORGECAST_DBT_HOST": server.host,
        "FORGECAST_DBT_PORT": str(server.port or 5432),
        "FORGECAST_DBT_USER": server.user,
        "FORGECAST_DBT_PASSWORD": server.password or "",
        "FORGECAST_DBT_DBNAME": server.warehouse_database,
        # Session settings of every dbt connection (libpq reads PGOPTIONS): hash joins
        # instead of nested loops, whose row estimates over staging views and CTEs are off
        # by orders of magnitude and turn 10,000-item joins quadratic (the lateral
        # generate_series still runs as a nested loop: it has no alternative); enough
        # memory for sorts of a few million rows not to spill, and 4x that for hash
        # tables (a key test groups ~10M keys; at 2x, the default, it spills to disk).
        "PGOPTIONS": DBT_SESSION_OPTIONS,
    }


def dbt_executable() -> str:
    """The dbt beside this interpreter: the venv's bin/ is not always on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


def write_dbt_launcher(directory: Path, dbt: str, env: Mapping[str, str]) -> Path:
    """An executable ``directory/dbt`` that runs ``dbt`` with ``env`` added to its
    environment: the way to give one dbt invocation its own connection when the caller
    (dagster-dbt's ``DbtCliResource.cli``) builds the subprocess environment from this
    process's and takes no environment of its own. Owner-only (the password is in it);
    the caller deletes ``directory`` when the invocation is done."""
    launcher = directory / "dbt"
    exports = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    launcher.write_text("\n".join(["#!/bin/sh", *exports, f'exec {shlex.quote(dbt)} "$@"', ""]))
    launcher.chmod(0o700)
    return launcher
