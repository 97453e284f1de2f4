"""A throwaway PostgreSQL cluster from the machine's own binaries (Debian's
``/usr/lib/postgresql/<major>/bin``): the test suite's PostgreSQL 15 leg and the
benchmark of a dbt build on 15 against the embedded 16 (bench/server_versions.py).

The cluster listens only on a unix socket in a short temporary directory (a socket path
must stay under ~100 bytes) and trusts local connections of its superuser ``postgres``.
initdb refuses to run as root: as root, every server command runs as Debian's
``postgres`` user, who owns the directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PG15_BIN = Path("/usr/lib/postgresql/15/bin")

# An external server is rarely created with the C collation (Forgecast's embedded one
# is): the test cluster sorts text like a US-English ICU locale, so an ordering that
# depends on the collation gives other results here than on the embedded server.
ICU_EN_US = ("--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US")
# Byte order, as the embedded server's databases: for a comparison of versions alone.
BYTE_ORDER = ("--locale=C.UTF-8", "--lc-collate=C")
# A test cluster's data is thrown away: no flush to disk.
THROWAWAY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def available(bin_dir: Path = PG15_BIN) -> bool:
    return all((bin_dir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres"))


@dataclass(frozen=True)
class Cluster:
    bin_dir: Path
    root: Path  # holds data/, log and the socket

    @property
    def socket_dir(self) -> str:
        return str(self.root)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.root}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host={self.root} user=postgres dbname={database}"

    def version(self) -> str:
        return _run([str(self.bin_dir / "postgres"), "--version"]).strip()

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete the cluster."""
        try:
            _as_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                       "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(bin_dir: Path = PG15_BIN, *, locale: tuple[str, ...] = ICU_EN_US,
                  settings: dict[str, str] | None = None) -> Cluster:
    """initdb a new cluster in a temporary directory and start it (returns when it accepts
    connections)."""
    root = Path(tempfile.mkdtemp(prefix="fcpg-", dir="/tmp"))
    cluster = Cluster(bin_dir, root)
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        _as_owner([str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "postgres",
                   "--auth=trust", "--encoding=UTF8", "--no-sync", *locale])
        options = [f"-c {name}={value}" for name, value in
                   {"listen_addresses": "''", "unix_socket_directories": str(root),
                    **(settings or {})}.items()]
        _as_owner([str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"),
                   "-o", " ".join(options), "-w", "-t", "60", "start"])
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


def _as_owner(cmd: list[str]) -> str:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return _run(cmd)


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc.stdout
