"""The clerk's work over time: corrections, late decisions, a fixed 村名册 — the counted version stays the right one."""

from __future__ import annotations

import os
import time

import pytest

from pipeline import api
from pipeline.example import example_report
from pipeline.problems import HuizongError
from pipeline.programme.periods import Month
from pipeline.workbook.fill import fill_template
from pipeline.workbook.template import TemplateIdentity, build_template

from .conftest import PERIOD, filled
from .test_collect import drop, rows
from .test_joining import _registry_rows


def _on_a_blank_template(ctx: api.Context, index: int, **overrides: object) -> bytes:
    """The village's report on the township's blank template: its identity is in doubt (待确认)."""
    v = ctx.registry.villages[index]
    blank = build_template(TemplateIdentity(ctx.programme, ctx.workspace.organ, period=PERIOD))
    values, register = example_report(v, PERIOD)
    values = dict(values, village_name=v.name, report_period="2026年10月", **overrides)
    return fill_template(blank, values, register, register_columns=[c.id for c in ctx.programme.register.columns])


def test_an_older_waiting_report_is_not_accepted_over_a_correction_sent_since(ctx):
    t0 = time.time() - 3600
    drop(ctx, "blank.xlsx", _on_a_blank_template(ctx, 2, child_health_managed=1), t0)
    drop(ctx, "own.xlsx", filled(ctx, 2, child_health_managed=20), t0 + 60)
    api.collect(ctx)
    pending, current = rows(ctx)
    assert (pending["status"], current["status"], current["version"]) == ("待确认", "已接收", 1)
    with pytest.raises(HuizongError) as refused:
        api.accept(ctx, pending["id"], "电话核实")
    (problem,) = refused.value.problems
    assert problem.code == "X042"
    assert "第 1 版" in problem.message and f"记录号 {current['id']}" in problem.message and "--replace" in problem.message
    state = {s.code: s for s in api.status(ctx, PERIOD)}[ctx.registry.villages[2].code]
    assert (state.state, state.version) == ("已报", 1)
    assert f"较早收到的待确认 1 份（记录号 {pending['id']}）" in state.note
    # the clerk who means it says so, and the decision is recorded
    row = api.accept(ctx, pending["id"], "村里说较早那份才对", over_newer=True)
    assert row["version"] == 2


def test_a_report_sent_back_because_of_a_registry_typo_is_checked_again_when_sent_again(workspace):
    ctx = api.load_context(workspace)
    v = ctx.registry.villages[0]
    right = v.tasks["task_child_health"]
    _registry_rows(ctx, **{v.code: {"task_child_health": 2}})  # 240 typed as 2: a month of 20 is "above the year"
    ctx = api.load_context(workspace)
    report = filled(ctx, 0, child_health_managed=20)
    drop(ctx, "青龙村.xlsx", report)
    api.collect(ctx)
    (first,) = rows(ctx)
    assert first["status"] == "退回"
    _registry_rows(ctx, **{v.code: {"task_child_health": right}})
    ctx = api.load_context(workspace)
    drop(ctx, "青龙村（重发）.xlsx", report)  # the very same file
    os.utime(ctx.workspace.inbox / "青龙村（重发）.xlsx")
    api.collect(ctx)
    second = rows(ctx)[1]
    assert (second["status"], second["version"], second["duplicate_of"]) == ("已接收", 1, None)
    assert api.status(ctx, PERIOD)[0].state == "已报"
    # the same file once more is a duplicate of the accepted one, as before
    drop(ctx, "青龙村（又发）.xlsx", report)
    api.collect(ctx)
    assert rows(ctx)[2]["status"] == "重复"


def _without_row(ctx: api.Context, code: str) -> None:
    from pipeline.registry import registry_columns
    from pipeline.workbook.registers import build_table_workbook

    rows = [{"code": v.code, "name": v.name, "emails": ";".join(v.emails), "population": v.population, **v.tasks}
            for v in ctx.registry.villages if v.code != code]
    ctx.workspace.registry_path.write_bytes(build_table_workbook("村名册", "村名册", registry_columns(ctx.programme.tasks), rows, "", "镇"))


