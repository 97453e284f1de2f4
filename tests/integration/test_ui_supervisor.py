"""`forgecast ui` as a service manager runs it: SIGTERM ends every process of the tree
(`dagster dev` alone ignores it), within 10 seconds."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_ui(port: int, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "forgecast ui exited before the UI came up"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise AssertionError("the Dagster UI did not come up")


def test_sigterm_ends_forgecast_ui_and_every_process_it_started(settings):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "ui", "--port", str(port)],
                            cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_for_ui(port, proc)
        tree = psutil.Process(proc.pid).children(recursive=True)
        assert len(tree) >= 2  # dagster dev and at least its webserver
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - sent < 10
        gone, alive = psutil.wait_procs(tree, timeout=2)
        assert alive == [], [p.cmdline() for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
