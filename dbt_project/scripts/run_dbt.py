"""Run dbt on Forgecast's warehouse from a shell, with the settings every other command
uses (environment > .env > defaults): the embedded server (started when needed) or
DATABASE_URL. The profile (dbt_project/profiles.yml) reads FORGECAST_DBT_* variables;
this sets them the way the Dagster asset does, then runs dbt with the arguments given:

    .venv/bin/python dbt_project/scripts/run_dbt.py build
    .venv/bin/python dbt_project/scripts/run_dbt.py build --select unified --vars '{"min_date": "2024-03-01"}'
    .venv/bin/python dbt_project/scripts/run_dbt.py docs generate
    FORGECAST_DBT_TARGET=prod .venv/bin/python dbt_project/scripts/run_dbt.py debug

Variables already set in the environment win, so CI can point dbt elsewhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO_ROOT / "dbt_project"

if str(REPO_ROOT) not in sys.path:  # runnable without installing the package
    sys.path.insert(0, str(REPO_ROOT))


def dbt_environment() -> dict[str, str]:
    from orchestration.platform import prepare
    from resources.dbt_env import dbt_profile_env
    from resources.settings import get_settings

    server = prepare(get_settings())  # the raw tables dbt's sources read included
    env = {**dbt_profile_env(server), **os.environ}
    env.setdefault("DBT_PROJECT_DIR", str(DBT_PROJECT))
    env.setdefault("DBT_PROFILES_DIR", str(DBT_PROJECT))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def main(argv: list[str]) -> int:
    from resources.dbt_env import dbt_executable

    if not argv:
        print(__doc__)
        return 2
    executable = dbt_executable()
    os.execvpe(executable, [executable, *argv], dbt_environment())
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
