"""A full disk or a read-only folder during collect, consolidate and templates: a Chinese message with
its code and exit code 3 — never a traceback — nothing lost, and the same command works once the
trouble is gone.

The trouble is real where this machine allows it: a tiny tmpfs mounted over the folder (full), or a
read-only bind mount (as root, who may write into any folder whatever its mode) or chmod 555 (as
anyone else). Where mounting is not possible, a full disk is simulated at the boundary instead:
``os.fsync`` made to fail with ENOSPC, as it does on a full disk for data the system had buffered.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import api
from pipeline.cli import app

from .conftest import filled

ROOT = Path(__file__).resolve().parents[1]


def _can_mount() -> bool:
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = Path(tempfile.mkdtemp(prefix="huizong-mount-probe-"))
    try:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(probe)], capture_output=True).returncode:
            return False
        subprocess.run(["umount", str(probe)], check=True)
        return True
    finally:
        probe.rmdir()


MOUNT = _can_mount() and not os.environ.get("HUIZONG_TEST_NO_MOUNT")  # set it to try the fallbacks


@contextmanager
def trouble(folder: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    """``folder`` full or read-only for the duration; yields whether the trouble is real (True) or simulated."""
    folder.mkdir(parents=True, exist_ok=True)
    if MOUNT:
        args = ["-t", "tmpfs", "-o", "size=8k", "tmpfs"] if kind == "full" else ["--bind", "-o", "ro", str(folder)]
        subprocess.run(["mount", *args, str(folder)], check=True)
        try:
            yield True
        finally:
            subprocess.run(["umount", str(folder)], check=True)
        return
    if kind == "readonly" and os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield True
        finally:
            folder.chmod(mode)
        return
    if kind == "readonly":
        pytest.skip("root without mount: no way to make a folder read-only here")

    def full(fd: int) -> None:  # simulated: the boundary where a full disk shows
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", full)
        yield False


def drop_reports(ctx: api.Context, n: int = 3) -> None:
    t0 = time.time() - 3600
    for i in range(n):
        path = ctx.workspace.inbox / f"{i}.xlsx"
        path.write_bytes(filled(ctx, i))
        os.utime(path, (t0 + i, t0 + i))


def run(real: bool, *args: str) -> tuple[int, str]:
    """The command as the clerk runs it: a real process when the trouble is real, else in this process."""
    if real:
        proc = subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
        return proc.returncode, proc.stdout + proc.stderr
    res = CliRunner().invoke(app, list(args))
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.output


def submissions(ctx: api.Context) -> int:
    import sqlite3

    con = sqlite3.connect(ctx.workspace.ledger_path)
    try:
        return con.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("kind, code", [("full", "X011"), ("readonly", "X012")])
def test_collect_into_a_full_or_read_only_archive(ctx, monkeypatch, kind, code):
    drop_reports(ctx)
    root = str(ctx.workspace.root)
    with trouble(ctx.workspace.archive, kind, monkeypatch) as real:
        status, output = run(real, "collect", "-w", root)
        assert status == 3, output
        assert f"[错误 {code}]" in output and "没有丢失" in output
        assert "Traceback" not in output
        assert submissions(ctx) == 0  # nothing recorded without its archived original
        assert sorted(p.name for p in ctx.workspace.inbox.glob("*.xlsx")) == ["0.xlsx", "1.xlsx", "2.xlsx"]
    status, output = run(real, "collect", "-w", root)
    assert status == 0, output
    assert submissions(ctx) == 3


@pytest.mark.parametrize("kind, code", [("full", "X011"), ("readonly", "X012")])
def test_consolidate_into_a_full_or_read_only_reports_folder(ctx, monkeypatch, kind, code):
    drop_reports(ctx)
    api.collect(ctx)
    root = str(ctx.workspace.root)
    with trouble(ctx.workspace.reports, kind, monkeypatch) as real:
        status, output = run(real, "consolidate", "-w", root, "--period", "2026-10")
        assert status == 3, output
        assert f"[错误 {code}]" in output and "Traceback" not in output
        assert not list(ctx.workspace.reports.glob("*.xlsx"))
        assert not list(ctx.workspace.reports.glob(".tmp-*"))  # no half-written file left behind
    status, output = run(real, "consolidate", "-w", root, "--period", "2026-10")
    assert status == 0, output
    assert ctx.workspace.summary_path("2026-10").is_file()


@pytest.mark.parametrize("kind, code", [("full", "X011"), ("readonly", "X012")])
def test_templates_into_a_full_or_read_only_folder(ctx, monkeypatch, kind, code):
    folder = ctx.workspace.templates / "2026-11"
    root = str(ctx.workspace.root)
    with trouble(folder, kind, monkeypatch) as real:
        status, output = run(real, "templates", "-w", root, "--period", "2026-11")
        assert status == 3, output
        assert f"[错误 {code}]" in output and "Traceback" not in output
        assert not list(folder.glob(".tmp-*"))
    status, output = run(real, "templates", "-w", root, "--period", "2026-11")
    assert status == 0, output
    assert len(list(folder.glob("*.xlsx"))) == len(ctx.registry.villages)
