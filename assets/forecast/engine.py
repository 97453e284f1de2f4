"""Run per-item work (selection or nightly forecast) over a portfolio: a process pool
across items (workers = cores), failures isolated per item, progress reported.

Pure: no Dagster, no database. The caller passes a ``progress`` callback (the asset logs
items done / total and the rate through it).

Isolation: an item whose work raises is recorded with its error and skipped. A worker
process that dies (a segfault in a native library, the OOM killer) breaks the pool; the
items it did not finish are retried one per task, and an item that kills its worker again
is recorded as failed. Every pool break is also kept in ``RunResult.incidents`` (how many
items it interrupted), so a run that recovered still says a worker died.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import date

import pandas as pd

from assets.forecast.selection import ForecastConfig, Selection, forecast_item, select_model

SERIAL_BELOW = 24  # a pool costs more than it saves for a handful of items


@dataclass
class ItemTask:
    item_id: str
    location_id: str
    dates: list  # demand dates (datetime64 array or list)
    quantity: list
    stockout: list
    lead_time_days: int = 0
    selection: dict | None = None
    warm_params: dict | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.item_id, self.location_id)


@dataclass
class RunResult:
    results: dict = field(default_factory=dict)  # key -> result dict
    failures: list = field(default_factory=list)  # {item_id, location_id, error}
    attempted: int = 0
    seconds: float = 0.0
    # Worker processes that died (the pool broke), even where the retries then succeeded:
    # {item_id: None, location_id: None, error, items_retried}.
    incidents: list = field(default_factory=list)


def _series(task: ItemTask) -> tuple[pd.Series, pd.Series]:
    index = pd.DatetimeIndex(task.dates)
    return (pd.Series(task.quantity, index=index, dtype="float64"),
            pd.Series(task.stockout, index=index, dtype=bool))


def _do(mode: str, task: ItemTask, as_of: date, config: ForecastConfig) -> dict:
    history, censored = _series(task)
    if mode == "select":
        selection = select_model(history, censored, as_of, task.lead_time_days, config,
                                 prior_params=task.warm_params)
        return asdict(selection)
    selection = Selection(**task.selection) if task.selection else None
    fc = forecast_item(history, censored, as_of, selection, config, task.warm_params)
    return {"frame": fc.frame, "model_name": fc.model_name, "model_version": fc.model_version,
            "demand_class": fc.demand_class, "params": fc.params, "note": fc.note}


def _chunk(mode: str, tasks: list[ItemTask], as_of: date, config: ForecastConfig) -> list:
    out = []
    for task in tasks:
        try:
            out.append((task.key, True, _do(mode, task, as_of, config)))
        except Exception as exc:  # one bad series must not stop the others
            out.append((task.key, False, f"{type(exc).__name__}: {exc}"[:300]
                        + _where(exc)))
    return out


def _where(exc: BaseException) -> str:
    """' (at file.py:123)' for errors raised outside this package's own checks."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames or isinstance(exc, ValueError) and "non-finite" in str(exc):
        return ""
    last = frames[-1]
    return f" (at {os.path.basename(last.filename)}:{last.lineno})"


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


def _pool(workers: int) -> ProcessPoolExecutor:
    # fork: workers inherit the parent's imports (Prophet, statsforecast), so a pool costs
    # milliseconds, not the seconds a fresh interpreter needs to import them.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def warm_imports(config: ForecastConfig) -> None:
    """Import the model libraries and compile statsforecast's models once in the parent,
    before forking the pool: workers inherit both."""
    global _WARM
    if _WARM:
        return
    from assets.forecast.models import quiet_prophet_logs, warm_up

    quiet_prophet_logs()
    warm_up()
    _WARM = True


_WARM = False


def run_items(mode: str, tasks: Iterable[ItemTask], as_of: date, config: ForecastConfig,
              workers: int | None = None,
              progress: Callable[[int, int, float], None] | None = None,
              progress_every: float = 5.0, chunk_size: int | None = None) -> RunResult:
    """``mode``: "select" (backtest, returns Selection dicts) or "forecast"."""
    tasks = list(tasks)
    result = RunResult(attempted=len(tasks))
    started = time.monotonic()
    workers = workers or default_workers()
    last_report = [started]

    def record(batch: list) -> None:
        for key, ok, value in batch:
            if ok:
                result.results[key] = value
            else:
                result.failures.append({"item_id": key[0], "location_id": key[1], "error": value})
        now = time.monotonic()
        done = len(result.results) + len(result.failures)
        if progress and (now - last_report[0] >= progress_every or done == len(tasks)):
            last_report[0] = now
            progress(done, len(tasks), done / max(now - started, 1e-9))

    warm_imports(config)
    if workers <= 1 or len(tasks) < SERIAL_BELOW:
        for task in tasks:
            record(_chunk(mode, [task], as_of, config))
        result.seconds = time.monotonic() - started
        return result

    size = chunk_size or max(1, min(16, len(tasks) // (workers * 8) or 1))
    chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    pending = _run_pool(mode, chunks, as_of, config, workers, record)
    if pending:
        # The pool broke: retry the unfinished items one per task, then alone.
        singles = [[t] for chunk in pending for t in chunk]
        result.incidents.append(_incident(len(singles), "retried one per task"))
        still = _run_pool(mode, singles, as_of, config, workers, record)
        if still:
            result.incidents.append(_incident(len(still), "retried alone"))
        for chunk in still:
            alone = _run_pool(mode, [chunk], as_of, config, 1, record)
            for lost in alone:
                record([(lost[0].key, False, "worker process died while forecasting this item")])
    result.seconds = time.monotonic() - started
    return result


def _incident(items: int, then: str) -> dict:
    return {"item_id": None, "location_id": None, "items_retried": items,
            "error": f"BrokenProcessPool: a worker process died; {items} unfinished item(s) {then}"}


def _run_pool(mode, chunks, as_of, config, workers, record) -> list:
    """Run chunks; return those whose worker died before they finished."""
    unfinished = []
    with _pool(workers) as pool:
        futures = {}
        for number, chunk in enumerate(chunks):
            try:
                futures[pool.submit(_chunk, mode, chunk, as_of, config)] = chunk
            except BrokenProcessPool:  # a worker died while the rest were being submitted
                unfinished.extend(chunks[number:])
                break
        for future in as_completed(futures):
            try:
                record(future.result())
            except BrokenProcessPool:
                unfinished.append(futures[future])
    return unfinished
