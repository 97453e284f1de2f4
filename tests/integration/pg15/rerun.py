"""Run an integration module of the folder above again, here: its tests, fixtures and
module marks copied into the calling module's namespace (underscore names included,
which ``import *`` would leave out), so pytest collects them a second time under this
folder's conftest.py, on PostgreSQL 15, in a database named after the new module.
``without`` names tests that touch no SQL (file checks): once is enough for them."""

from __future__ import annotations

import importlib


def rerun(namespace: dict, module_name: str, without: tuple[str, ...] = ()) -> None:
    source = importlib.import_module(module_name)
    missing = set(without) - set(vars(source))
    assert not missing, f"{module_name} has no {sorted(missing)}"
    namespace.update({name: value for name, value in vars(source).items()
                      if not (name.startswith("__") and name.endswith("__"))
                      and name not in without})
