"""Forecast every item x location of a portfolio with its class's baseline.

Pure: a demand frame in, forecast rows out. One item that fails is recorded and
skipped; the rest of the portfolio goes on. (Prophet and backtest selection come with
the forecast service; the seam is ``forecast_series``.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from assets.forecast.baselines import choose_baseline, classify_demand, forecast_baseline

MODEL_VERSION = "1"


@dataclass
class PortfolioForecast:
    forecasts: pd.DataFrame
    classes: Counter = field(default_factory=Counter)
    methods: Counter = field(default_factory=Counter)
    failures: list[dict] = field(default_factory=list)
    attempted: int = 0


def forecast_series(history: pd.Series, censored: pd.Series, horizon: int,
                    as_of: date) -> tuple[str, str, pd.DataFrame]:
    demand_class = classify_demand(history, censored=censored, as_of=as_of)
    method = choose_baseline(demand_class)
    frame = forecast_baseline(history, horizon, method, censored=censored, as_of=as_of)
    return demand_class, method, frame


def forecast_portfolio(demand: pd.DataFrame, horizon: int, as_of: date) -> PortfolioForecast:
    """``demand``: item_id, location_id, demand_date, quantity, is_stockout."""
    result = PortfolioForecast(forecasts=pd.DataFrame())
    parts: list[pd.DataFrame] = []
    if demand.empty:
        return result
    demand = demand.assign(demand_date=pd.to_datetime(demand["demand_date"]),
                           quantity=pd.to_numeric(demand["quantity"]).astype(float))
    for (item_id, location_id), rows in demand.groupby(["item_id", "location_id"], sort=True):
        result.attempted += 1
        rows = rows.set_index("demand_date").sort_index()
        try:
            demand_class, method, frame = forecast_series(
                rows["quantity"], rows["is_stockout"].astype(bool), horizon, as_of)
        except Exception as exc:  # one bad series must not stop the portfolio
            result.failures.append({"item_id": item_id, "location_id": location_id,
                                    "error": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        result.classes[demand_class] += 1
        result.methods[method] += 1
        parts.append(frame.assign(item_id=item_id, location_id=location_id,
                                  model_name=method, model_version=MODEL_VERSION,
                                  demand_class=demand_class))
    if parts:
        result.forecasts = pd.concat(parts, ignore_index=True)
    return result
