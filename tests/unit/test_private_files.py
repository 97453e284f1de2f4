"""Files the platform writes are private (resources/private.py)."""

import os

from resources.private import regular_file_problem, tighten


def test_tighten_closes_group_and_other_access_and_leaves_links_alone(tmp_path):
    root = tmp_path / "data"
    (root / "files" / "ab").mkdir(parents=True)
    export = root / "files" / "ab" / "export.csv"
    export.write_text("x")
    script = root / "run.sh"
    script.write_text("#!/bin/sh\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    (root / "link").symlink_to(outside)
    for path, mode in ((root, 0o755), (root / "files", 0o775), (root / "files" / "ab", 0o755),
                       (export, 0o644), (script, 0o755), (outside, 0o644)):
        path.chmod(mode)

    assert tighten(root) == 5
    modes = {p: p.stat().st_mode & 0o777 for p in (root, root / "files", export, script)}
    assert modes == {root: 0o700, root / "files": 0o700, export: 0o600, script: 0o700}
    assert outside.stat().st_mode & 0o777 == 0o644  # the link's target is not ours to change
    assert tighten(root) == 0  # idempotent
    assert tighten(tmp_path / "missing") == 0


def test_only_regular_files_are_exports(tmp_path):
    plain = tmp_path / "a.csv"
    plain.write_text("x")
    (tmp_path / "link.csv").symlink_to(plain)
    os.mkfifo(tmp_path / "fifo.csv")
    assert regular_file_problem(plain) is None
    assert "symbolic link" in regular_file_problem(tmp_path / "link.csv")
    assert "not a regular file" in regular_file_problem(tmp_path / "fifo.csv")
    assert "not a regular file" in regular_file_problem(tmp_path)
    assert regular_file_problem(tmp_path / "nope.csv") == "file not found"
