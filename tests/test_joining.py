"""Villages that join or leave mid-year (spec, 2026-11-27): targets from their start, never 未报 before it."""

from __future__ import annotations

from dataclasses import replace

import openpyxl
import pytest

from pipeline import api
from pipeline.programme.periods import Month
from pipeline.registry import Registry
from pipeline.status import village_statuses

from .conftest import PERIOD, filled
from .test_scoring import score, value, village


def test_targets_and_elapsed_months_count_from_the_start(programme):
    joined = replace(village("N"), start=Month(2026, 6))
    rows = [r for m in ("2026-06", "2026-07", "2026-08", "2026-09", "2026-10") for r in [
        {"village_code": "N", "period": m, "version": 1, "record_json": '{"fields": {"board_updates": 1, "birth_registrations": 10}}',
         "received_at": "", "sender": None, "source": "folder", "n_warnings": 0, "id": 0}]]
    s = score(programme, [village("A"), joined], rows)
    k = s.codes.index("N")
    # task 100: 考核季 2 (May–Aug, weight 0.3) counts from June, 3 of its 4 months; 考核季 3 (0.3) in full
    assert float(s.env["t:C3.2"][k]) == pytest.approx(100 * (0.3 * 3 / 4 + 0.3))
    assert value(s, "N", "C3.2") == pytest.approx(75 * 50 / 52.5)
    assert float(s.env["months_elapsed"][k]) == 5
    assert value(s, "N", "C5.6") == pytest.approx(10)  # one update a month since it joined: nothing missed


def test_no_status_before_the_start_and_none_from_the_end():
    v = [village("A"), replace(village("N"), start=Month(2026, 6)), replace(village("X"), end=Month(2026, 9))]
    reg = Registry(tuple(v))
    assert [s.code for s in village_statuses(reg, [], Month(2026, 5), 5)] == ["A", "X"]
    assert [s.code for s in village_statuses(reg, [], Month(2026, 6), 5)] == ["A", "N", "X"]
    assert [(s.code, s.state) for s in village_statuses(reg, [], Month(2026, 9), 5)] == [("A", "未报"), ("N", "未报")]


def _registry_rows(ctx: api.Context, **changes: dict) -> None:
    from pipeline.registry import registry_columns
    from pipeline.workbook.registers import build_table_workbook

    rows = []
    for v in ctx.registry.villages:
        row = {"code": v.code, "name": v.name, "aliases": "、".join(v.aliases), "emails": ";".join(v.emails), "population": v.population, **v.tasks}
        row.update(changes.get(v.code, {}))
        rows.append(row)
    cols = registry_columns(ctx.programme.tasks)
    ctx.workspace.registry_path.write_bytes(build_table_workbook("村名册", "村名册", cols, rows, "", "镇"))


def test_the_registry_gives_start_and_end_months_and_names_bad_cells(workspace):
    ctx = api.load_context(workspace)
    v = ctx.registry.villages
    _registry_rows(ctx, **{v[3].code: {"start_month": "2026年6月"}, v[4].code: {"end_month": "六月"}, v[5].code: {"population": 0}})
    ctx = api.load_context(workspace)
    assert ctx.registry.by_code(v[3].code).start == Month(2026, 6)
    problems = {(p.code, p.field): p for p in ctx.registry_problems}
    assert "2026-06 这样的年月" in problems[("C003", "end_month")].message and problems[("C003", "end_month")].cell
    assert "不能为 0" in problems[("C003", "population")].message


def test_a_village_that_joined_in_june_is_not_called_unreported_before(workspace):
    ctx = api.load_context(workspace)
    v = ctx.registry.villages
    _registry_rows(ctx, **{v[3].code: {"start_month": "2026-06"}})
    ctx = api.load_context(workspace)
    for m in (Month(2026, 9), PERIOD):
        for i in range(5):
            (ctx.workspace.inbox / f"{m}-{i}.xlsx").write_bytes(filled(ctx, i, m))
        api.collect(ctx)
    result = api.consolidate(ctx, PERIOD)
    quality = openpyxl.load_workbook(result.path)["数据质量"]
    row = next(r for r in quality.iter_rows(values_only=True) if r[0] == v[3].name)
    assert "自2026年6月起参加考核" in row[5] and "此前各月均未报" not in row[5]
    assert row[5] == "自2026年6月起参加考核；缺报 6月、7月、8月"  # not January to May


