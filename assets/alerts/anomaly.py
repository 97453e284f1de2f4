"""Demand anomaly: has an item-location's demand changed in a way a planner should look
at? Not "one day outside a band" (at 10,000 items that fired for a third of them every
night), but a run of days the forecast keeps missing on the same side, worth money.

Pure pandas/numpy: no Dagster, no database. ``detect_anomaly`` reads one item-location's
recent days and returns None or an ``AnomalyVerdict``. The rule is a parameter so the
benchmark (``bench/alerts.py``) can measure the candidates side by side against planted
events; the platform's default is the one chosen there.

Input ``recent``, one row per day up to the as-of day (missing days are simply absent):
``target_date``, ``actual``, ``yhat`` (the forecast made the day before: lag 1),
``yhat_lower`` / ``yhat_upper`` (the 80% interval), optionally ``yhat_lower_95`` /
``yhat_upper_95`` and ``is_stockout``. A stockout day's demand is censored (what was on
hand, not what was asked for): it is no evidence either way and is left out. Without 95%
bounds, the 80% ones are widened by 1.96 / 1.28 around ``yhat`` (normal quantiles).

Candidate rules (``AnomalyPolicy.rule``):

* ``last_day_80``: the as-of day outside the 80% interval (the rule before issue 14; for
  comparison only);
* ``m_of_n_95``: at least ``m`` of the last ``n`` days outside the 95% bound, same side;
* ``tracking_signal``: the sum of the last ``ts_window`` days' errors (actual - forecast;
  the window widened for slow movers until ``min_expected`` units were forecast in it)
  over the error sd (from the mean absolute error of the ``mad_days`` before the window,
  at least Poisson's) x sqrt(days), beyond +-``ts_limit``: the classic tracking signal in
  sd units, so one limit fits every window length. Each day counts at most ``ts_cap`` sd,
  so one day (an entry error, one big order) never decides it;
* ``cusum``: two-sided CUSUM of the errors in units of that scale (each day capped at
  +-``cusum_cap``), reset ``cusum_days`` ago, beyond ``cusum_h`` with slack ``cusum_k``;
* ``level_shift`` (the default): a two-sample test on the demand itself, blind to the
  forecast (a nightly refit absorbs a shift within days, so its errors shrink): the mean
  of the last ``ls_window`` observed days against the ``ls_reference`` days before them,
  in units of the reference's day-to-day sd within a weekday (the weekly pattern is not
  noise; at least Poisson's, sqrt(mean)), z = (mean_window - mean_ref) / (sd x sqrt(1 /
  n_window + 1 / n_ref)), beyond +-``ls_limit``. The reference's largest day is left out
  and each window day capped at ``ls_cap`` sd from the reference mean: one x10 day (an
  entry error) neither raises it nor, weeks later, reads as a drop. It needs no forecast
  (days without one count) and is not asked about an item-location whose first demand in
  ``recent`` is less than ``min_history_days`` old: a new item's ramp-up is a change
  everyone expects (on the benchmark, most false alerts without this gate).

Every rule is subject to the value floor: a change is worth a look only when the shifted
units over ``value_days`` days, at unit cost, reach ``value_floor`` (unknown cost: kept).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

RULES = ("last_day_80", "m_of_n_95", "tracking_signal", "cusum", "level_shift")
Z80, Z95 = 1.2816, 1.9600  # two-sided 80% and 95% normal quantiles
MAD_TO_SD = 1.2533  # sd = MAD x sqrt(pi / 2) for normal errors


@dataclass(frozen=True)
class AnomalyPolicy:
    rule: str = "level_shift"
    m: int = 3  # m_of_n_95
    n: int = 5
    ts_window: int = 7  # tracking_signal: days summed at least ...
    ts_max_window: int = 28  # ... widened up to this until the forecast expects
    min_expected: float = 10.0  # this many units in the window (slow movers)
    ts_limit: float = 2.5
    ts_cap: float = 2.5  # ... each day's error capped at this many sd
    mad_days: int = 56  # the scale: mean |error| of this many days before the window
    cusum_k: float = 0.5  # cusum: slack per day, in sd units
    cusum_h: float = 5.0
    cusum_days: int = 28
    cusum_cap: float = 3.0
    ls_window: int = 7  # level_shift: these last days (a whole week: the weekly pattern
    ls_reference: int = 56  # cancels) against this many before them
    ls_limit: float = 3.5  # chosen on bench/alerts.py (docs/performance.md)
    ls_cap: float = 3.0  # each window day at most this many sd from the reference mean
    min_history_days: int = 120  # level_shift: first demand at least this long ago
    hold_days: int = 7  # a verdict holds this many as-of days after the rule last fired
    # A change against the sign of one earlier day's error this many times the window's
    # sum is that day's echo in the forecast (a moving average carries a spike for weeks).
    echo_ratio: float = 2.0  # 0: off
    min_days: int = 3  # observed days a window needs to say anything
    value_floor: float = 250.0  # currency units at stake
    value_days: int = 28  # how long a change is assumed to last when valuing it

    def __post_init__(self) -> None:
        if self.min_history_days < 0 or self.ls_cap <= 0 or self.ls_limit <= 0:
            raise ValueError("level_shift needs min_history_days >= 0, ls_cap > 0, ls_limit > 0")
        if self.rule not in RULES:
            raise ValueError(f"unknown anomaly rule {self.rule!r}; expected one of {RULES}")
        if not 1 <= self.m <= self.n:
            raise ValueError("the anomaly rule needs 1 <= m <= n")
        if min(self.ts_window, self.mad_days, self.cusum_days, self.min_days,
               self.hold_days, self.ls_window, self.ls_reference) < 1 \
                or self.ts_max_window < self.ts_window:
            raise ValueError("anomaly windows must be at least one day "
                             "(ts_max_window at least ts_window)")


@dataclass(frozen=True)
class AnomalyVerdict:
    rule: str
    direction: str  # up | down
    statistic: float  # the rule's number (days outside, tracking signal, CUSUM)
    limit: float  # ... and the threshold it reached
    since: date  # first day of the evidence
    days: int  # observed days of evidence
    expected_per_day: float  # mean forecast over those days
    shift_per_day: float  # mean (actual - forecast) over those days
    shift_pct: float | None  # shift as % of the expected level (None: nothing expected)
    value_at_stake: float | None  # |shift| x value_days x unit cost (None: unknown cost)

    def details(self) -> dict:
        """JSON-friendly fields for an alert's details."""
        return {"rule": self.rule, "direction": self.direction,
                "statistic": round(self.statistic, 3), "limit": self.limit,
                "since": self.since.isoformat(), "evidence_days": self.days,
                "expected_per_day": round(self.expected_per_day, 3),
                "shift_per_day": round(self.shift_per_day, 3),
                "shift_pct": None if self.shift_pct is None else round(self.shift_pct, 1),
                "value_at_stake": None if self.value_at_stake is None
                else round(self.value_at_stake, 2)}


