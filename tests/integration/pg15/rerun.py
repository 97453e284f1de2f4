"""Run an integration module of the folder above again, here: its tests, fixtures and
module marks copied into the calling module's namespace (underscore names included,
which ``import *`` would leave out), so pytest collects them a second time under this
folder's conftest.py, on PostgreSQL 15, in a database named after the new module."""

from __future__ import annotations

import importlib


def rerun(namespace: dict, module_name: str) -> None:
    source = importlib.import_module(module_name)
    namespace.update({name: value for name, value in vars(source).items()
                      if not (name.startswith("__") and name.endswith("__"))})
