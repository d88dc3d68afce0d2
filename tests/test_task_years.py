"""Annual tasks change every year; the 村名册 keeps one year's tasks in columns of their own (“2027年…”), so that
next year's tasks entered in January do not rescore this year's months, and a 通报 says when the tasks it
used may be last year's, or are 0 for every village."""

from __future__ import annotations

import openpyxl
import pytest

from pipeline import api
from pipeline.check import check_bytes
from pipeline.problems import HuizongError
from pipeline.programme.periods import Month

from .conftest import filled

DEC, JAN = Month(2026, 12), Month(2027, 1)
TASK = "儿童健康管理年度任务"


def _add_year_column(ctx: api.Context, label: str, value_of) -> None:
    """Add a column to the 村名册 as a clerk does: after the last, its label in the header row."""
    book = openpyxl.load_workbook(ctx.workspace.registry_path)
    sheet = book.worksheets[0]
    header = next(r for r in range(1, 8) if any(c.value == "村代码" for c in sheet[r]))
    codes = {c.value: c.column for c in sheet[header]}
    column = sheet.max_column + 1
    sheet.cell(header, column, label)
    for r in range(header + 1, sheet.max_row + 1):
        code = sheet.cell(r, codes["村代码"]).value
        task = sheet.cell(r, codes[TASK]).value
        if code:
            sheet.cell(r, column, value_of(str(code), task))
    book.save(ctx.workspace.registry_path)


def _collect(ctx: api.Context, period: Month, *indexes: int, **values) -> None:
    for i in indexes:
        (ctx.workspace.inbox / f"{period}-{i}.xlsx").write_bytes(filled(ctx, i, period, **values))
    api.collect(ctx)


def _totals(result: api.Consolidation) -> dict[str, float]:
    return {v["code"]: v["total"] for v in result.table["villages"]}


def test_next_year_s_tasks_in_their_own_column_leave_this_year_s_notice_as_it_was(ctx):
    """Typing 2027's tasks over 2026's rescored December with them when it was made again in January: 17 villages
    moved and the 考核季 bonuses already paid went to others. In a “2027年…” column they count from January on."""
    _collect(ctx, DEC, 0, 1, 2, 3)
    december = api.consolidate(ctx, DEC)
    _add_year_column(ctx, f"2027年{TASK}", lambda code, task: round(task * 1.5))
    ctx = api.load_context(ctx.workspace.root)
    again = api.consolidate(ctx, DEC)
    assert _totals(again) == _totals(december) and again.revision is None
    village = ctx.registry.villages[0]
    assert village.year_tasks[2027]["task_child_health"] == round(village.tasks["task_child_health"] * 1.5)
    _collect(ctx, JAN, 0, 1, 2)
    january = api.consolidate(ctx, JAN)
    k = january.scored.codes.index(village.code)
    # January is in the first 考核季: 40 % of the year's task is due (weights 4:3:3), of 2027's task
    assert january.scored.data.targets["t:task_child_health"][january.scored.index[k]] == 0.4 * village.year_tasks[2027]["task_child_health"]
    assert not any("没有2027年的年度任务列" in n for n in january.notes)


def test_a_new_year_without_its_own_tasks_says_they_may_be_last_year_s(ctx):
    _collect(ctx, DEC, 0, 1, 2)
    api.consolidate(ctx, DEC)
    _collect(ctx, JAN, 0, 1, 2)
    january = api.consolidate(ctx, JAN)
    [note] = [n for n in january.notes if "没有2027年的年度任务列" in n]
    assert "“2027年生育登记服务年度任务”这样的列" in note and "可能还是去年的任务" in note
    notice = openpyxl.load_workbook(january.path)["通报"]
    assert any(note == c.value for row in notice.iter_rows() for c in row)
    assert not any("没有2026年" in n for n in api.consolidate(ctx, DEC).notes)  # December's year has its tasks


