"""One bad file never stops intake: each input that once stopped collection for good goes through a real
collect among ordinary files. It ends up archived, recorded and (when sent back) with a feedback copy;
every other file of the batch is recorded too; and collecting again changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from pipeline import api

from .conftest import filled
from .test_hostile_files import damage_member, far_cell_sheet, rezip

LONG_NAME = "关于报送" + "青龙村二〇二六年十月份计划生育目标管理责任制考核月度报表及出生登记情况的说明" * 2 + "补报版"  # 83 characters
assert len(LONG_NAME) == 83 and len((LONG_NAME + ".xlsx").encode("utf-8")) == 254  # the longest name Linux takes


def merged_over_a_problem(ctx) -> bytes:
    """A village merged C8:D8 (unit and value): D8, where 本月出生数 is, is no longer a cell of its own."""
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 1, births_total="十二")))
    wb["月报"].merge_cells("C8:D8")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def declared_whole_sheet(ctx) -> bytes:
    data = filled(ctx, 1)
    sheets = [m for m in zipfile.ZipFile(io.BytesIO(data)).namelist() if m.startswith("xl/worksheets/")]
    return rezip(data, change={m: (lambda b: re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1:XFD1048576"/>', b))
                               for m in sheets})


# name, bytes (built from the context), expected status, expected codes on the file, environment
CASES: dict[str, tuple[str, Callable, str, set[str], dict[str, str]]] = {
    "merged-cell": ("青龙村合并了单元格.xlsx", merged_over_a_problem, "退回", {"S006"}, {}),
    "long-name": (LONG_NAME + ".xlsx", lambda ctx: filled(ctx, 1, births_total="十二"), "退回", {"V007"}, {}),
    "far-cell-single-quotes": ("稀疏.xlsx", lambda ctx: far_cell_sheet("XFD1048576", "single-quotes-other-order"), "退回", {"F011"}, {}),
    "declared-dimension": ("整表范围.xlsx", declared_whole_sheet, "已接收", set(), {}),
    "crc-damaged": ("损坏.xlsx", lambda ctx: damage_member(filled(ctx, 1), "xl/worksheets/sheet1.xml", "crc"), "退回", {"F008"}, {}),
    "deflate-damaged": ("坏压缩.xlsx", lambda ctx: damage_member(filled(ctx, 1), "xl/styles.xml", "deflate"), "退回", {"F008"}, {}),
    "kills-its-worker": ("崩溃.xlsx", lambda ctx: filled(ctx, 1), "退回", {"F014"}, {"HUIZONG_CRASH_READING": "崩溃.xlsx"}),
}


def state(root: Path) -> dict:
    con = sqlite3.connect(root / ".huizong" / "ledger.sqlite")
    try:
        subs = con.execute(
            "SELECT r.original_name, s.sha256, s.village_code, s.status, s.version, s.problems_json, s.feedback_path"
            " FROM submissions s JOIN receipts r ON r.id = s.receipt_id ORDER BY s.id").fetchall()
    finally:
        con.close()
    files = {sub: sorted(str(p.relative_to(root)) for p in (root / sub).rglob("*") if p.is_file())
             for sub in ("archive", "inbox", "feedback")}
    return {"submissions": subs, **files}


@pytest.mark.parametrize("case", list(CASES))
def test_a_poison_file_is_recorded_and_the_batch_goes_on(ctx, monkeypatch, case):
    name, build, status, codes, env = CASES[case]
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    poison = build(ctx)
    t0 = time.time() - 3600
    batch = [("01.xlsx", filled(ctx, 0)), (name, poison), ("03.xlsx", filled(ctx, 2)), ("04.xlsx", filled(ctx, 3, deaths_total="约3"))]
    for i, (n, data) in enumerate(batch):
        path = ctx.workspace.inbox / n
        path.write_bytes(data)
        os.utime(path, (t0 + i, t0 + i))

    summary = api.collect(ctx)

    got = {item.name: item for item in summary.items}
    assert sorted(got) == sorted(n for n, _ in batch)  # every file, the poison one included
    assert [got[n].status for n in ("01.xlsx", "03.xlsx", "04.xlsx")] == ["已接收", "已接收", "退回"]
    assert got[name].status == status
    after = state(ctx.workspace.root)
    row = next(r for r in after["submissions"] if r[0] == name)
    recorded = {p["code"] for p in json.loads(row[5])}
    assert codes <= recorded, recorded
    assert "F013" not in recorded  # never "程序出错"
    assert row[1] == hashlib.sha256(poison).hexdigest()  # archived as received
    assert any(row[1] in p for p in after["archive"])
    assert after["inbox"] == [] or all(p.startswith("inbox/已处理/") for p in after["inbox"])
    if status == "退回":
        copy = ctx.workspace.root / row[6]
        assert copy.is_file() and len(copy.name.encode("utf-8")) <= 150
        assert openpyxl.load_workbook(copy).sheetnames[0] == "校验结果"
    if case == "declared-dimension":
        assert got[name].village == ctx.registry.villages[1].name

    again = api.collect(ctx)
    assert again.items == [] and state(ctx.workspace.root) == after  # a second collect changes nothing


def test_a_merged_cell_problem_is_marked_on_the_merge_s_top_left_cell(ctx):
    (ctx.workspace.inbox / "合并.xlsx").write_bytes(merged_over_a_problem(ctx))
    summary = api.collect(ctx)
    (item,) = summary.items
    wb = openpyxl.load_workbook(ctx.workspace.root / item.feedback)
    c8 = wb["月报"]["C8"]
    assert "（单元格 D8）" in c8.comment.text and "S006" in c8.comment.text
    assert c8.fill.fgColor.rgb.endswith("FFC7CE")  # an error lies under it
    listing = [[c.value for c in row] for row in wb["校验结果"].iter_rows(min_row=5)]
    assert any(r[3] == "D8" for r in listing)


def drop_reports(ctx, count: int) -> None:
    """Valid reports 00.xlsx, 01.xlsx … of the first ``count`` villages in inbox/, arrived in that order."""
    t0 = time.time() - 3600
    for i in range(count):
        path = ctx.workspace.inbox / f"{i:02d}.xlsx"
        path.write_bytes(filled(ctx, i))
        os.utime(path, (t0 + i, t0 + i))


def test_a_worker_that_dies_takes_no_other_file_with_it(ctx, monkeypatch):
    """Files checked in the same worker as the one that killed it are checked again alone and recorded as usual;
    the killer, alone, kills its worker again and is refused with F014."""
    import pipeline.intake.checker as checker

    monkeypatch.setattr(checker, "POOL_FROM", 1)  # several workers, several files in flight at once
    monkeypatch.setenv("HUIZONG_CRASH_READING", "05.xlsx")
    drop_reports(ctx, 10)
    summary = api.collect(ctx)
    statuses = {item.name: item.status for item in summary.items}
    assert statuses.pop("05.xlsx") == "退回"
    assert set(statuses.values()) == {"已接收"} and len(statuses) == 9
    (f014,) = [item for item in summary.items if item.name == "05.xlsx"]
    con = sqlite3.connect(ctx.workspace.ledger_path)
    problems = json.loads(con.execute("SELECT problems_json FROM submissions WHERE id = ?", (f014.submission_id,)).fetchone()[0])
    assert [p["code"] for p in problems] == ["F014"]
    assert "单独重试一次仍然如此" in problems[0]["message"] and "请" in problems[0]["message"]


def test_validate_feedback_goes_on_past_every_poison_file(ctx, tmp_path, monkeypatch):
    """`validate --feedback`: the same inputs, all in one run; each gets its verdict and (when invalid) its copy."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    folder = tmp_path / "村里发来的"
    folder.mkdir()
    paths = []
    for case, (name, build, _status, _codes, _env) in CASES.items():
        path = folder / name
        path.write_bytes(build(ctx))
        paths.append(path)
        if case == "kills-its-worker":
            monkeypatch.setenv("HUIZONG_CRASH_READING", str(path))
    good = folder / "好.xlsx"
    good.write_bytes(filled(ctx, 0))
    out = tmp_path / "标注"
    res = CliRunner().invoke(app, ["validate", *map(str, paths), str(good), "-w", str(ctx.workspace.root), "--feedback", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 1, res.output
    assert f"共 {len(paths) + 1} 个文件" in res.output and "✔ 好.xlsx" in res.output and "✔ 整表范围.xlsx" in res.output
    assert "F014" in res.output and "F011" in res.output and "F013" not in res.output
    copies = sorted(p.name for p in out.glob("*.xlsx"))
    assert len(copies) == len(paths) - 1  # every file but the valid one with the declared dimension
    assert all(len(n.encode("utf-8")) <= 150 for n in copies)
    merged = openpyxl.load_workbook(out / "青龙村合并了单元格_校验结果.xlsx")
    assert "（单元格 D8）" in merged["月报"]["C8"].comment.text


def test_a_machine_where_no_worker_can_start_still_collects(ctx, monkeypatch):
    """Workers that die before they are ready say nothing about the files: those are checked in the
    collecting process instead (not refused as F014 one and all)."""
    monkeypatch.setenv("HUIZONG_CRASH_AT", "worker_started:1")
    t0 = time.time() - 3600
    for i, data in enumerate([filled(ctx, 0), filled(ctx, 1, births_total="十二"), filled(ctx, 2)]):
        path = ctx.workspace.inbox / f"{i}.xlsx"
        path.write_bytes(data)
        os.utime(path, (t0 + i, t0 + i))
    summary = api.collect(ctx)
    assert [(i.name, i.status) for i in summary.items] == [("0.xlsx", "已接收"), ("1.xlsx", "退回"), ("2.xlsx", "已接收")]
    con = sqlite3.connect(ctx.workspace.ledger_path)
    assert "F014" not in "".join(r[0] for r in con.execute("SELECT problems_json FROM submissions"))


STARTLESS = """
import multiprocessing.spawn, sys
from pipeline import api
ctx = api.load_context(sys.argv[1])
object.__setattr__(ctx.registry, "padding", "村" * 200_000)  # start data far over a pipe's 64 KB, as a registry of a few hundred villages makes
multiprocessing.spawn.set_executable("/bin/false")  # every worker dies before it reads a byte of its start data
print(api.collect(ctx).line)
"""


@pytest.mark.skipif(os.name != "posix" or not Path("/bin/false").exists(), reason="the spawn pipe of POSIX")
def test_workers_dying_before_they_read_their_start_data_do_not_hang_collect(ctx):
    """A worker Python that cannot start at all (gone, blocked, killed at once) must not leave collect
    waiting for ever on a pipe only the dead worker would have read; the files are checked here instead."""
    import subprocess
    import sys

    t0 = time.time() - 3600
    for i in range(3):
        path = ctx.workspace.inbox / f"{i}.xlsx"
        path.write_bytes(filled(ctx, i))
        os.utime(path, (t0 + i, t0 + i))
    run = subprocess.run([sys.executable, "-c", STARTLESS, str(ctx.workspace.root)], capture_output=True, text=True,
                         timeout=180, cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr[-2000:]
    assert "已收取 3 份，通过 3 份" in run.stdout
    assert not list(ctx.workspace.inbox.glob("*.xlsx"))


STARTER = """
import os, sys
if __name__ == "__mp_main__":  # this script run again inside a worker
    with open(os.environ["HUIZONG_TEST_MARK"], "a") as f:
        f.write(f"{os.getpid()}\\n")
if __name__ == "__main__":
    sys.path.insert(0, sys.argv[2])
    from pipeline import api
    print(api.collect(api.load_context(sys.argv[1])).line)
"""


def test_workers_do_not_run_the_starting_program_again(ctx, tmp_path):
    """A spawned worker would run its parent's main script first (under the huizong command: the whole
    command line, typer and rich); workers start without it and import only what checking needs."""
    import subprocess
    import sys

    for i in range(2):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    script = tmp_path / "starter.py"
    script.write_text(STARTER, encoding="utf-8")
    mark = tmp_path / "mark.txt"
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, str(script), str(ctx.workspace.root), str(root)], capture_output=True, text=True,
                         timeout=180, env={**os.environ, "HUIZONG_TEST_MARK": str(mark)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "已收取 2 份，通过 2 份" in run.stdout
    assert not mark.exists(), f"workers ran the starting script: {mark.read_text()}"


@pytest.mark.parametrize("pool_from", [1, 10**6], ids=["two-workers", "one-worker"])
def test_a_file_that_never_finishes_reading_is_refused_and_the_rest_go_on(ctx, monkeypatch, pool_from):
    """A reader caught in an endless loop on one file (simulated: the worker stops on it for good) must not
    hang the collection: after FILE_SECONDS the worker is ended, the file is refused (F016), the files in its
    company are checked again, and a second collect changes nothing. With one worker (a township's usual
    collection) the files waiting behind the stuck one are among them: ending the pool cancels them, and a
    cancelled check is a file to check again, not a program error (F013)."""
    import pipeline.intake.checker as checker

    monkeypatch.setattr(checker, "POOL_FROM", pool_from)  # two workers: several files in flight when the pool is ended
    monkeypatch.setattr(checker, "FILE_SECONDS", 40.0)  # a check takes well under a second (the worker's start is not counted)
    monkeypatch.setenv("HUIZONG_HANG_READING", "03.xlsx")
    drop_reports(ctx, 8)
    summary = api.collect(ctx)
    statuses = {item.name: item.status for item in summary.items}
    assert statuses == {f"{i:02d}.xlsx": ("退回" if i == 3 else "已接收") for i in range(8)}
    (stuck,) = [item for item in summary.items if item.name == "03.xlsx"]
    con = sqlite3.connect(ctx.workspace.ledger_path)
    problems = json.loads(con.execute("SELECT problems_json FROM submissions WHERE id = ?", (stuck.submission_id,)).fetchone()[0])
    assert [p["code"] for p in problems] == ["F016"] and "超过 40 秒仍未完成" in problems[0]["message"]
    assert not list(ctx.workspace.inbox.glob("*.xlsx"))
    before = state(ctx.workspace.root)
    monkeypatch.delenv("HUIZONG_HANG_READING")
    again = api.collect(ctx)
    assert again.items == [] and state(ctx.workspace.root) == before


def test_workers_held_up_at_start_blame_no_file(ctx, monkeypatch):
    """Workers that never get going (security software holding python back, simulated: every worker stops
    as it starts) say nothing about the files: after START_SECONDS the files are checked in the collecting
    process and recorded as usual — none is refused as a file that never finishes (F016)."""
    import pipeline.intake.checker as checker

    monkeypatch.setattr(checker, "START_SECONDS", 5.0)  # a held-up worker never starts, however long it is given
    monkeypatch.setattr(checker, "FILE_SECONDS", 1.0)  # a file's own limit, if the start were counted, would blame it
    monkeypatch.setenv("HUIZONG_STALL_AT", "worker_started:1")
    drop_reports(ctx, 3)
    summary = api.collect(ctx)
    assert {item.name: item.status for item in summary.items} == {f"{i:02d}.xlsx": "已接收" for i in range(3)}
    assert not list(ctx.workspace.inbox.glob("*.xlsx"))
