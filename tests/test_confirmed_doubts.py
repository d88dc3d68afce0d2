"""A 待核实 mark the township has checked can be taken off: every township table ends with an 已核实 column.

Before it, a real but unusual number (a village with 50 errors found, a task of 0 that is right, three
inspections passed on one day) was marked 待核实 in every 通报 for the rest of the year, and there was no way to
publish a clean one: the mark said "not checked" about a number the township had checked. Now 是 in the row's
已核实 cell takes the mark off the 通报; 数据质量 still lists the number, saying it was confirmed. A table made
before the column existed reads as before, and only an explicit yes confirms.
"""

from __future__ import annotations

from datetime import date

import openpyxl
import pytest

from pipeline import api
from pipeline.quality import doubts_of
from pipeline.registry import is_checked, registry_columns
from pipeline.workbook.reader import read_table
from pipeline.workbook.registers import build_table_workbook

from .conftest import PERIOD, filled
from .test_joining import _registry_rows
from .test_register_rows import _adjustment, _assessment_rows, _write


@pytest.fixture
def collected(ctx):
    for i in range(5):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    api.collect(ctx)
    _write(ctx, "adjustments", [])
    return ctx


def _notice_and_quality(ctx: api.Context) -> tuple[dict[str, tuple], str]:
    book = openpyxl.load_workbook(api.consolidate(ctx, PERIOD).path)
    notice = {str(r[2]).rstrip("※"): r for r in book["通报"].iter_rows(values_only=True) if r[2]}
    quality = "\n".join(str(c) for r in book["数据质量"].iter_rows(values_only=True) for c in r if c)
    return notice, quality


def _register_with_typo(ctx: api.Context, checked: str | None) -> int:
    v = ctx.registry.villages
    rows = _assessment_rows(ctx)
    for r in rows:
        r["info_errors"] = 5 if r["assessment_period"] == "第三考核季" else 2
    at = next(i for i, r in enumerate(rows) if r["village_code"] == v[1].code and r["assessment_period"] == "第三考核季")
    rows[at]["info_errors"] = 50
    if checked is not None:
        rows[at]["checked"] = checked
    _write(ctx, "assessment_register", rows)
    return at


def test_a_checked_township_count_is_not_marked_but_still_listed(collected):
    ctx = collected
    v = ctx.registry.villages
    _seen_first(ctx)  # (a 是 confirms what a 通报 marked: see the tests at the end)
    at = _register_with_typo(ctx, "是")
    notice, quality = _notice_and_quality(ctx)
    assert "待核实" not in (notice[v[1].name][-1] or "")
    assert not any(str(r[-1] or "").startswith("镇考核登记待核实：") for r in notice.values())
    assert "镇里已在登记表“已核实”一栏确认无误的数" in quality
    assert f"{v[1].name}：镇考核登记第三考核季“全员人口信息核查差错数” 50（全镇中位数 5，第 {at + 4} 行）" in quality
    assert "远高于全镇同期一般水平" not in quality  # not also listed as still to be checked


@pytest.mark.parametrize("typed", ["否", "核实中", ""])
def test_only_an_explicit_yes_confirms(collected, typed):
    ctx = collected
    v = ctx.registry.villages
    _register_with_typo(ctx, typed)
    notice, quality = _notice_and_quality(ctx)
    assert "镇考核登记待核实" in notice[v[1].name][-1]
    assert "确认无误的数" not in quality


def test_is_checked_reads_the_ways_a_clerk_says_yes():
    assert all(is_checked(x) for x in ("是", " 是 ", "已核实", "√", "✓"))
    assert not any(is_checked(x) for x in ("否", "", None, "未核实", 1, "不是"))


