"""replace_file: a file replaced whole, with exactly the mode asked for."""

from __future__ import annotations

import os
import stat

from syncd.core.files import replace_file


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_text_and_bytes_replace_the_file_and_leave_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    replace_file(path, "naïve\r\nline\n", newline="")
    assert path.read_bytes() == "naïve\r\nline\n".encode()
    replace_file(path, b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_the_mode_asked_for_holds_whatever_the_umask_or_a_stale_temporary(tmp_path):
    path = tmp_path / "secret.json"
    stale = tmp_path / ".secret.json.tmp"
    stale.write_text("left by a crash")
    stale.chmod(0o666)
    previous = os.umask(0)
    try:
        replace_file(path, "{}", mode=0o600)
        assert mode(path) == 0o600
        replace_file(tmp_path / "unit.service", b"[Unit]\n", mode=0o644)
        assert mode(tmp_path / "unit.service") == 0o644
    finally:
        os.umask(previous)
    assert not stale.exists()


def test_without_a_mode_the_umask_decides(tmp_path):
    previous = os.umask(0o027)
    try:
        replace_file(tmp_path / "page.html", "<p>")
    finally:
        os.umask(previous)
    assert mode(tmp_path / "page.html") == 0o640
