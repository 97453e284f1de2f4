"""The unified tables as dbt defines them, for tests that need them without running dbt:
names, data types and primary keys from the enforced contracts beside the models
(dbt_project/models/unified/*.yml). A column dbt renames, drops or retypes changes the
tables these tests run on, instead of going unnoticed in a copy of the DDL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

UNIFIED_MODELS = Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "unified"


@dataclass(frozen=True)
class Contract:
    model: str
    columns: list[tuple[str, str]]  # (name, data type) in table order
    primary_key: list[str]


def unified_contracts() -> dict[str, Contract]:
    """Every unified model with an enforced contract, by name."""
    out: dict[str, Contract] = {}
    for path in sorted(UNIFIED_MODELS.glob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
            if not model.get("config", {}).get("contract", {}).get("enforced"):
                continue
            keys = [c["columns"] for c in model.get("constraints", [])
                    if c["type"] == "primary_key"]
            out[model["name"]] = Contract(
                model=model["name"],
                columns=[(c["name"], c["data_type"]) for c in model["columns"]],
                primary_key=keys[0] if keys else [])
    return out


def create_unified_tables(conn: psycopg.Connection, *models: str) -> None:
    """Create unified.<model> for the models named (all contracted models without names).
    Column constraints other than the key are left out: a test inserts only the columns
    it needs, naming them."""
    contracts = unified_contracts()
    conn.execute("create schema if not exists unified")
    for name in models or contracts:
        contract = contracts[name]  # a KeyError: the model has no enforced contract
        # The data types come from the project's own YAML: trusted SQL.
        parts = [sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(data_type))
                 for column, data_type in contract.columns]
        if contract.primary_key:
            parts.append(sql.SQL("primary key ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, contract.primary_key))))
        conn.execute(sql.SQL("create table unified.{} ({})").format(
            sql.Identifier(name), sql.SQL(", ").join(parts)))
