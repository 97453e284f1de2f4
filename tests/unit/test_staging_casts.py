"""On PostgreSQL 15 the casting macros (dbt_project/macros/casting.sql) cast a column
unguarded, trusting ingest's validation of its registry type; only ``validated=false``
keeps a guard. So every such cast in a model must read a raw column whose registry type
validates for it, or say validated=false: otherwise the build would fail on 15 at the
first value that does not parse, where 16 gives NULL."""

from __future__ import annotations

import re
from pathlib import Path

from assets.ingest.registry import EXPORT_TYPES

MODELS = Path(__file__).resolve().parents[2] / "dbt_project" / "models"
# The macros whose 15 form trusts validation, and the registry types validated for them.
TRUSTING = {"int": {"int"}, "numeric": {"int", "decimal"}, "timestamp_utc": {"datetime"}}
CAST = re.compile(r"safe_cast_(\w+)\(\s*'([^']+)'\s*(,[^)]*)?\)")
SOURCE = re.compile(r"source\(\s*'raw'\s*,\s*'(\w+)'\s*\)")
RAW_TYPES = {f"{e.source_system}_{e.entity}": {c.name.lower(): c.type for c in e.columns}
             for e in EXPORT_TYPES}


def unguarded_casts() -> list[tuple[str, str, str, set]]:
    """(model, macro, column, registry types of that column in the model's raw sources)."""
    found = []
    for path in sorted(MODELS.rglob("*.sql")):
        text = path.read_text()
        sources = SOURCE.findall(text)
        for macro, column, args in CAST.findall(text):
            if macro in TRUSTING and "validated=false" not in (args or "").replace(" ", ""):
                types = {RAW_TYPES.get(s, {}).get(column.lower()) for s in sources}
                found.append((path.name, macro, column, types))
    return found


def test_the_scan_sees_the_staging_casts():
    assert len(unguarded_casts()) > 20


def test_every_unguarded_cast_reads_a_raw_column_validated_for_it():
    wrong = [(model, f"safe_cast_{macro}('{column}')", sorted(map(str, types)))
             for model, macro, column, types in unguarded_casts()
             if not types or not types <= TRUSTING[macro]]
    assert wrong == [], ("these casts read columns ingest does not validate for them: declare "
                         "the type in assets/ingest/registry.py or pass validated=false")
