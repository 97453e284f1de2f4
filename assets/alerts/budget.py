"""The alert budget: how many alerts a night leaves open per 1,000 item-locations, and
whether that rate jumped. Pure: counts in, markdown and verdicts out (no Dagster, no SQL).

Per 1,000 item-locations, not a count: a portfolio that grows should not look noisier, and
the issue's target (at most 10 per 1,000 clean item-locations a night) reads the same way.
"""

from __future__ import annotations

from assets.alerts.rules import SEVERITIES

# A rate jump is measured against at least this many open alerts per 1,000: from 0 to 0.5
# is no jump worth a warning, from 0 to 300 is.
MIN_BASELINE_PER_1000 = 1.0


def per_1000(count: int, item_locations: int) -> float:
    return 1000.0 * count / item_locations if item_locations else 0.0


def by_type(counts: list[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """(type, severity, count) rows -> type -> severity -> count."""
    out: dict[str, dict[str, int]] = {}
    for alert_type, severity, count in counts:
        out.setdefault(alert_type, {})[severity] = int(count)
    return out


def rate_table(counts: dict[str, dict[str, int]], item_locations: int) -> str:
    """Open alerts per 1,000 item-locations by type (rows) and severity (columns)."""
    order = list(reversed(SEVERITIES))
    lines = ["| type | " + " | ".join(order) + " | all |", "|---" * (len(order) + 2) + "|"]
    totals = dict.fromkeys(order, 0)
    for alert_type in sorted(counts):
        row = counts[alert_type]
        for severity in order:
            totals[severity] += row.get(severity, 0)
        cells = [f"{per_1000(row.get(s, 0), item_locations):.1f}" for s in order]
        lines.append(f"| {alert_type} | " + " | ".join(cells)
                     + f" | {per_1000(sum(row.values()), item_locations):.1f} |")
    cells = [f"{per_1000(totals[s], item_locations):.1f}" for s in order]
    lines.append("| **all** | " + " | ".join(cells)
                 + f" | {per_1000(sum(totals.values()), item_locations):.1f} |")
    return "\n".join(lines)


def value_at_risk_table(rows: list[tuple]) -> str:
    """(sku, location, type, severity, value) rows, most at risk first."""
    if not rows:
        return "_no open alert with a known value at risk_"
    lines = ["| item | location | type | severity | value at risk |", "|---|---|---|---|---:|"]
    lines += [f"| {sku} | {loc} | {t} | {sev} | {value:,.2f} |"
              for sku, loc, t, sev, value in rows]
    return "\n".join(lines)


def rate_jump(previous: float | None, current: float, factor: float) -> tuple[bool, float | None]:
    """(passed, ratio): whether tonight's open-alert rate stayed within ``factor`` times
    last night's. The first night has nothing to compare with: it passes."""
    if previous is None:
        return True, None
    ratio = current / max(previous, MIN_BASELINE_PER_1000)
    return ratio <= factor, round(ratio, 3)
