"""Two in-process runs for one job and day: the second waits for the first, saying so;
dbt builds one at a time however they were started (resources/locks.py)."""

from __future__ import annotations

import threading
import time

from orchestration.platform import run_slot
from resources.database import connect
from resources.locks import exclusive


def test_a_second_run_for_the_same_day_waits_and_says_so(settings):
    order: list[str] = []
    said: list[str] = []
    first_in = threading.Event()
    release = threading.Event()

    def first():
        with run_slot(settings, "forecast_and_alerts", "2025-06-01", echo=said.append):
            order.append("first in")
            first_in.set()
            release.wait(30)
            order.append("first out")

    def second():
        first_in.wait(30)
        with run_slot(settings, "forecast_and_alerts", "2025-06-01", echo=said.append):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_in.wait(30)
    time.sleep(1.0)  # the second is blocked by now
    assert order == ["first in"]
    release.set()
    for thread in threads:
        thread.join(30)
    assert order == ["first in", "first out", "second in"]
    assert len(said) == 1 and "waiting" in said[0]
    # Another day, or another job, does not wait.
    with run_slot(settings, "forecast_and_alerts", "2025-06-01", echo=said.append), \
            run_slot(settings, "forecast_and_alerts", "2025-06-02", echo=said.append), \
            run_slot(settings, "nightly", "2025-06-01", echo=said.append):
        pass
    assert len(said) == 1


def test_a_lock_dies_with_its_session(settings):
    holder = connect(settings, autocommit=True)
    context = exclusive(holder, "dbt build")
    context.__enter__()
    holder.close()  # the process holding it died: the server releases it
    with connect(settings, autocommit=True) as conn, exclusive(conn, "dbt build",
                                                               on_wait=pytest_fail):
        pass


def pytest_fail(message: str) -> None:
    raise AssertionError(f"waited although the holder was gone: {message}")