def test_a_village_whose_code_changed_or_row_went_stops_the_ranking_with_its_months_named(workspace):
    full = api.load_context(workspace)  # the 村名册 as it was, all 19 rows
    v = full.registry.villages
    for i in (0, 1, 2):
        drop(full, f"{i}.xlsx", filled(full, i))
    api.collect(full)
    api.consolidate(full, PERIOD)
    new_code = v[0].code[:-3] + "999"
    _registry_rows(full, **{v[0].code: {"code": new_code}})
    with pytest.raises(HuizongError) as stopped:
        api.consolidate(api.load_context(workspace), PERIOD)
    (problem,) = stopped.value.problems
    assert problem.code == "C009" and problem.value == v[0].code
    assert "2026年10月" in problem.message and f"村名册里的{v[0].name}是代码 {new_code}" in problem.message
    # status (and remind) show the village as 未报 under its new code: they say why, not only consolidate
    from typer.testing import CliRunner

    from pipeline.cli import app

    shown = CliRunner().invoke(app, ["status", "-w", str(workspace), "--period", str(PERIOD)])
    assert shown.exit_code == 0 and "C009" in shown.output and f"村名册里的{v[0].name}是代码 {new_code}" in shown.output
    # a village deleted from the 村名册 (merged): the same; keeping its row with a 停止月份 is the way
    _without_row(full, v[1].code)
    with pytest.raises(HuizongError) as stopped:
        api.consolidate(api.load_context(workspace), PERIOD)
    assert [(p.code, p.value) for p in stopped.value.problems] == [("C009", v[1].code)]
    assert "停止月份" in stopped.value.problems[0].message
    _registry_rows(full, **{v[1].code: {"end_month": "2026-11"}})
    result = api.consolidate(api.load_context(workspace), PERIOD)
    assert v[1].code in {row["code"] for row in result.table["villages"]}


def _sheet(path, name: str) -> list[tuple]:
    import openpyxl

    return list(openpyxl.load_workbook(path)[name].iter_rows(values_only=True))


def test_a_correction_after_the_deadline_is_not_late_and_a_refused_one_is_said_in_the_notice(ctx):
    """Reported on 3 November (deadline the 5th) and corrected on the 20th: the 通报 called the village 迟报.
    A correction sent back left the 通报 and 数据质量 silent: the leaders read numbers the village had
    itself corrected, with no hint."""
    from datetime import datetime

    on_time, after = datetime(2026, 11, 3, 9).timestamp(), datetime(2026, 11, 20, 9).timestamp()
    for i in range(3):
        drop(ctx, f"{i}.xlsx", filled(ctx, i), on_time)
    api.collect(ctx)
    drop(ctx, "0-更正.xlsx", filled(ctx, 0, special_family_visits=2), after)  # accepted: version 2
    drop(ctx, "1-更正.xlsx", filled(ctx, 1, births_total="十二"), after)  # sent back
    api.collect(ctx)
    v = ctx.registry.villages
    path = api.consolidate(ctx, PERIOD, now=datetime(2026, 11, 21, 9)).path
    notice = {r[2]: r for r in _sheet(path, "通报") if len(r) > 2}
    assert "迟报" not in (notice[v[0].name][-1] or "")
    assert "更正件退回，按第 1 版计" in notice[v[1].name][-1]
    assert "更正件" not in (notice[v[2].name][-1] or "")
    assert any(isinstance(c, str) and c.startswith("更正件退回/待确认") for r in _sheet(path, "通报") for c in r)
    quality = {r[0]: r for r in _sheet(path, "数据质量")}
    assert quality[v[0].name][1:5] == ("已报", "2026-11-20 09:00", "2", "")
    assert quality[v[1].name][1] == "已报（之后又收到 1 份（退回），仍以第 1 版为准）"


