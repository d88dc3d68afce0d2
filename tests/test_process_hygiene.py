"""What a collection leaves behind: no worker processes once it is killed, a word about what an
interrupted run recorded, files only the owner can read, and no ID number shown unless asked for."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import api
from pipeline.cli import app

from .conftest import filled

ROOT = Path(__file__).resolve().parents[1]


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, state) of every process, from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            continue
        after = text[text.rindex(")") + 2:].split()  # the command name may hold spaces and brackets
        table[int(entry)] = (int(after[1]), after[0])
    return table


def descendants(pid: int) -> set[int]:
    table = _proc_table()
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, _state) in table.items():
            if ppid == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pids: set[int]) -> set[int]:
    """Those of ``pids`` that still run (a zombie has ended; only its exit status waits to be collected)."""
    table = _proc_table()
    return {p for p in pids if p in table and table[p][1] != "Z"}


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def poll(condition, timeout: float = 120.0, what: str = ""):
    """Wait for ``condition()`` to be truthy, checking often; a generous bound only against a hang."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table from /proc")
def test_killing_collect_leaves_no_worker_process_behind(ctx):
    t0 = time.time() - 3600
    for i in range(3):
        path = ctx.workspace.inbox / f"{i}.xlsx"
        path.write_bytes(filled(ctx, i))
        os.utime(path, (t0 + i, t0 + i))
    env = dict(os.environ, HUIZONG_STALL_AT="archived:1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "collect", "-w", str(ctx.workspace.root)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers = poll(lambda: {p for p in descendants(proc.pid) if "spawn_main" in cmdline(p)}, what="the worker processes")
        children = descendants(proc.pid)
        assert proc.poll() is None, "collect should still be running (stalled after archiving)"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        poll(lambda: not running(children), what=f"processes {running(children)} to exit after their parent was killed")
        assert workers <= children
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # and nothing was lost: the next run does the work
    summary = api.collect(ctx)
    assert sorted(i.name for i in summary.items) == ["0.xlsx", "1.xlsx", "2.xlsx"]


def test_files_recorded_by_an_interrupted_run_are_listed_on_the_next(ctx):
    t0 = time.time() - 3600
    for i in range(3):
        path = ctx.workspace.inbox / f"{i}.xlsx"
        path.write_bytes(filled(ctx, i, births_total="十二") if i == 2 else filled(ctx, i))
        os.utime(path, (t0 + i, t0 + i))
    env = dict(os.environ, HUIZONG_CRASH_AT="tidied:1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "pipeline", "collect", "-w", str(ctx.workspace.root)]
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=300).returncode == 137  # died after the commit
    res = CliRunner().invoke(app, ["collect", "-w", str(ctx.workspace.root)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "上次运行中断前已登记" in res.output
    assert "1.xlsx" in res.output and "2.xlsx" in res.output and "退回" in res.output
    assert "另有 2 份在上次中断的运行中已登记" in res.output
    assert list(ctx.workspace.inbox.glob("*.xlsx")) == []
    res = CliRunner().invoke(app, ["collect", "-w", str(ctx.workspace.root), "--json"], catch_exceptions=False)
    assert json.loads(res.output)["resumed"] == []  # said once


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_archive_ledger_and_logs_are_readable_by_the_owner_only(ctx):
    (ctx.workspace.inbox / "a.xlsx").write_bytes(filled(ctx, 0))
    (ctx.workspace.inbox / "b.xlsx").write_bytes(filled(ctx, 1, births_total="十二"))
    api.collect(ctx)
    root = ctx.workspace.root

    def mode(p: Path) -> int:
        return stat.S_IMODE(p.stat().st_mode)

    assert mode(root / "archive") == 0o700 and mode(root / ".huizong") == 0o700
    for p in (root / "archive").rglob("*"):
        assert mode(p) == (0o700 if p.is_dir() else 0o400), p
    ledger = [p for p in (root / ".huizong").iterdir() if p.name.startswith("ledger.sqlite")]
    assert ledger and all(mode(p) == 0o600 for p in ledger), [(p.name, oct(mode(p))) for p in ledger]
    from pipeline.serve import open_log

    log = open_log(root)
    log.close()
    assert mode(root / ".huizong" / "serve.log") == 0o600


def test_validate_json_masks_id_numbers_unless_asked(ctx, tmp_path):
    reg = [{"baby_name": "王小明", "sex": "男", "birth_date": "2026-10-05", "birth_order": 1, "mother_name": "李红",
            "mother_id": "110105194912310021", "report_status": "按时上报"}]
    bad = tmp_path / "身份证.xlsx"
    bad.write_bytes(filled(ctx, 0, register=reg, births_total=1, births_reported=1, births_reported_late=0))
    res = CliRunner().invoke(app, ["validate", str(bad), "--json"], catch_exceptions=False)
    assert "110105194912310021" not in res.output
    issue = next(i for d in json.loads(res.output) for i in d["issues"] if i["code"] == "V015")
    assert "*" in issue["value"] and "*" in issue["message"]
    res = CliRunner().invoke(app, ["validate", str(bad)], catch_exceptions=False)
    assert "110105194912310021" not in res.output
    res = CliRunner().invoke(app, ["validate", str(bad), "--json", "--show-personal"], catch_exceptions=False)
    issue = next(i for d in json.loads(res.output) for i in d["issues"] if i["code"] == "V015")
    assert issue["value"] == "110105194912310021"
