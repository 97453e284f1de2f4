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


def tighten(root: Path) -> int:
    """Remove group and other access below ``root`` (folders 0700, files at most 0600).
    Symlinks are left alone, never followed. Returns how many entries changed."""
    changed = 0
    if not root.is_dir() or root.is_symlink():
        return changed
    for folder, dirs, files in os.walk(root):
        for name in [None, *dirs, *files]:
            path = Path(folder) if name is None else Path(folder) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                continue
            mode = stat.S_IMODE(info.st_mode)
            private = mode & 0o700 if stat.S_ISREG(info.st_mode) else 0o700
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
