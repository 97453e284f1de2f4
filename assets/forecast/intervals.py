"""Forecast intervals calibrated per horizon step from out-of-sample errors, the split
conformal way: the backtest's errors (actual - forecast) are the calibration set, grouped by
how many buckets ahead they were made, and the interval of a step is a pair of order
statistics of its group's errors.

Pure numpy: no Dagster, no database. ``calibrate`` turns errors with their horizon steps
into a JSON-friendly dict (stored as ``ml.model_selections.interval_errors``);
``offsets`` reads it back as per-step offsets to add to a point forecast.

- Horizon buckets (``HORIZON_BUCKETS``): for daily data steps 1, 2-7, 8-14, 15-28, 29+;
  about the same spans of days for week and month buckets. A step's own errors would be
  too few (one per backtest window).
- Finite-sample level: the upper bound of a level q is the k-th smallest error with
  k = ceil((n + 1) q) (the level k/n, at most n); the lower bound mirrors it from the top.
  With n errors that is the smallest bound with at least q coverage of an exchangeable
  next error; where k would exceed n the largest error is all there is.
- Too few errors in a bucket for a band (fewer than ``TAIL_ERRORS`` expected beyond each
  bound: 50 for 80%, 200 for 95%): the bucket borrows its neighbours' errors, nearest
  first, up to every bucket's (the pooled errors). Intermittent demand's tails are a
  handful of orders; a bound set by one or two of them moved with every backtest.
- Widths never shrink with the horizon: each side's width is made non-decreasing over
  the buckets (pool-adjacent-violators, weighted by each bucket's own error count: a
  noisy narrow bucket after a wide one is averaged with it, where a running maximum would
  lift every later bucket to the widest estimate).
- Optionally the widths follow the demand level (``calibrate``'s ``levels``), within
  1/``MAX_LEVEL_RATIO`` .. ``MAX_LEVEL_RATIO`` of the backtest's.
- Beyond the last backtested step the last bucket's widths grow with sqrt(step / last
  step), the level's uncertainty of a random walk (nothing was measured out there), at
  most ``MAX_GROWTH`` times: a short calibration (a new item's few residuals) must not
  stretch a one-day width over months.
- The 95% band contains the 80% band; lower offsets are <= 0 <= upper offsets, so the
  bounds always bracket the point forecast.
"""

from __future__ import annotations

import math

import numpy as np

# Band -> (lower tail, upper tail) quantile levels.
LEVELS = {"80": (0.10, 0.90), "95": (0.025, 0.975)}
# First step of each horizon bucket: 1, 2-7, 8-14, 15-28, 29+ days; weeks 1, 2, 3-4, 5+;
# months 1, 2, 3+.
HORIZON_BUCKETS = {"day": (1, 2, 8, 15, 29), "week": (1, 2, 3, 5), "month": (1, 2, 3)}
# A tail's bound rests on the few errors beyond it: a bucket borrows until this many are
# expected out there, 50 errors for the 80% band and 200 for the 95% one (daily: the 95%
# band pools a 6-window backtest's errors; the 80% one keeps its horizon buckets). Also far
# above what the order statistic needs to exist (ceil((n + 1) 0.975) <= n from n = 39).
TAIL_ERRORS = 5
MAX_GROWTH = 2.0
MAX_LEVEL_RATIO = 2.0
# A selection stored before per-horizon calibration has only its 80% errors: the 95% band
# stretches them by the normal distribution's ratio z(0.975) / z(0.9).
GAUSSIAN_95_OVER_80 = 1.959964 / 1.281552


def conformal_bound(errors: np.ndarray, q: float) -> float:
    """The finite-sample q bound of ``errors``: for q >= 0.5 the ceil((n + 1) q)-th
    smallest, for q < 0.5 the ceil((n + 1) (1 - q))-th largest (clipped to the sample)."""
    ordered = np.sort(np.asarray(errors, dtype=float))
    n = len(ordered)
    if n == 0:
        return 0.0
    if q >= 0.5:
        return float(ordered[min(math.ceil((n + 1) * q), n) - 1])
    return float(ordered[n - min(math.ceil((n + 1) * (1 - q)), n)])


def _non_decreasing(values: list[float], weights: list[float]) -> list[float]:
    """Weighted isotonic (non-decreasing) fit: pool adjacent violators."""
    blocks: list[list[float]] = []  # [weighted sum, weight, members]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([value * weight, weight, 1])
        while len(blocks) > 1 and (blocks[-2][0] / blocks[-2][1]
                                   > blocks[-1][0] / blocks[-1][1]):
            total, w, members = blocks.pop()
            blocks[-1] = [blocks[-1][0] + total, blocks[-1][1] + w, blocks[-1][2] + members]
    out: list[float] = []
    for total, weight, members in blocks:
        out += [total / weight] * int(members)
    return out


