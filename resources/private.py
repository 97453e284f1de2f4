"""Files the platform writes are private to its user: raw ERP exports, kept copies,
charts, the demo inbox and the embedded database hold business data and secrets.

Every entry point (the CLI, the Dagster code location) sets a 0077 umask, so new folders
are 0700 and new files 0600 whoever creates them (dbt, matplotlib, PostgreSQL, apprise
attachments). ``tighten`` closes an existing installation made before that, on
``forgecast db up``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """Process-wide: children (dbt, ``dagster dev``, run workers) inherit it."""
    os.umask(PRIVATE_UMASK)


def data_dir_mode(root: Path) -> int:
    """0700, or 0711 when the embedded server runs as another user: as root, pgserver runs
    PostgreSQL as its own ``pgserver`` user, which must traverse the data dir to reach
    ``pgdata`` (it cannot list it; everything else inside stays 0700 / 0600)."""
    pgdata = root / "pgdata"
    if os.geteuid() == 0 and pgdata.exists() and pgdata.stat().st_uid != 0:
        return 0o711
    return 0o700


def restrict_data_dir(root: Path) -> None:
    """The data dir itself back to ``data_dir_mode`` (pgserver opens it to 0755 when it
    starts as root)."""
    if root.is_dir() and not root.is_symlink():
        root.chmod(data_dir_mode(root))


def tighten(root: Path) -> int:
    """Remove group and other access below ``root`` (folders 0700, files at most 0600;
    ``root`` itself ``data_dir_mode``). Symlinks are left alone, never followed; the
    embedded server's ``pgdata`` is PostgreSQL's own (already 0700). Returns how many
    entries changed."""
    changed = 0
    if not root.is_dir() or root.is_symlink():
        return changed
    for folder, dirs, files in os.walk(root):
        if Path(folder) == root and "pgdata" in dirs:
            dirs.remove("pgdata")
        for name in [None, *dirs, *files]:
            path = Path(folder) if name is None else Path(folder) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                continue
            mode = stat.S_IMODE(info.st_mode)
            private = (data_dir_mode(root) if path == root
                       else mode & 0o700 if stat.S_ISREG(info.st_mode) else 0o700)
            if mode != private:
                path.chmod(private)
                changed += 1
    return changed


def regular_file_problem(path: Path) -> str | None:
    """Why ``path`` is not an export Forgecast reads (a symlink, a FIFO, a device or a
    folder), or None. Checked with lstat: a link to /etc/shadow must not be copied in."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "file not found"
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link: Forgecast reads only regular files (copy the export in)"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file (a folder, FIFO or device)"
    return None
