"""Run a process tree (``dagster dev``: webserver, daemon, code servers) under a parent
that a service manager can stop: SIGTERM, SIGINT or SIGHUP to this process ends every
process of the tree within ``grace`` seconds.

``dagster dev`` shuts down cleanly on SIGINT but ignores SIGTERM, which is what systemd,
Docker and Kubernetes send; exec'ing into it left a container stop waiting for SIGKILL.
The tree runs in a session of its own, so a terminal's Ctrl-C reaches it only through
this parent, once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pgid, signum)


def run_supervised(args: list[str], env: dict[str, str], grace: float = 5.0) -> int:
    """Start ``args`` in a new session and wait for it; returns its exit code (128 + the
    signal when this parent was told to stop)."""
    child = subprocess.Popen(args, env=env, start_new_session=True)
    stop: list[int] = []

    def on_signal(signum, _frame) -> None:
        if not stop:
            stop.append(signum)
            _signal_group(child.pid, signal.SIGINT)  # dagster dev's own clean shutdown

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        deadline = None
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop and deadline is None:
                    deadline = time.monotonic() + grace
                if deadline is not None and time.monotonic() > deadline:
                    _signal_group(child.pid, signal.SIGKILL)
        # What the tree left behind (a code server still finishing) goes too.
        _signal_group(child.pid, signal.SIGTERM)
        time.sleep(0.5)
        _signal_group(child.pid, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 + stop[0] if stop else code
