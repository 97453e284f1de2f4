"""`forgecast notify ...`: recipients, preferences, test messages, deliveries."""

from __future__ import annotations

import click


@click.group("notify")
def notify_group() -> None:
    """Recipients, their channel preferences, and the delivery log."""