def test_a_task_left_0_for_every_village_is_said_on_the_notice(ctx):
    """Tasks not yet issued, typed 0 as the message asked: every village scored 180 + 36 on the item and the 通报
    said nothing (村名册待核实 needs three villages with the task to see one out of line)."""
    _add_year_column(ctx, f"2026年{TASK}", lambda code, task: 0)
    ctx = api.load_context(ctx.workspace.root)
    _collect(ctx, DEC, 0, 1, 2)
    result = api.consolidate(ctx, DEC)
    [note] = [n for n in result.notes if n.startswith("年度任务全部为 0")]
    assert TASK in note
    notice = openpyxl.load_workbook(result.path)["通报"]
    assert any(note == c.value for row in notice.iter_rows() for c in row)


def test_a_year_column_left_blank_for_a_village_stops_that_year_only(ctx):
    """A year column filled for some villages only would fall back, unsaid, to the other year's task. A review: the
    gap first made the whole row an error, so December (the year before) stopped and 11 villages left status."""
    first = ctx.registry.villages[0]
    _collect(ctx, DEC, 0, 1, 2)
    _add_year_column(ctx, f"2027年{TASK}", lambda code, task: None if code == first.code else task)
    ctx = api.load_context(ctx.workspace.root)
    [p] = [p for p in ctx.registry_problems if p.code == "C016"]
    assert "没有填写" in p.message and "2027年" in p.message and p.cell and first.name in p.message
    assert len(ctx.registry.villages) == 19 and not any(q.is_error for q in ctx.registry_problems)
    api.consolidate(ctx, DEC)  # the year before: as if the column were not there
    _collect(ctx, JAN, 0, 1, 2)
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, JAN)
    assert [q.code for q in err.value.problems] == ["C017"] and err.value.problems[0].cell == p.cell


def test_a_year_column_whose_label_is_not_read_is_said(ctx):
    """“2027年儿童健康管里年度任务” (a typo) and “2027年老年人体检任务”: ignored without a word, 2027 scored on the
    old tasks. Said at load (C018); a year with columns for only some tasks is said on the 通报."""
    _add_year_column(ctx, "2027年儿童健康管里年度任务", lambda code, task: task * 2)
    _add_year_column(ctx, "2027年生育登记服务年度任务", lambda code, task: 5)
    ctx = api.load_context(ctx.workspace.root)
    [p] = [p for p in ctx.registry_problems if p.code == "C018"]
    assert "2027年儿童健康管里年度任务" in p.message and f"如“2027年{TASK}”" in p.message
    for other in ("2027老年人体检年度任务", "老年人体检年度任务（2027年）"):  # the year written another way: said too
        _add_year_column(ctx, other, lambda code, task: task)
    named = [p.value for p in api.load_context(ctx.workspace.root).registry_problems if p.code == "C018"]
    assert {"2027老年人体检年度任务", "老年人体检年度任务（2027年）"} <= set(named)
    _collect(ctx, JAN, 0, 1, 2)
    [note] = [n for n in api.consolidate(ctx, JAN).notes if "只有一部分任务有自己的列" in n]
    assert TASK in note and "生育登记服务" not in note


def test_a_report_s_limit_is_its_own_year_s_task(ctx):
    """A month above the whole annual task is sent back: against the report's own year's task."""
    village = ctx.registry.villages[0]
    old = village.tasks["task_child_health"]
    _add_year_column(ctx, f"2027年{TASK}", lambda code, task: task * 3)
    ctx = api.load_context(ctx.workspace.root)
    value = int(old * 2)
    codes = {}
    for period in (DEC, JAN):
        check = check_bytes(filled(ctx, 0, period, child_health_managed=value), "r.xlsx", ctx.programme, ctx.registry, ctx.secret)
        codes[period] = [p.code for p in check.problems if p.field == "child_health_managed"]
    assert "V023" in codes[DEC] and "V023" not in codes[JAN]
