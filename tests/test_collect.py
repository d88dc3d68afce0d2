"""collect: archive first, one ledger row per arrival, versions, duplicates, 待确认, lock, crash safety."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import api
from pipeline.intake.lock import workspace_lock
from pipeline.problems import HuizongError
from pipeline.workbook.fill import fill_template
from pipeline.workbook.template import TemplateIdentity, build_template

from .conftest import PERIOD, filled


def drop(ctx: api.Context, name: str, data: bytes, when: float | None = None) -> Path:
    path = ctx.workspace.inbox / name
    path.write_bytes(data)
    if when is not None:
        os.utime(path, (when, when))
    return path


def rows(ctx: api.Context) -> list[sqlite3.Row]:
    con = sqlite3.connect(ctx.workspace.ledger_path)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(
            "SELECT s.*, r.original_name FROM submissions s JOIN receipts r ON r.id = s.receipt_id ORDER BY s.id"
        ).fetchall()
    finally:
        con.close()


def test_collect_archives_records_and_tidies(ctx):
    data = filled(ctx, 0)
    drop(ctx, "青龙村10月.xlsx", data)
    summary = api.collect(ctx)
    assert summary.line.startswith("已收取 1 份，通过 1 份")
    (row,) = rows(ctx)
    assert (row["status"], row["version"], row["period"]) == ("已接收", 1, "2026-10")
    assert row["village_code"] == ctx.registry.villages[0].code
    digest = hashlib.sha256(data).hexdigest()
    archived = ctx.workspace.archive / digest[:2] / f"{digest}.xlsx"
    assert archived.read_bytes() == data  # the exact bytes, never modified
    assert not os.access(archived, os.W_OK) or os.geteuid() == 0
    assert list(ctx.workspace.inbox.glob("*.xlsx")) == []
    assert [p.name for p in ctx.workspace.processed.rglob("*.xlsx")] == ["青龙村10月.xlsx"]
    # the stored record keeps what scoring needs and masks personal data
    import json

    record = json.loads(row["record_json"])
    assert record["fields"]["births_total"] == len(record["register"])
    for birth in record["register"]:
        assert "*" in birth["mother_id"] and "*" in birth["mother_name"]


def test_versions_duplicates_rejections_and_pending(ctx):
    t0 = time.time() - 3600
    first = filled(ctx, 0)
    second = filled(ctx, 0, special_family_visits=9)
    bad = filled(ctx, 1, births_total="十二")
    drop(ctx, "a.xlsx", first, t0)
    drop(ctx, "a-again.xlsx", first, t0 + 1)  # same bytes, another name
    drop(ctx, "b.xlsx", bad, t0 + 2)
    drop(ctx, "a-v2.xlsx", second, t0 + 3)
    blank = build_template(TemplateIdentity(ctx.programme, ctx.workspace.organ, period=PERIOD))
    v2 = ctx.registry.villages[2]
    from pipeline.example import example_report

    values, register = example_report(v2, PERIOD)
    cols = [c.id for c in ctx.programme.register.columns]
    drop(ctx, "c.xlsx", fill_template(blank, dict(values, village_name=v2.name, report_period="2026年10月"), register, register_columns=cols), t0 + 4)
    summary = api.collect(ctx)
    got = [(r["original_name"], r["status"], r["version"]) for r in rows(ctx)]
    assert got == [
        ("a.xlsx", "已接收", 1),
        ("a-again.xlsx", "重复", None),
        ("b.xlsx", "退回", None),
        ("a-v2.xlsx", "已接收", 2),
        ("c.xlsx", "待确认", None),
    ]
    assert summary.count("重复") == 1
    rejected = rows(ctx)[2]
    assert rejected["n_errors"] >= 1 and rejected["record_json"] is None
    assert (ctx.workspace.root / rejected["feedback_path"]).is_file()
    states = {s.code: s for s in api.status(ctx, PERIOD)}
    assert states[ctx.registry.villages[0].code].state == "已报"
    assert states[ctx.registry.villages[0].code].version == 2
    assert states[ctx.registry.villages[1].code].state == "退回"
    assert states[ctx.registry.villages[2].code].state == "待确认"
    assert states[ctx.registry.villages[3].code].state == "未报"
    # the clerk accepts the pending one explicitly; the decision is recorded
    pending_id = rows(ctx)[4]["id"]
    api.accept(ctx, pending_id, "电话核实：三合村专干用空白模板所报")
    assert api.status(ctx, PERIOD)[2].state == "已报"
    con = sqlite3.connect(ctx.workspace.ledger_path)
    assert con.execute("SELECT note FROM decisions").fetchone()[0].startswith("电话核实")
    with pytest.raises(HuizongError):
        api.accept(ctx, pending_id, "again")  # only 待确认 can be accepted


def test_signature_of_another_village_goes_to_pending(ctx):
    # village 0's signed template, with the header village name changed to village 1's
    data = filled(ctx, 0)
    import io

    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    wb["_huizong"]["B3"] = ctx.registry.villages[1].code  # claim to be another village
    buf = io.BytesIO()
    wb.save(buf)
    drop(ctx, "forged.xlsx", buf.getvalue())
    api.collect(ctx)
    (row,) = rows(ctx)
    assert row["status"] == "待确认"
    assert any(p["code"] == "I003" for p in __import__("json").loads(row["problems_json"]))


def test_excel_lock_files_and_temp_files_are_ignored(ctx):
    drop(ctx, "~$青龙村.xlsx", b"owner lock")
    drop(ctx, ".hidden.xlsx", b"x")
    summary = api.collect(ctx)
    assert summary.items == []
    assert (ctx.workspace.inbox / "~$青龙村.xlsx").exists()


def test_second_run_is_refused_while_one_runs(ctx):
    drop(ctx, "a.xlsx", filled(ctx, 0))
    with workspace_lock(ctx.workspace):
        with pytest.raises(HuizongError) as info:
            api.collect(ctx)
        assert info.value.problems[0].code == "X003"
        proc = subprocess.run(
            [sys.executable, "-m", "pipeline", "collect", "-w", str(ctx.workspace.root)],
            capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 2
        assert "另一个汇总任务正在运行" in proc.stderr
    assert rows(ctx) == []  # nothing was half-done
    api.collect(ctx)
    assert len(rows(ctx)) == 1


# ---- crash safety: kill the process at any moment, re-run, same end state -----------------------

_INBOX: list[tuple[str, bytes]] = []


def _prepare_inbox(ctx: api.Context) -> None:
    """The same bytes every time (openpyxl stamps save times into files, so build them once)."""
    if not _INBOX:
        _INBOX.extend((f"{i:02d}.xlsx", filled(ctx, i)) for i in range(6))
        _INBOX.append(("06-dup.xlsx", _INBOX[0][1]))
        _INBOX.append(("07-bad.xlsx", filled(ctx, 7, births_total="约5")))
        _INBOX.append(("08-v2.xlsx", filled(ctx, 1, newborn_visits=0)))
    t0 = time.time() - 7200
    for i, (name, data) in enumerate(_INBOX):
        drop(ctx, name, data, t0 + i)


def _state(root: Path) -> dict:
    con = sqlite3.connect(root / ".huizong" / "ledger.sqlite")
    subs = con.execute(
        "SELECT r.original_name, s.sha256, s.village_code, s.period, s.status, s.version,"
        " (SELECT r2.original_name FROM submissions d JOIN receipts r2 ON r2.id = d.receipt_id WHERE d.id = s.duplicate_of),"
        " s.n_errors FROM submissions s JOIN receipts r ON r.id = s.receipt_id ORDER BY r.original_name"
    ).fetchall()
    receipts = con.execute("SELECT COUNT(*) FROM receipts").fetchone()[0]
    con.close()
    return {
        "submissions": subs,
        "receipts": receipts,
        "archive": sorted(p.name for p in (root / "archive").rglob("*") if p.is_file()),
        "inbox": sorted(p.name for p in (root / "inbox").glob("*") if p.is_file()),
        "processed": sorted(p.name for p in (root / "inbox" / "已处理").rglob("*") if p.is_file()),
        "feedback": sorted(p.name for p in (root / "feedback").rglob("*") if p.is_file()),
    }


def _run_collect(root: Path, env_extra: dict | None = None, kill_after: float | None = None) -> int:
    env = dict(os.environ, **(env_extra or {}))
    cmd = [sys.executable, "-m", "pipeline", "collect", "-w", str(root)]
    if kill_after is None:
        return subprocess.run(cmd, env=env, capture_output=True, timeout=300).returncode
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


@pytest.fixture
def reference_state(workspace, tmp_path):
    import shutil

    ref = tmp_path / "ref"
    shutil.copytree(workspace, ref)
    ctx = api.load_context(ref)
    _prepare_inbox(ctx)
    assert _run_collect(ref) == 0
    return _state(ref)


@pytest.mark.parametrize("point", ["archived:1", "archived:4", "recorded:1", "recorded:7", "tidied:3", "tidied:9"])
def test_crash_at_any_step_then_rerun_gives_the_same_state(ctx, reference_state, point):
    _prepare_inbox(ctx)
    code = _run_collect(ctx.workspace.root, {"HUIZONG_CRASH_AT": point})
    assert code == 137, "the process should have died at the crash point"
    assert _run_collect(ctx.workspace.root) == 0
    assert _state(ctx.workspace.root) == reference_state


def test_sigkill_at_random_moments_then_rerun_gives_the_same_state(ctx, reference_state):
    rng = random.Random(11)
    _prepare_inbox(ctx)
    for _ in range(3):
        _run_collect(ctx.workspace.root, kill_after=rng.uniform(0.4, 2.0))
    assert _run_collect(ctx.workspace.root) == 0
    assert _state(ctx.workspace.root) == reference_state


def test_a_process_pool_gives_the_same_ledger_in_the_same_order(workspace, tmp_path, monkeypatch):
    import shutil

    import pipeline.intake.checker as checker

    other = tmp_path / "inline"
    shutil.copytree(workspace, other)
    results = []
    for root, pool_from in ((workspace, 1), (other, 10_000)):
        monkeypatch.setattr(checker, "POOL_FROM", pool_from)
        ctx = api.load_context(root)
        t0 = time.time() - 3600
        for i, (name, data) in enumerate(_pool_inbox(ctx)):
            drop(ctx, name, data, t0 + i)
        api.collect(ctx)
        results.append([(r["original_name"], r["status"], r["version"], r["village_code"], r["n_errors"], r["n_warnings"]) for r in rows(ctx)])
    assert results[0] == results[1]
    assert len(results[0]) == 20 and {r[1] for r in results[0]} == {"已接收", "退回", "重复"}


_POOL: list[tuple[str, bytes]] = []


def _pool_inbox(ctx):
    if not _POOL:
        for i in range(18):
            _POOL.append((f"{i:02d}.xlsx", filled(ctx, i, births_total="十二") if i % 7 == 3 else filled(ctx, i)))
        _POOL.append(("18-dup.xlsx", _POOL[0][1]))
        _POOL.append(("19-junk.xlsx", b"not a workbook"))
    return _POOL


def test_the_same_file_sent_several_times_in_one_batch_is_archived_once(ctx, monkeypatch):
    """Archiving runs in threads; copies of one file must not race to replace the same read-only
    archive file (on Windows the second replacement fails)."""
    from pipeline.ledger.archive import Archive

    calls: list[str] = []
    real_put = Archive.put

    def counting_put(self, data, ext):
        calls.append(hashlib.sha256(data).hexdigest())
        return real_put(self, data, ext)

    monkeypatch.setattr(Archive, "put", counting_put)
    t0 = time.time() - 3600
    same = filled(ctx, 0)
    for i in range(5):
        drop(ctx, f"青龙村月报（第{i + 1}次发送）.xlsx", same, t0 + i)
    drop(ctx, "other.xlsx", filled(ctx, 1), t0 + 10)
    api.collect(ctx)
    assert sorted(calls) == sorted({hashlib.sha256(same).hexdigest(), hashlib.sha256(filled(ctx, 1)).hexdigest()})
    statuses = [r["status"] for r in rows(ctx)]
    assert statuses.count("已接收") == 2 and statuses.count("重复") == 4


def test_a_defect_while_checking_one_file_is_f013_on_that_file(ctx, monkeypatch):
    import pipeline.check as check

    real_identify = check.identify

    def identify(res, *args, **kwargs):
        if res.file == "坏.xlsx":
            raise RuntimeError("模拟的程序错误")
        return real_identify(res, *args, **kwargs)

    monkeypatch.setattr(check, "identify", identify)
    got = check.check_bytes(filled(ctx, 1), "坏.xlsx", ctx.programme, ctx.registry, ctx.secret)
    assert [p.code for p in got.problems] == ["F013"] and "模拟的程序错误" in got.problems[0].message
    assert got.status == "退回"


def test_a_file_that_trips_a_defect_is_sent_back_and_the_rest_are_collected(ctx, monkeypatch):
    """An unexpected error while checking one file (in a worker) becomes F013 on that file (archived,
    recorded, sent back); the files around it in the same batch are collected as usual."""
    monkeypatch.setenv("HUIZONG_FAIL_READING", "坏.xlsx")
    t0 = time.time() - 3600
    drop(ctx, "好1.xlsx", filled(ctx, 0), t0)
    drop(ctx, "坏.xlsx", filled(ctx, 1), t0 + 1)
    drop(ctx, "好2.xlsx", filled(ctx, 2), t0 + 2)
    api.collect(ctx)
    got = {r["original_name"]: r for r in rows(ctx)}
    assert [got[n]["status"] for n in ("好1.xlsx", "坏.xlsx", "好2.xlsx")] == ["已接收", "退回", "已接收"]
    problems = json.loads(got["坏.xlsx"]["problems_json"])
    assert [p["code"] for p in problems] == ["F013"] and "模拟的程序错误" in problems[0]["message"]
    assert (ctx.workspace.root / got["坏.xlsx"]["feedback_path"]).is_file()
    assert not list(ctx.workspace.inbox.glob("*.xlsx"))  # nothing left behind


def test_a_defect_while_recording_one_file_is_f013_on_that_file(ctx, monkeypatch):
    """The same for what happens in the collecting process itself (feedback copy, ledger row)."""
    import pipeline.intake.folder as folder

    real = folder.outcome_for

    def outcome_for(ctx_, check, feedback):
        if check.file == "坏.xlsx" and check.problems[0].code != "F013":
            raise KeyError("模拟的程序错误")
        return real(ctx_, check, feedback)

    monkeypatch.setattr(folder, "outcome_for", outcome_for)
    t0 = time.time() - 3600
    drop(ctx, "好1.xlsx", filled(ctx, 0), t0)
    drop(ctx, "坏.xlsx", filled(ctx, 1, births_total="十二"), t0 + 1)
    drop(ctx, "好2.xlsx", filled(ctx, 2), t0 + 2)
    api.collect(ctx)
    got = {r["original_name"]: r for r in rows(ctx)}
    assert [got[n]["status"] for n in ("好1.xlsx", "坏.xlsx", "好2.xlsx")] == ["已接收", "退回", "已接收"]
    assert [p["code"] for p in json.loads(got["坏.xlsx"]["problems_json"])] == ["F013"]
    assert len(rows(ctx)) == 3  # the failed attempt left no half row behind


def test_a_number_hundreds_of_digits_long_is_a_clear_error_not_a_crash(ctx):
    (ctx.workspace.inbox / "大数.xlsx").write_bytes(filled(ctx, 0, births_total="9" * 401))
    api.collect(ctx)
    (row,) = rows(ctx)
    assert row["status"] == "退回"
    assert "数字过大" in row["problems_json"]


def test_temp_files_a_killed_run_left_are_swept_by_the_next(ctx):
    """A run killed between writing an archive or feedback file's temp copy and renaming it leaves a
    .tmp- file; the next collect (holding the workspace lock, so no write is under way) removes it."""
    for folder in (ctx.workspace.archive / "ab", ctx.workspace.feedback / "2026-10"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".tmp-killed.xlsx").write_bytes(b"half")
    (ctx.workspace.inbox / "a.xlsx").write_bytes(filled(ctx, 0))
    api.collect(ctx)
    assert not list(ctx.workspace.archive.rglob(".tmp-*")) and not list(ctx.workspace.feedback.rglob(".tmp-*"))
    assert len(list(ctx.workspace.archive.rglob("*.xlsx"))) == 1