def calibrate(errors, steps, bucket: str = "day", levels=None) -> dict | None:
    """Per-horizon-bucket 80% and 95% error offsets from ``errors`` (actual - forecast,
    observed buckets only) made ``steps`` buckets ahead (1 = the first forecast bucket).
    None without errors.

    ``levels``: the demand level (recent mean per bucket) at the origin of the window each
    error comes from. Given, their mean is stored as ``level`` and ``offsets`` scales the
    widths by the level now over it (within 1/``MAX_LEVEL_RATIO`` .. ``MAX_LEVEL_RATIO``):
    an item whose demand grew since the backtest gets wider bounds. Bounded, because a
    launch or a run-out makes the ratio meaningless (a backtest level near zero).
    """
    errors = np.asarray(errors, dtype=float)
    steps = np.asarray(steps, dtype=int)
    if errors.shape != steps.shape:
        raise ValueError("errors and steps must have the same length")
    level = None
    if levels is not None:
        levels = np.asarray(levels, dtype=float)
        if levels.shape != errors.shape:
            raise ValueError("errors and levels must have the same length")
        level = float(np.nanmean(levels)) if len(levels) else None
    keep = np.isfinite(errors)
    errors, steps = errors[keep], steps[keep]
    if len(errors) == 0:
        return None
    last_step = int(steps.max())
    starts = [s for s in HORIZON_BUCKETS[bucket] if s <= last_step]
    edges = [*starts[1:], last_step + 1]
    groups = [errors[(steps >= lo) & (steps < hi)] for lo, hi in zip(starts, edges, strict=True)]
    used = [i for i, g in enumerate(groups) if len(g)]
    starts, groups = [starts[i] for i in used], [groups[i] for i in used]
    out: dict = {"bucket": bucket, "steps": starts, "last_step": last_step,
                 "errors": [len(g) for g in groups]}
    if level is not None and level > 0:
        out["level"] = round(level, 9)
    for band, (low_q, high_q) in LEVELS.items():
        lows, highs = [], []
        needed = math.ceil(TAIL_ERRORS / low_q)
        for i in range(len(groups)):
            sample = _borrowed(groups, i, needed)
            lows.append(-min(conformal_bound(sample, low_q), 0.0))  # widths, >= 0
            highs.append(max(conformal_bound(sample, high_q), 0.0))
        weights = [float(len(g)) for g in groups]
        out[f"lower_{band}"] = [-w for w in _non_decreasing(lows, weights)]
        out[f"upper_{band}"] = _non_decreasing(highs, weights)
    for i in range(len(groups)):  # isotonic fits of the two bands may cross: 95 holds 80
        out["lower_95"][i] = min(out["lower_95"][i], out["lower_80"][i])
        out["upper_95"][i] = max(out["upper_95"][i], out["upper_80"][i])
    for key in ("lower_80", "upper_80", "lower_95", "upper_95"):
        out[key] = [round(float(v), 6) + 0.0 for v in out[key]]  # + 0.0: no -0.0 in JSON
    return out


def _borrowed(groups: list[np.ndarray], i: int, needed: int) -> np.ndarray:
    """Bucket ``i``'s errors, with its neighbours' (nearest first, both sides at once)
    while it has fewer than ``needed``."""
    sample, distance = [groups[i]], 1
    while sum(len(g) for g in sample) < needed and distance < len(groups):
        sample += [groups[j] for j in (i - distance, i + distance) if 0 <= j < len(groups)]
        distance += 1
    return np.concatenate(sample)


def offsets(calibration: dict, steps, level: float | None = None) -> dict[str, np.ndarray]:
    """{"lower_80", "upper_80", "lower_95", "upper_95"}: the offsets to add to the point
    forecast of each of ``steps`` (1 = the first forecast bucket). ``level``: the demand
    level now (``calibrate``'s ``levels``), for a calibration that stored its own."""
    scale = 1.0
    if calibration.get("level") and level is not None:
        scale = float(np.clip(level / float(calibration["level"]), 1 / MAX_LEVEL_RATIO,
                              MAX_LEVEL_RATIO))
    steps = np.asarray(steps, dtype=float)
    starts = np.asarray(calibration["steps"], dtype=float)
    index = np.clip(np.searchsorted(starts, steps, side="right") - 1, 0, len(starts) - 1)
    last = float(calibration["last_step"])
    growth = np.minimum(np.sqrt(np.maximum(steps, last) / max(last, 1.0)), MAX_GROWTH)
    return {key: np.asarray(calibration[key], dtype=float)[index] * growth * scale
            for key in ("lower_80", "upper_80", "lower_95", "upper_95")}


def scalar_offsets(err_low: float, err_high: float, n_steps: int) -> dict[str, np.ndarray]:
    """The offsets of a selection without per-horizon errors (stored before them): its
    pooled 80% pair on every step, the 95% band stretched from it (normal ratio)."""
    low, high = min(float(err_low), 0.0), max(float(err_high), 0.0)
    ones = np.ones(n_steps)
    return {"lower_80": low * ones, "upper_80": high * ones,
            "lower_95": low * GAUSSIAN_95_OVER_80 * ones,
            "upper_95": high * GAUSSIAN_95_OVER_80 * ones}


def bounds(yhat, offs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Bounds of both bands around ``yhat``: clipped at 0, lower <= yhat <= upper, the 95%
    band around the 80% one."""
    yhat = np.asarray(yhat, dtype=float)
    lower_80 = np.minimum(np.clip(yhat + offs["lower_80"], 0.0, None), yhat)
    upper_80 = np.maximum(yhat + offs["upper_80"], yhat)
    lower_95 = np.minimum(np.clip(yhat + offs["lower_95"], 0.0, None), lower_80)
    upper_95 = np.maximum(yhat + offs["upper_95"], upper_80)
    return {"yhat_lower": lower_80, "yhat_upper": upper_80,
            "yhat_lower_95": lower_95, "yhat_upper_95": upper_95}