def test_reports_from_before_the_start_are_not_counted(programme):
    """The ledger holds a village's reports from January, then its 起始月份 is set to June: its targets start in
    June, so its sums must too — before, January to May were added to June's targets and the village, 6th,
    came first with 1060 points and no mark (the counts and the targets covered different months)."""
    months = [f"2026-{m:02d}" for m in range(1, 11)]
    rows = [row_ for m in months for row_ in [
        {"village_code": "N", "period": m, "version": 1, "record_json": '{"fields": {"board_updates": 1, "birth_registrations": 10}}',
         "received_at": "", "sender": None, "source": "folder", "n_warnings": 0, "id": 0}]]
    joined = score(programme, [village("A"), replace(village("N"), start=Month(2026, 6))], rows)
    always = score(programme, [village("A"), village("N")], [r for r in rows if r["period"] >= "2026-06"])
    k = joined.codes.index("N")
    assert float(joined.env["birth_registrations"][k]) == 50  # June to October, as its target
    assert value(joined, "N", "C3.2") == pytest.approx(75 * 50 / 52.5)
    assert value(joined, "N", "C3.2", "bonus") == 0
    assert float(joined.env["birth_registrations"][k]) == float(always.env["birth_registrations"][always.codes.index("N")])


def test_a_report_from_a_village_not_taking_part_is_flagged_at_collect_and_in_the_summary(workspace):
    """A 起始月份 typed 2027-06 for 2026-06: the village's October report was 已接收 without a word and the
    village vanished from the 通报. Now the report carries I008 and 数据质量 says a report came."""
    ctx = api.load_context(workspace)
    v = ctx.registry.villages
    _registry_rows(ctx, **{v[0].code: {"start_month": "2027-06"}})
    ctx = api.load_context(workspace)
    for i in range(3):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    summary = api.collect(ctx)
    assert {item.status for item in summary.items} == {"已接收"}  # recorded: the registry may be what is wrong
    import json
    import sqlite3

    con = sqlite3.connect(ctx.workspace.ledger_path)
    codes = {r[0]: [p["code"] for p in json.loads(r[1])] for r in con.execute("SELECT village_code, problems_json FROM submissions")}
    assert codes[v[0].code] == ["I008"] and codes[v[1].code] == []
    (message,) = [p["message"] for r in con.execute("SELECT problems_json FROM submissions WHERE village_code = ?", (v[0].code,))
                  for p in json.loads(r[0])]
    assert "2026年10月" in message and "自2027年6月起参加考核" in message and "村名册" in message
    result = api.consolidate(ctx, PERIOD)
    assert v[0].code not in result.scored.codes
    quality = openpyxl.load_workbook(result.path)["数据质量"]
    line = next(r for r in quality.iter_rows(values_only=True) if r[0] == v[0].name)
    assert line[1] == "不参加（本期有报表）" and "请核对村名册" in line[5]
    notice = " ".join(str(c.value) for r in openpyxl.load_workbook(result.path)["通报"].iter_rows(max_row=5) for c in r if c.value)
    assert f"{v[0].name}（本期不参加，但有报表，请核对村名册）" in notice  # the leaders see it, not only 数据质量


def test_a_village_whose_registry_row_has_an_error_is_not_blamed_for_it(workspace):
    """The township left a village's 户籍人口 blank: the row is left out of the registry, and the village's
    correct report was sent back with “村名在村名册中找不到”. It waits for the township instead (I009, 待确认)
    and is accepted once the row is corrected."""
    import json
    import sqlite3

    ctx = original = api.load_context(workspace)
    v = ctx.registry.villages
    for i in range(2):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    _registry_rows(ctx, **{v[0].code: {"population": None}})
    ctx = api.load_context(workspace)
    assert ctx.registry.by_code(v[0].code) is None and [p.code for p in ctx.registry_problems] == ["C003"]
    summary = api.collect(ctx)
    assert {i.name: i.status for i in summary.items} == {"0.xlsx": "待确认", "1.xlsx": "已接收"}
    con = sqlite3.connect(ctx.workspace.ledger_path)
    (sid, problems), = con.execute("SELECT id, problems_json FROM submissions WHERE status = '待确认'").fetchall()
    (problem,) = json.loads(problems)
    assert problem["code"] == "I009" and v[0].name in problem["message"] and "不是村里的问题" in problem["message"]
    _registry_rows(original)  # corrected
    ctx = api.load_context(workspace)
    row = api.accept(ctx, sid, "村名册已补上户籍人口", v[0].code)
    assert row["status"] == "已接收" and row["village_code"] == v[0].code