def test_a_checked_adjustment_row_is_not_marked(collected):
    ctx = collected
    v = ctx.registry.villages
    row = _adjustment(ctx, 2, date(2026, 9, 15), "迎接省级检查达标", count=10)
    other = _adjustment(ctx, 3, date(2026, 9, 15), "迎接省级检查达标", count=5)
    _write(ctx, "adjustments", [row, other])
    _notice_and_quality(ctx)
    _write(ctx, "adjustments", [{**row, "checked": "是"}, other])
    notice, quality = _notice_and_quality(ctx)
    assert "待核实" not in (notice[v[2].name][-1] or "")
    assert "加分扣分登记待核实" in notice[v[3].name][-1]  # the row not checked keeps its mark
    assert f"{v[2].name}：加分扣分登记迎接省级检查达标 ×10（+200 分" in quality


def test_a_checked_registry_row_takes_off_its_task_doubt(workspace):
    ctx = api.load_context(workspace)
    v = ctx.registry.villages
    _registry_rows(ctx, **{v[2].code: {"task_birth_reg": 0}, v[3].code: {"task_birth_reg": 0}})
    ctx = api.load_context(workspace)
    for i in range(5):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    api.collect(ctx)
    _notice_and_quality(ctx)
    _registry_rows(ctx, **{v[2].code: {"task_birth_reg": 0, "checked": "是"}, v[3].code: {"task_birth_reg": 0}})
    ctx = api.load_context(workspace)
    assert ctx.registry.by_code(v[2].code).checked and not ctx.registry.by_code(v[3].code).checked
    notice, quality = _notice_and_quality(ctx)
    assert "村名册待核实" not in (notice[v[2].name][-1] or "")
    assert "村名册待核实" in notice[v[3].name][-1]
    assert f"{v[2].name}：村名册生育登记服务年度任务 0（按户籍人口" in quality


def test_tables_made_before_the_column_read_as_before(collected):
    """A 村名册 and registers without 已核实 (every workspace made before it): read, nothing confirmed, marks as before."""
    ctx = collected
    v = ctx.registry.villages
    old = tuple(c for c in registry_columns(ctx.programme.tasks) if c.id != "checked")
    rows = [{"code": x.code, "name": x.name, "population": x.population, **x.tasks} for x in v]
    ctx.workspace.registry_path.write_bytes(build_table_workbook("村名册", "村名册", old, rows, "", "镇"))
    raw = ctx.programme.raw["assessment_register"]
    cols = tuple(c for c in api.register_columns(ctx.programme, "assessment_register") if c.id != "checked")
    reg = _assessment_rows(ctx)
    for r in reg:
        r["info_errors"] = 5
    reg[len(v) * 2 + 1]["info_errors"] = 50
    (ctx.workspace.root / raw["file"]).write_bytes(build_table_workbook(raw["sheet"], raw["sheet"], cols, reg, "", "镇"))
    ctx = api.load_context(ctx.workspace.root)
    assert not ctx.registry_problems and len(ctx.registry.villages) == len(v)
    notice, quality = _notice_and_quality(ctx)
    assert "镇考核登记待核实" in notice[v[1].name][-1]
    assert "确认无误的数" not in quality


def test_the_tables_offer_a_yes_no_drop_down(collected):
    """The column is made with the table (init) and offers 是 / 否; its label is what the reader looks for."""
    ctx = collected
    raw = ctx.programme.raw["assessment_register"]
    path = ctx.workspace.root / raw["file"]
    sheet = openpyxl.load_workbook(path)[raw["sheet"]]
    header = [c.value for c in sheet[3]]
    assert header[-1] == "已核实"
    col = openpyxl.utils.get_column_letter(len(header))
    lists = [dv for dv in sheet.data_validations.dataValidation if dv.type == "list" and str(dv.sqref).startswith(f"{col}4")]
    assert lists and lists[0].formula1 == '"是,否"'
    res = read_table(path.read_bytes(), path.name, raw["sheet"], api.register_columns(ctx.programme, "assessment_register"))
    assert not [p for p in res.problems if p.is_error]