def test_a_month_made_again_with_other_numbers_says_what_moved_and_keeps_the_earlier_file(workspace):
    """Next year's tasks entered in the 村名册, then last December made again for a late correction: its
    ranking changed for 14 villages, and the 通报 already sent on was overwritten, without a word."""
    from datetime import datetime

    full = api.load_context(workspace)
    v = full.registry.villages
    for i in range(5):
        drop(full, f"{i}.xlsx", filled(full, i))
    api.collect(full)
    first = api.consolidate(full, PERIOD, now=datetime(2026, 11, 6, 9, 30))
    assert first.revision is None
    again = api.consolidate(api.load_context(workspace), PERIOD, now=datetime(2026, 11, 6, 10, 0))
    assert again.revision is None and not (first.path.parent / "旧版").exists()  # the same numbers: nothing to say
    published = again.path.read_bytes()
    # the 村名册 edited since: one village's task halved
    _registry_rows(full, **{v[3].code: {"task_child_health": v[3].tasks["task_child_health"] / 2}})
    result = api.consolidate(api.load_context(workspace), PERIOD, now=datetime(2026, 11, 20, 15, 0))
    revision = result.revision
    assert revision is not None and revision.causes == ["村名册"]
    assert any(line.startswith(f"{v[3].name}：第 ") for line in revision.changed)
    assert revision.kept_as == "reports/旧版/2026-10-汇总排名（2026-11-06 1000）.xlsx"
    assert (workspace / revision.kept_as).read_bytes() == published  # the file as it was sent on
    lines = [r[0] for r in _sheet(result.path, "数据质量") if r[0]]
    assert any(str(x).startswith("本月的汇总表此前已于 2026-11-06 10:00 做过") for x in lines)
    assert any(str(x).strip().startswith(f"{v[3].name}：第 ") for x in lines)
    # made once more, unchanged: compared with the last edition, so nothing more to say
    assert api.consolidate(api.load_context(workspace), PERIOD, now=datetime(2026, 11, 21, 9, 0)).revision is None
    assert len(list((workspace / "reports" / "旧版").iterdir())) == 1


def test_a_registry_row_with_an_error_is_not_also_called_missing(workspace):
    full = api.load_context(workspace)
    v = full.registry.villages
    drop(full, "0.xlsx", filled(full, 0))
    api.collect(full)
    _registry_rows(full, **{v[0].code: {"population": 0}})
    with pytest.raises(HuizongError) as stopped:
        api.consolidate(api.load_context(workspace), PERIOD)
    assert [p.code for p in stopped.value.problems] == ["C003"]  # not C009 "村名册里没有这个代码" on top


def test_an_old_refused_file_sent_again_after_a_correction_is_a_duplicate_not_a_new_version(workspace):
    """The same refused bytes are checked again only while the village has nothing good since: after its
    correction was accepted, the old file forwarded again is 重复 — never 第 2 版 over the correction (once the
    村名册 typo that refused it is fixed), nor a 更正件退回 in the 通报."""
    full = api.load_context(workspace)
    v = full.registry.villages[0]
    right = v.tasks["task_child_health"]
    _registry_rows(full, **{v.code: {"task_child_health": 2}})
    ctx = api.load_context(workspace)
    old = filled(ctx, 0, child_health_managed=20)
    drop(ctx, "旧.xlsx", old)
    api.collect(ctx)
    drop(ctx, "更正.xlsx", filled(ctx, 0, child_health_managed=1, special_family_visits=3))
    api.collect(ctx)
    _registry_rows(full, **{v.code: {"task_child_health": right}})
    ctx = api.load_context(workspace)
    drop(ctx, "旧-转发.xlsx", old)
    api.collect(ctx)
    assert [(r["status"], r["version"]) for r in rows(ctx)] == [("退回", None), ("已接收", 1), ("重复", None)]
    state = api.status(ctx, PERIOD)[0]
    assert (state.state, state.version, state.correction, state.note) == ("已报", 1, "", "")