@dataclass(frozen=True)
class _Days:
    """Observed days, oldest first: dated (day numbers), with an actual and a forecast,
    not censored."""

    day: np.ndarray  # int64 days since the epoch
    actual: np.ndarray
    yhat: np.ndarray
    lower: np.ndarray  # 80%
    upper: np.ndarray
    lower95: np.ndarray
    upper95: np.ndarray

    @property
    def error(self) -> np.ndarray:
        return self.actual - self.yhat

    def upto(self, day: int) -> _Days:
        n = int(np.searchsorted(self.day, day, side="right"))
        return _Days(*(getattr(self, f)[:n] for f in self.__dataclass_fields__))


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), np.nan)
    values = frame[name].to_numpy()
    if values.dtype.kind in "fiub":
        return values.astype(float)
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)


def _widened(yhat, lower, upper, lower95, upper95) -> tuple[np.ndarray, np.ndarray]:
    widen = Z95 / Z80
    return (np.where(np.isnan(lower95), np.maximum(yhat - (yhat - lower) * widen, 0.0), lower95),
            np.where(np.isnan(upper95), yhat + (upper - yhat) * widen, upper95))


def bounds_95(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The 95% bounds: stored ones where present, else the 80% ones widened."""
    return _widened(*(_column(frame, c) for c in ("yhat", "yhat_lower", "yhat_upper",
                                                   "yhat_lower_95", "yhat_upper_95")))


def _days(recent: pd.DataFrame) -> _Days:
    day = _day_numbers(recent)
    actual, yhat, lower, upper, lower95, upper95 = (
        _column(recent, c) for c in ("actual", "yhat", "yhat_lower", "yhat_upper",
                                     "yhat_lower_95", "yhat_upper_95"))
    keep = ~np.isnan(actual) & ~np.isnan(yhat)
    if "is_stockout" in recent:
        keep &= ~recent["is_stockout"].fillna(False).to_numpy(bool)
    lower95, upper95 = _widened(yhat, lower, upper, lower95, upper95)
    order = np.argsort(day[keep], kind="stable")
    data = _Days(*(c[keep][order] for c in (day, actual, yhat, lower, upper, lower95, upper95)))
    # One row per day: the last one given wins.
    last = np.r_[data.day[1:] != data.day[:-1], True][:data.day.size]
    return _Days(*(getattr(data, f)[last] for f in _Days.__dataclass_fields__))


def _sd(d: _Days, start: int, policy: AnomalyPolicy) -> float:
    """Error sd from the mean absolute error of the ``mad_days`` before ``start``; the
    window's own when fewer than ``min_days`` of them were observed. The single largest
    error is left out (one spike would blunt the rule for weeks), and the sd is at least
    Poisson's, sqrt(the mean forecast): a series that was flat by chance has no sd of 0.
    0: nothing was forecast and every error was 0."""
    ref = (d.day < start) & (d.day >= start - policy.mad_days)
    if ref.sum() < policy.min_days:
        ref = d.day >= start
    errors = np.sort(np.abs(d.error[ref]))
    errors = errors[:-1] if errors.size > policy.min_days else errors
    if not errors.size:
        return 0.0
    return max(float(errors.mean()) * MAD_TO_SD, float(np.sqrt(max(d.yhat[ref].mean(), 0.0))))


def _tracking_signal(d: _Days, as_of: int, policy: AnomalyPolicy):
    # Widen the window back until the forecast expects enough units to tell a change
    # from noise: a slow mover's week holds one order or none.
    cum = np.cumsum(d.yhat[::-1])
    back = d.day[::-1]
    enough = np.flatnonzero((cum >= policy.min_expected) & (back <= as_of - policy.ts_window + 1))
    start = int(back[enough[0]]) if enough.size else as_of - policy.ts_window + 1
    start = max(start, as_of - policy.ts_max_window + 1)
    inside = d.day >= start
    errors = d.error[inside]
    sd = _sd(d, start, policy)
    if errors.size < policy.min_days or sd <= 0:
        return None
    # Each day counts at most ts_cap sd: one day (an entry error, one big order) never
    # decides, however large.
    total = float(np.clip(errors, -policy.ts_cap * sd, policy.ts_cap * sd).sum())
    if total == 0:
        return None
    return total / (sd * np.sqrt(errors.size)), policy.ts_limit, start


def _cusum(d: _Days, as_of: int, policy: AnomalyPolicy):
    start = as_of - policy.cusum_days + 1
    inside = d.day >= start
    sd = _sd(d, start, policy)
    if inside.sum() < policy.min_days or sd <= 0:
        return None
    z = np.clip(d.error[inside] / sd, -policy.cusum_cap, policy.cusum_cap)
    high = low = 0.0
    high_from = low_from = 0
    for i, value in enumerate(z.tolist()):
        high, low = max(0.0, high + value - policy.cusum_k), max(0.0, low - value - policy.cusum_k)
        high_from = high_from if high > 0 else i + 1
        low_from = low_from if low > 0 else i + 1
    statistic, first = (high, high_from) if high >= low else (-low, low_from)
    days = d.day[inside]
    return statistic, policy.cusum_h, int(days[min(first, days.size - 1)])


def _m_of_n(d: _Days, as_of: int, policy: AnomalyPolicy):
    start = as_of - policy.n + 1
    inside = d.day >= start
    if not inside.any():
        return None
    actual = d.actual[inside]
    above = int((actual > d.upper95[inside]).sum())
    below = int((actual < d.lower95[inside]).sum())
    return (float(above) if above >= below else -float(below)), float(policy.m), start


def _last_day(d: _Days, as_of: int, policy: AnomalyPolicy):
    if not d.day.size or d.day[-1] != as_of:
        return None
    actual = d.actual[-1]
    side = 1.0 if actual > d.upper[-1] else -1.0 if actual < d.lower[-1] else 0.0
    return side, 1.0, as_of


_RULE = {"last_day_80": _last_day, "m_of_n_95": _m_of_n, "tracking_signal": _tracking_signal,
         "cusum": _cusum}


def _echo(d: _Days, start: int, statistic: float, policy: AnomalyPolicy) -> bool:
    """Whether the change is the echo of one earlier day against it (see echo_ratio)."""
    if policy.echo_ratio <= 0:
        return False
    before = (d.day < start) & (d.day >= start - policy.mad_days)
    window = d.error[d.day >= start]
    against = -np.sign(statistic) * d.error[before]
    return bool(against.size) and float(against.max()) >= policy.echo_ratio * abs(window.sum())


def _fires(d: _Days, as_of: int, policy: AnomalyPolicy):
    found = _RULE[policy.rule](d, as_of, policy) if d.day.size else None
    if found is None:
        return None
    statistic, limit, start = found
    if abs(statistic) < limit or statistic == 0 or _echo(d, start, statistic, policy):
        return None
    return found


@dataclass(frozen=True)
class _Demand:
    """Observed (not censored) days with an actual, oldest first, one per day; and the
    first day with any demand (censored days count: demand was there)."""

    day: np.ndarray  # int64 days since the epoch
    actual: np.ndarray
    first_demand: int | None

    def upto(self, day: int) -> _Demand:
        n = int(np.searchsorted(self.day, day, side="right"))
        return _Demand(self.day[:n], self.actual[:n], self.first_demand)


def _day_numbers(frame: pd.DataFrame) -> np.ndarray:
    dates = frame["target_date"].to_numpy()
    return (dates if dates.dtype.kind == "M" else np.array(dates, dtype="datetime64[D]")
            ).astype("datetime64[D]").astype(np.int64)


def _demand(recent: pd.DataFrame) -> _Demand:
    day, actual = _day_numbers(recent), _column(recent, "actual")
    known = ~np.isnan(actual)
    positive = day[known & (actual > 0)]
    first = int(positive.min()) if positive.size else None
    keep = known.copy()
    if "is_stockout" in recent:
        keep &= ~recent["is_stockout"].fillna(False).to_numpy(bool)
    order = np.argsort(day[keep], kind="stable")
    day, actual = day[keep][order], actual[keep][order]
    last = np.r_[day[1:] != day[:-1], True][:day.size]  # the last row given for a day wins
    return _Demand(day[last], actual[last], first)


def _weekday_sd(values: np.ndarray, days: np.ndarray) -> float:
    """The day-to-day sd within a weekday (pooled over weekdays seen twice or more), at
    least Poisson's: a plant's Monday is not a Sunday, and that is no noise."""
    variances = [values[days % 7 == w].var(ddof=1) for w in range(7)
                 if (days % 7 == w).sum() >= 2]
    variance = float(np.mean(variances)) if variances else float(values.var(ddof=1))
    return float(np.sqrt(max(variance, float(values.mean()), 0.0)))


def _level_shift(s: _Demand, as_of: int, policy: AnomalyPolicy):
    """(z, limit, first window day, reference mean, shift per day, window days) or None."""
    if s.first_demand is None or s.first_demand > as_of - policy.min_history_days:
        return None  # no demand yet, or a new item-location still ramping up
    start = as_of - policy.ls_window + 1
    window = s.actual[s.day >= start]
    ref = (s.day < start) & (s.day >= start - policy.ls_reference)
    if window.size < policy.min_days or ref.sum() < 2 * policy.ls_window:
        return None
    values, days = s.actual[ref], s.day[ref]
    drop = int(np.argmax(values))  # one entry error in the reference must not lift it
    values, days = np.delete(values, drop), np.delete(days, drop)
    mean, sd = float(values.mean()), _weekday_sd(values, days)
    if sd <= 0:
        return None  # nothing at all for weeks: no scale to judge a change by
    capped = np.clip(window, max(mean - policy.ls_cap * sd, 0.0), mean + policy.ls_cap * sd)
    shift = float(capped.mean()) - mean
    z = shift / (sd * np.sqrt(1 / window.size + 1 / values.size))
    return z, policy.ls_limit, start, mean, shift, int(window.size)


def _level_shift_held(recent: pd.DataFrame, policy: AnomalyPolicy, as_of: date | None):
    series = _demand(recent)
    if not series.day.size:
        return None
    today = int(_day_numbers(recent).max()) if as_of is None else \
        int(np.datetime64(as_of, "D").astype(np.int64))
    for back in range(policy.hold_days):
        found = _level_shift(series.upto(today - back), today - back, policy)
        if found is not None and found[0] != 0 and abs(found[0]) >= found[1]:
            return found
    return None


def _forecast_rule_held(recent: pd.DataFrame, policy: AnomalyPolicy, as_of: date | None):
    data = _days(recent)
    if not data.day.size:
        return None
    today = int(data.day[-1]) if as_of is None else \
        int(np.datetime64(as_of, "D").astype(np.int64))
    for back in range(policy.hold_days):
        found = _fires(data.upto(today - back), today - back, policy)
        if found is not None:
            statistic, limit, start = found
            evidence = (data.day >= start) & (data.day <= today)
            return (statistic, limit, start, float(data.yhat[evidence].mean()),
                    float(data.error[evidence].mean()), int(evidence.sum()))
    return None


def detect_anomaly(recent: pd.DataFrame | None, unit_cost: float | None,
                   policy: AnomalyPolicy = AnomalyPolicy(),  # noqa: B008 - frozen
                   as_of: date | None = None) -> AnomalyVerdict | None:
    """The verdict of ``policy.rule`` on ``recent`` as of ``as_of`` (default: its last
    day), or None: no change, too few observed days, or too little at stake. The rule
    fired on one of the last ``hold_days`` as-of days (its evidence then)."""
    if recent is None or recent.empty:
        return None
    held = _level_shift_held if policy.rule == "level_shift" else _forecast_rule_held
    found = held(recent, policy, as_of)
    if found is None:
        return None
    statistic, limit, start, expected, shift, days = found
    if shift == 0 or (shift > 0) != (statistic > 0):
        return None  # the rule's side and the mean change disagree: nothing to report
    cost = None if unit_cost is None else float(unit_cost)
    value = None if cost is None or math.isnan(cost) else abs(shift) * policy.value_days * cost
    if value is not None and value < policy.value_floor:
        return None
    return AnomalyVerdict(
        rule=policy.rule, direction="up" if statistic > 0 else "down",
        statistic=float(statistic), limit=float(limit),
        since=date.fromordinal(date(1970, 1, 1).toordinal() + start),
        days=days, expected_per_day=expected, shift_per_day=shift,
        shift_pct=100 * shift / expected if expected > 0 else None, value_at_stake=value)