def test_the_township_s_usual_is_taken_over_checked_rows_too(collected):
    """The median a count is compared with is the township's, checked rows included: confirming rows never makes
    another look out of line. Here most rows are 5 and checked, the others 2: a 14 is in line with the township's
    usual of 5, and would be out of line (7×, 12 above) against the unchecked rows alone."""
    ctx = collected
    v = ctx.registry.villages
    rows = _assessment_rows(ctx)
    third = [r for r in rows if r["assessment_period"] == "第三考核季"]
    for r in rows:
        r["info_errors"] = 2
    for r in third[: len(third) // 2 + 1]:
        r["info_errors"], r["checked"] = 5, "是"
    third[-1]["info_errors"] = 14
    _write(ctx, "assessment_register", rows)
    scored = api.scorer(ctx).score(PERIOD)
    assert scored is not None
    doubted = doubts_of(scored.data)
    assert not doubted.register and not doubted.checked
    third[-1]["info_errors"] = 16  # 3× the usual and more than 10 above it: doubted, whatever the others' 已核实
    _write(ctx, "assessment_register", rows)
    scored = api.scorer(ctx).score(PERIOD)
    assert scored is not None and list(doubts_of(scored.data).register) == [third[-1]["village_code"]]
    assert third[-1]["village_code"] in {x.code for x in v}


def test_a_column_of_no_filled_down_ahead_makes_no_rows(collected):
    """否 dragged down the 已核实 column ahead of use: each such row was read as a row with every other cell empty
    (次数未填写…) and the consolidation stopped. A row of only 已核实 is no row, in every township table."""
    ctx = collected
    v = ctx.registry.villages
    _write(ctx, "adjustments", [_adjustment(ctx, 2, date(2026, 9, 15), "迎接省级检查达标", count=1)]
           + [{"checked": "否"} for _ in range(5)])
    rows = [{"code": x.code, "name": x.name, "population": x.population, **x.tasks} for x in v]
    ctx.workspace.registry_path.write_bytes(build_table_workbook(
        "村名册", "村名册", registry_columns(ctx.programme.tasks), rows + [{"checked": "否"}] * 3, "", "镇"))
    ctx = api.load_context(ctx.workspace.root)
    assert not ctx.registry_problems and len(ctx.registry.villages) == len(v)
    assert api.consolidate(ctx, PERIOD).path.exists()


def test_ticking_a_row_is_no_change_of_the_register(collected):
    """A 通报 made again says which inputs changed since the last one; a tick in 已核实 changes no number."""
    from pipeline.ledger.db import Ledger
    from pipeline.ledger.editions import last_edition

    ctx = collected
    row = _adjustment(ctx, 2, date(2026, 9, 15), "迎接省级检查达标", count=10)
    _write(ctx, "adjustments", [row])
    _register_with_typo(ctx, None)
    api.consolidate(ctx, PERIOD)
    with Ledger(ctx.workspace.ledger_path) as ledger:
        before = last_edition(ledger.conn, ctx.programme.id, str(PERIOD))
    _write(ctx, "adjustments", [{**row, "checked": "是"}])
    _register_with_typo(ctx, "是")
    again = api.consolidate(ctx, PERIOD)
    with Ledger(ctx.workspace.ledger_path) as ledger:
        after = last_edition(ledger.conn, ctx.programme.id, str(PERIOD))
    assert before is not None and after is not None and before.inputs == after.inputs
    assert again.revision is None or "登记" not in "\n".join(again.revision.lines())


# A 是 confirms the number the 通报 showed, not whatever the row holds later. Before, a tick stayed on its row
# whatever was typed into it afterwards, and went with the row when it was copied (the next 考核季's entry made
# from the last): 50 confirmed, later typed 500, was published with no mark at all.

def _seen_first(ctx: api.Context) -> None:
    """The township's usual way: a 通报 marks the number, the row not yet ticked."""
    _register_with_typo(ctx, None)
    notice, _ = _notice_and_quality(ctx)
    assert "镇考核登记待核实" in notice[ctx.registry.villages[1].name][-1]


def test_a_tick_given_after_the_mark_confirms_the_number(collected):
    ctx = collected
    v = ctx.registry.villages
    _seen_first(ctx)
    _register_with_typo(ctx, "是")
    notice, quality = _notice_and_quality(ctx)
    assert "待核实" not in (notice[v[1].name][-1] or "")
    assert "确认无误的数" in quality and "仍注明待核实的数" not in quality
    notice, _ = _notice_and_quality(ctx)  # and it holds in every later 通报
    assert "待核实" not in (notice[v[1].name][-1] or "")


def test_a_number_changed_under_its_tick_is_marked_again(collected):
    ctx = collected
    v = ctx.registry.villages
    _seen_first(ctx)
    at = _register_with_typo(ctx, "是")
    _notice_and_quality(ctx)
    rows = _assessment_rows(ctx)
    for r in rows:
        r["info_errors"] = 5 if r["assessment_period"] == "第三考核季" else 2
    rows[at].update(info_errors=500, checked="是")  # 50 was checked; a slip of the keyboard later, the tick still there
    _write(ctx, "assessment_register", rows)
    notice, quality = _notice_and_quality(ctx)
    assert "镇考核登记待核实" in notice[v[1].name][-1]
    assert "“已核实”选了“是”、仍注明待核实的数" in quality
    assert f"{v[1].name}：镇考核登记第三考核季“全员人口信息核查差错数” 500（全镇中位数 5，第 {at + 4} 行）" in quality
    # checked again the township's way: the tick taken off for one 通报, then given: confirmed
    rows[at]["checked"] = ""
    _write(ctx, "assessment_register", rows)
    _notice_and_quality(ctx)
    rows[at]["checked"] = "是"
    _write(ctx, "assessment_register", rows)
    notice, quality = _notice_and_quality(ctx)
    assert "待核实" not in (notice[v[1].name][-1] or "") and "仍注明待核实的数" not in quality


def test_a_row_copied_with_its_tick_confirms_nothing(collected):
    """The 3rd 考核季's row made by copying the 2nd's, 是 and all: its new number was never shown to anyone."""
    ctx = collected
    v = ctx.registry.villages
    _register_with_typo(ctx, None)
    _notice_and_quality(ctx)  # a 通报 made under the rule: ticks from now on confirm only what it marked
    rows = _assessment_rows(ctx)
    for r in rows:
        r["info_errors"] = 5 if r["assessment_period"] == "第三考核季" else 2
    at = next(i for i, r in enumerate(rows) if r["village_code"] == v[2].code and r["assessment_period"] == "第三考核季")
    rows[at].update(info_errors=60, checked="是")
    _write(ctx, "assessment_register", rows)
    notice, quality = _notice_and_quality(ctx)
    assert "镇考核登记待核实" in notice[v[2].name][-1]
    assert f"{v[2].name}：镇考核登记第三考核季“全员人口信息核查差错数” 60" in quality.split("仍注明待核实的数")[1]


def test_ticks_given_before_a_ledger_kept_marks_still_count(collected):
    """A workspace whose 是 were given under the earlier rule (its 通报 made, no marks kept): they count, and go on counting."""
    from pipeline.ledger.db import Ledger

    ctx = collected
    v = ctx.registry.villages
    _seen_first(ctx)
    with Ledger(ctx.workspace.ledger_path) as ledger:  # as an earlier version left it: editions, no marks
        ledger.conn.execute("DELETE FROM marked")
    _register_with_typo(ctx, "是")
    for _ in range(2):
        notice, quality = _notice_and_quality(ctx)
        assert "待核实" not in (notice[v[1].name][-1] or "") and "仍注明待核实的数" not in quality
    with Ledger(ctx.workspace.ledger_path) as ledger:
        kept = ledger.conn.execute("SELECT place, village_code FROM marked WHERE place != ''").fetchall()
    assert ("镇考核登记", v[1].code) in {tuple(r) for r in kept}


def test_a_new_workspace_or_programme_confirms_nothing_it_has_not_marked(collected):
    """No 通报 made yet (or none of this programme): a 是 already in the table — dragged down ahead of use, or in a
    table copied from last year — was given under no rule at all, and confirms nothing (a review found a fresh
    workspace treated like a ledger from before, every 是 honoured and kept for good)."""
    ctx = collected
    v = ctx.registry.villages
    _register_with_typo(ctx, "是")
    notice, quality = _notice_and_quality(ctx)
    assert "镇考核登记待核实" in notice[v[1].name][-1] and "仍注明待核实的数" in quality


def test_other_tables_bind_their_ticks_to_the_number_too(collected):
    """加分扣分登记: 次数 10 checked, then 100 under the same tick; 村名册: a task of 0 checked, then the population changed."""
    ctx = collected
    v = ctx.registry.villages
    row = _adjustment(ctx, 2, date(2026, 9, 15), "迎接省级检查达标", count=10)
    _write(ctx, "adjustments", [row])
    _registry_rows(ctx, **{v[3].code: {"task_birth_reg": 0}})
    ctx = api.load_context(ctx.workspace.root)
    _notice_and_quality(ctx)
    _write(ctx, "adjustments", [{**row, "checked": "是"}])
    _registry_rows(ctx, **{v[3].code: {"task_birth_reg": 0, "checked": "是"}})
    ctx = api.load_context(ctx.workspace.root)
    notice, _ = _notice_and_quality(ctx)
    assert "待核实" not in (notice[v[2].name][-1] or "") and "待核实" not in (notice[v[3].name][-1] or "")
    _write(ctx, "adjustments", [{**row, "count": 100, "checked": "是"}])
    _registry_rows(ctx, **{v[3].code: {"task_birth_reg": 0, "checked": "是", "population": v[3].population * 2}})
    ctx = api.load_context(ctx.workspace.root)
    notice, quality = _notice_and_quality(ctx)
    assert "加分扣分登记待核实" in notice[v[2].name][-1] and "村名册待核实" in notice[v[3].name][-1]
    unseen = quality.split("仍注明待核实的数")[1]
    assert f"{v[2].name}：加分扣分登记迎接省级检查达标 ×100" in unseen and f"{v[3].name}：村名册生育登记服务年度任务 0" in unseen


def test_a_copied_adjustment_with_another_note_is_a_new_row(collected):
    """加分扣分登记 rows are told apart by their 备注 too: the same day's ×10 copied, 是 and all, for another
    inspection was taken for the confirmed row (a second +200 published unmarked, listed as confirmed)."""
    ctx = collected
    v = ctx.registry.villages
    row = _adjustment(ctx, 2, date(2026, 9, 15), "迎接省级检查达标", count=10)
    _write(ctx, "adjustments", [{**row, "note": "市级检查"}])
    _notice_and_quality(ctx)
    _write(ctx, "adjustments", [{**row, "note": "市级检查", "checked": "是"}])
    notice, _ = _notice_and_quality(ctx)
    assert "待核实" not in (notice[v[2].name][-1] or "")
    _write(ctx, "adjustments", [{**row, "note": "市级检查", "checked": "是"}, {**row, "note": "省级复查", "checked": "是"}])
    notice, quality = _notice_and_quality(ctx)
    assert "加分扣分登记待核实" in notice[v[2].name][-1]
    assert f"{v[2].name}：加分扣分登记迎接省级检查达标 ×10（+200 分，第 5 行）" in quality.split("仍注明待核实的数")[1]


def test_a_registry_row_carried_into_the_next_year_is_checked_again(workspace):
    """A task of 0 confirmed for 2026 and left, 是 and all, in the 2027 村名册 is a new year's number."""
    from dataclasses import replace

    from pipeline.programme.periods import Month

    ctx = api.load_context(workspace)
    v = ctx.registry.villages
    _registry_rows(ctx, **{v[2].code: {"task_birth_reg": 0}})
    ctx = api.load_context(workspace)
    for i in range(5):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    api.collect(ctx)
    scored = api.scorer(ctx).score(PERIOD)
    assert scored is not None
    marked = doubts_of(scored.data, frozenset()).marked  # the 2026 通报 marks it
    _registry_rows(ctx, **{v[2].code: {"task_birth_reg": 0, "checked": "是"}})
    ctx = api.load_context(workspace)
    scored = api.scorer(ctx).score(PERIOD)
    assert scored is not None
    assert v[2].code in doubts_of(scored.data, marked).checked  # confirmed in 2026
    january = replace(scored.data, period=Month(2027, 1), months=[Month(2027, 1)])
    assert v[2].code in doubts_of(january, marked).unseen  # not in 2027


@pytest.mark.parametrize(("typed", "said"), [(True, True), (1, True), ("Y", True), ("已核", True), (False, False), (0, False), ("否", False)])
def test_a_tick_that_says_neither_yes_nor_no_is_said_to_confirm_nothing(collected, typed, said):
    """TRUE, 1, Y, 已核 in 已核实: the mark stayed, and nothing said why the clerk's tick did nothing."""
    ctx = collected
    v = ctx.registry.villages
    row = _adjustment(ctx, 2, date(2026, 9, 15), "迎接省级检查达标", count=10)
    _write(ctx, "adjustments", [row])
    _notice_and_quality(ctx)
    _write(ctx, "adjustments", [{**row, "checked": typed}])
    result = api.consolidate(ctx, PERIOD)
    odd = [p for p in result.register_problems if p.code == "V025"]
    assert len(odd) == said  # (FALSE, 0, 否 say no, plainly: nothing to say of them)
    if not said:
        return
    (odd,) = odd
    assert not odd.is_error and odd.cell.startswith(chr(ord("A") + 6)) and "不算确认" in odd.message
    notice = {str(r[2]).rstrip("※"): r for r in openpyxl.load_workbook(result.path)["通报"].iter_rows(values_only=True) if r[2]}
    assert "加分扣分登记待核实" in notice[v[2].name][-1]


def test_ticks_from_before_count_in_any_month_made_again_later(collected):
    """The first 通报 under the rule kept only the 是 it showed: a +200 of 15 October confirmed under the earlier
    rule, with September made again first (a correction came in), was marked again in October's next 通报 — and
    the clerk told the row had been copied or changed. The first 通报 keeps every 是 of the tables."""
    from pipeline.ledger.db import Ledger
    from pipeline.programme.periods import Month

    ctx = collected
    v = ctx.registry.villages
    september = Month(2026, 9)
    for i in range(5):
        (ctx.workspace.inbox / f"9-{i}.xlsx").write_bytes(filled(ctx, i, september))
    api.collect(ctx)
    row = _adjustment(ctx, 2, date(2026, 10, 15), "迎接省级检查达标", count=10)
    _write(ctx, "adjustments", [row])
    _notice_and_quality(ctx)
    _write(ctx, "adjustments", [{**row, "checked": "是"}])
    with Ledger(ctx.workspace.ledger_path) as ledger:  # as an earlier version left it: editions, no marks
        ledger.conn.execute("DELETE FROM marked")
    api.consolidate(ctx, september)
    notice, quality = _notice_and_quality(ctx)
    assert "待核实" not in (notice[v[2].name][-1] or "") and "仍注明待核实的数" not in quality


def test_the_first_notice_under_the_rule_keeps_only_what_was_ticked(collected):
    """It kept every doubt of the whole tables, unticked ones of other months included: a +200 of 15 October no
    通报 had shown, ticked after September was made again, was published in October with no mark."""
    from pipeline.ledger.db import Ledger
    from pipeline.programme.periods import Month

    ctx = collected
    v = ctx.registry.villages
    september = Month(2026, 9)
    for i in range(5):
        (ctx.workspace.inbox / f"9-{i}.xlsx").write_bytes(filled(ctx, i, september))
    api.collect(ctx)
    _notice_and_quality(ctx)
    with Ledger(ctx.workspace.ledger_path) as ledger:  # as an earlier version left it: editions, no marks
        ledger.conn.execute("DELETE FROM marked")
    row = _adjustment(ctx, 2, date(2026, 10, 15), "迎接省级检查达标", count=10)
    _write(ctx, "adjustments", [row])
    api.consolidate(ctx, september)  # the first under the rule: the October row is not its to show
    _write(ctx, "adjustments", [{**row, "checked": "是"}])
    notice, quality = _notice_and_quality(ctx)
    assert "加分扣分登记待核实" in notice[v[2].name][-1] and "仍注明待核实的数" in quality