def test_a_task_or_population_out_of_line_is_marked_in_the_notice(workspace):
    """223 typed 22 for a task let the village meet it eight times over and come first; a population with an
    extra 0 raised another. Both are marked 村名册待核实 in the 通报 and listed in 数据质量."""
    from pipeline.quality import registry_doubts

    ctx = api.load_context(workspace)
    v = ctx.registry.villages
    assert registry_doubts(v, ctx.programme.tasks) == {}  # the example township's registry is consistent
    task = v[2].tasks["task_child_health"]
    _registry_rows(ctx, **{v[2].code: {"task_child_health": round(task / 10)}, v[3].code: {"population": v[3].population * 10}})
    ctx = api.load_context(workspace)
    doubts = registry_doubts(ctx.registry.villages, ctx.programme.tasks)
    assert set(doubts) == {v[2].code, v[3].code} and len(doubts[v[3].code]) == len(ctx.programme.tasks)
    for i in range(5):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    api.collect(ctx)
    result = api.consolidate(ctx, PERIOD)
    wb = openpyxl.load_workbook(result.path)
    # (桃园村's example figures grow with its population: they are out of line too, and marked ※ for that)
    rows = {str(r[2]).rstrip("※"): r for r in wb["通报"].iter_rows(values_only=True) if r[2]}
    assert "村名册待核实" in rows[v[2].name][-1] and "村名册待核实" in rows[v[3].name][-1]
    assert "村名册待核实" not in (rows[v[4].name][-1] or "")
    quality = "\n".join(str(c) for r in wb["数据质量"].iter_rows(values_only=True) for c in r if c)
    assert f"{v[2].name}：" in quality and "年度任务与户籍人口不相称" in quality


def test_a_task_typed_0_is_doubted_where_the_population_calls_for_one(workspace):
    """A task of 0 scores full marks and a bonus for every case done (22 typed 0: first place); it was only listed
    in 数据质量. Where the township's usual share of the village's population is 3 or more, it is marked too."""
    from pipeline.quality import registry_doubts

    ctx = api.load_context(workspace)
    v = ctx.registry.villages
    _registry_rows(ctx, **{v[2].code: {"task_birth_reg": 0}})
    ctx = api.load_context(workspace)
    doubts = registry_doubts(ctx.registry.villages, ctx.programme.tasks)
    assert list(doubts) == [v[2].code] and doubts[v[2].code][0].startswith("生育登记服务年度任务 0（按户籍人口")
    # a task most villages do not have: its 0s are the rule (a review found every other village marked)
    _registry_rows(ctx, **{x.code: {"task_birth_reg": 0} for x in v[3:]})
    ctx = api.load_context(workspace)
    assert registry_doubts(ctx.registry.villages, ctx.programme.tasks) == {}


def test_a_start_month_that_leaves_out_reports_already_received_marks_the_registry(workspace):
    """起始月份 2026-10 typed in the row of a village that has reported since September: its September report
    was dropped from its sums and its rank fell, with 数据质量 saying only 自2026年10月起参加考核. Now the
    通报 marks the village 村名册待核实 with a line saying why, and 数据质量 names the months left out."""
    ctx = api.load_context(workspace)
    v = ctx.registry.villages
    for m in (Month(2026, 9), PERIOD):
        for i in range(4):
            (ctx.workspace.inbox / f"{m}-{i}.xlsx").write_bytes(filled(ctx, i, m))
        api.collect(ctx)
    _registry_rows(ctx, **{v[2].code: {"start_month": "2026-10"}})
    ctx = api.load_context(workspace)
    book = openpyxl.load_workbook(api.consolidate(ctx, PERIOD).path)
    notice = [r for r in book["通报"].iter_rows(values_only=True)]
    row = next(r for r in notice if r[2] == v[2].name)
    assert "村名册待核实" in row[-1]
    assert any(isinstance(c, str) and "起始月份（或停止月份）未计入累计" in c for r in notice for c in r)
    others = [r for r in notice if r[2] in (v[0].name, v[1].name)]
    assert all("村名册待核实" not in (r[-1] or "") for r in others)
    quality = next(r for r in book["数据质量"].iter_rows(values_only=True) if r[0] == v[2].name)
    assert quality[5] == "自2026年10月起参加考核；9月已收到的报表未计入，请核对村名册"
