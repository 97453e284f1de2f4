"""Forecast intervals calibrated per horizon: 80% and 95% bounds, and their coverage.

Revision ID: 0008
Revises: 0007

One scalar error pair per item (``ml.model_selections.err_low/err_high``) gave the same
interval width on day 1 and day 90. The selection now keeps its backtest error quantiles
per horizon bucket (``interval_errors``, JSON), the forecasts carry a 95% band beside the
80% one (``yhat_lower`` / ``yhat_upper`` stay the 80% bounds every reader knows), and
accuracy scores the 95% band's coverage too. Existing rows keep nulls: no 95% band was made.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
alter table ml.model_selections add column interval_errors jsonb;
alter table forecast.forecasts
    add column yhat_lower_95 double precision,
    add column yhat_upper_95 double precision;
alter table forecast.forecast_accuracy add column coverage_95 double precision;
""")


def downgrade() -> None:
    op.execute("""
alter table forecast.forecast_accuracy drop column coverage_95;
alter table forecast.forecasts drop column yhat_upper_95, drop column yhat_lower_95;
alter table ml.model_selections drop column interval_errors;
""")