def test_a_summary_held_open_keeps_no_extra_copy_of_the_earlier_one(workspace, monkeypatch):
    """The 汇总表 open in Excel cannot be replaced (X004): the copy of the earlier file made for the move is
    taken back, so clicking again after closing Excel leaves one copy in 旧版, not one per click."""
    from datetime import datetime

    from pipeline.problems import Problem

    full = api.load_context(workspace)
    v = full.registry.villages
    drop(full, "0.xlsx", filled(full, 0))
    drop(full, "1.xlsx", filled(full, 1))
    api.collect(full)
    api.consolidate(full, PERIOD, now=datetime(2026, 11, 6, 9, 30))
    _registry_rows(full, **{v[1].code: {"task_child_health": v[1].tasks["task_child_health"] / 3}})
    real = api.atomic_write

    def held_open(path, data):
        raise HuizongError(Problem("X004", file=str(path), detail=str(path)))

    monkeypatch.setattr(api, "atomic_write", held_open)
    for _ in range(3):
        with pytest.raises(HuizongError):
            api.consolidate(api.load_context(workspace), PERIOD, now=datetime(2026, 11, 7, 9, 0))
    assert list((workspace / "reports" / "旧版").iterdir()) == []
    monkeypatch.setattr(api, "atomic_write", real)
    result = api.consolidate(api.load_context(workspace), PERIOD, now=datetime(2026, 11, 7, 9, 5))
    assert result.revision is not None
    assert [p.name for p in (workspace / "reports" / "旧版").iterdir()] == ["2026-10-汇总排名（2026-11-06 0930）.xlsx"]


def test_editions_compare_ranks_totals_and_how_a_village_is_left_out():
    from pipeline.ledger.editions import Edition
    from pipeline.revision import compare

    before = Edition("2026-11-06T09:30:00", {"A": ("甲村", 1, 990.0), "B": ("乙村", 0, 0.0), "C": ("丙村", 2, 980.0)},
                     {"村名册": "x", "报表": "y"})
    same = Edition("2026-11-07T09:00:00", {"A": ("甲村", 1, 990.0 + 1e-9), "B": ("乙村", 0, 0.0), "C": ("丙村", 2, 980.0)},
                   {"村名册": "z", "报表": "y"})
    assert compare(before, same) is None  # float noise is no change, whatever the inputs' digests
    now = Edition("2026-11-07T09:00:00", {"A": ("甲村", 1, 990.0), "B": ("乙村", -1, 0.0), "D": ("丁村", 2, 985.0)},
                  {"村名册": "z", "报表": "y"})
    revision = compare(before, now)
    assert revision is not None and revision.causes == ["村名册"]
    assert revision.changed == ["乙村：不参评 → 一票否决", "丙村：第 2 名 980.00 → 不在表中", "丁村：不在表中 → 第 2 名 985.00"]
    assert revision.lines()[0] == "本月的汇总表此前已于 2026-11-06 09:30 做过；这次有 3 个村的名次或总分不同（村名册在那之后有变动）："


def test_a_summary_made_before_editions_were_kept_is_kept_when_made_again(workspace):
    """After an upgrade, the first time a month already made is made again: the ledger has no record of the
    earlier 通报, which may be the one sent on; it was overwritten. It is kept, and the clerk told."""
    from datetime import datetime

    ctx = api.load_context(workspace)
    drop(ctx, "0.xlsx", filled(ctx, 0))
    api.collect(ctx)
    first = api.consolidate(ctx, PERIOD, now=datetime(2026, 11, 6, 9, 30))
    import sqlite3

    con = sqlite3.connect(ctx.workspace.ledger_path)
    con.execute("DROP TABLE editions")  # as an earlier version left it
    con.commit()
    con.close()
    old = first.path.read_bytes()
    stamp = datetime(2026, 11, 6, 9, 30).timestamp()
    os.utime(first.path, (stamp, stamp))
    result = api.consolidate(api.load_context(workspace), PERIOD, now=datetime(2026, 11, 20, 9, 0))
    assert result.revision is not None and result.revision.unrecorded
    assert result.revision.kept_as == "reports/旧版/2026-10-汇总排名（2026-11-06 0930）.xlsx"
    assert (workspace / result.revision.kept_as).read_bytes() == old
    assert "没有记下各村名次" in result.revision.lines()[0]
    assert api.consolidate(api.load_context(workspace), PERIOD, now=datetime(2026, 11, 20, 9, 5)).revision is None


