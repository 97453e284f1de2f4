"""Showing raw values safely: a cell that starts with =, +, -, @ (or a tab / carriage
return) is stored as data, and is never shown or exported so that a spreadsheet would
evaluate it: such values get a leading apostrophe (OWASP's CSV-injection guidance),
negative numbers excepted. Long values are cut, control characters made visible."""

from __future__ import annotations

import re

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")


def safe_cell(value: object, width: int = 60) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not _NUMBER.match(text):
        text = "'" + text
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t").replace("\x00", "\\x00")
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text


def markdown_cell(value: object, width: int = 60) -> str:
    return safe_cell(value, width).replace("|", "\\|")


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(markdown_cell(h) for h in headers) + " |",
             "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