def test_a_ledger_made_by_the_first_version_takes_new_files(ctx):
    """Its receipts table had no message_id column: every collect after the upgrade failed (X013), for ever."""
    import sqlite3

    con = sqlite3.connect(ctx.workspace.ledger_path)  # as the first version made it
    con.executescript("""DROP TABLE receipts; CREATE TABLE receipts (id INTEGER PRIMARY KEY, source TEXT NOT NULL, source_ref TEXT NOT NULL UNIQUE,
        original_name TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, ext TEXT NOT NULL, sender TEXT,
        received_at TEXT NOT NULL);""")
    con.close()
    drop(ctx, "0.xlsx", filled(ctx, 0))
    assert api.collect(ctx).items[0].status == "已接收"


def test_demo_never_deletes_a_real_workspace(workspace, tmp_path):
    """`huizong demo --out` deleted any folder with a huizong.yaml: a township's workspace given by mistake lost
    its archived originals and its ledger, with no backup. Only a folder the demo made is replaced."""
    from pipeline.demo import run_demo
    from pipeline.programme.periods import Month

    ctx = api.load_context(workspace)
    drop(ctx, "0.xlsx", filled(ctx, 0))
    api.collect(ctx)
    kept = sorted(p for p in workspace.rglob("*") if p.is_file())
    with pytest.raises(HuizongError) as refused:
        run_demo(workspace, Month(2026, 1))
    assert refused.value.problems[0].code == "X007"
    assert sorted(p for p in workspace.rglob("*") if p.is_file()) == kept
    demo = tmp_path / "演示"
    run_demo(demo, Month(2026, 1))
    run_demo(demo, Month(2026, 2))  # its own folder: made afresh
    assert (demo / "reports" / "2026-02-汇总排名.xlsx").is_file() and not (demo / "reports" / "2026-01-汇总排名.xlsx").exists()


def test_a_notice_of_a_township_that_began_mid_year_says_its_sums_are_short(ctx):
    """First collect in October: the 通报 read 1—10月累计 and 全部按时上报 over October alone, against ten
    months of targets — ranks scrambled, and only 数据质量 said 此前各月均未报."""
    from datetime import datetime

    on_time, late = datetime(2026, 11, 3, 9).timestamp(), datetime(2026, 11, 9, 9).timestamp()
    for i in range(3):
        drop(ctx, f"{i}.xlsx", filled(ctx, i), late if i == 2 else on_time)
    api.collect(ctx)
    rows_ = _sheet(api.consolidate(ctx, PERIOD, now=datetime(2026, 11, 10, 9)).path, "通报")
    head = [str(r[0]) for r in rows_[:5] if r[0]]
    assert any(t.startswith("注意：台账中没有任何村1月、2月、3月、4月、5月、6月、7月、8月、9月的报表") for t in head)
    assert not any("全部按时上报" in t for t in head)
    # the months brought in: the warning goes, and 数据截止 is the last report counted, of whichever month
    backfill = datetime(2026, 11, 12, 15, 30).timestamp()
    for m in range(1, 10):
        for i in range(3):
            drop(ctx, f"{m}-{i}.xlsx", filled(ctx, i, Month(2026, m)), backfill)
    api.collect(ctx)
    head = [str(r[0]) for r in _sheet(api.consolidate(ctx, PERIOD, now=datetime(2026, 11, 13, 9)).path, "通报")[:5] if r[0]]
    assert not any(t.startswith("注意") for t in head)
    assert any("数据截止：2026年11月12日 15:30" in t for t in head)
    missing = [s.name for s in api.status(ctx, PERIOD) if s.state != "已报"]
    assert missing and any(f"未参评 {len(missing)} 个" in t for t in head)


def test_a_notice_with_everyone_reported_but_some_late_does_not_say_all_on_time(ctx):
    from datetime import datetime

    on_time, late = datetime(2026, 11, 3, 9).timestamp(), datetime(2026, 11, 9, 9).timestamp()
    villages = ctx.registry.villages
    for i in range(len(villages)):
        drop(ctx, f"{i}.xlsx", filled(ctx, i), late if i == 4 else on_time)
    api.collect(ctx)
    head = [str(r[0]) for r in _sheet(api.consolidate(ctx, PERIOD, now=datetime(2026, 11, 10, 9)).path, "通报")[:5] if r[0]]
    assert any(f"全部已报，其中迟报 1 个：{villages[4].name}" in t for t in head)
    assert not any("全部按时上报" in t for t in head)
