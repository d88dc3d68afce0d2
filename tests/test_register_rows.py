"""A mistyped row of the township's registers never changes the 通报 unseen: a year no ranking uses, a row
pasted twice, a code that belongs to another village than the name beside it, a 10 in the 次数 of a
once-only award — each stops the consolidation with the cell named (exit 2), as the spec's "Registers are
inputs too" asks. Rows of another year stay allowed where the ledger has that year's reports (one
register kept over several years)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from pipeline import api
from pipeline.problems import HuizongError
from pipeline.programme.periods import Month
from pipeline.workbook.registers import build_table_workbook

from .conftest import PERIOD, filled


def _assessment_rows(ctx: api.Context, year: int = 2026) -> list[dict[str, Any]]:
    raw = ctx.programme.raw["assessment_register"]
    zeros = {f["id"]: 0 for f in raw["fields"]}
    return [{"village_code": v.code, "village_name": v.name, "year": year, "assessment_period": q, **zeros}
            for q in ("第一考核季", "第二考核季", "第三考核季") for v in ctx.registry.villages]


def _write(ctx: api.Context, key: str, rows: list[dict[str, Any]]) -> None:
    raw = ctx.programme.raw[key]
    cols = api.register_columns(ctx.programme, key)
    (ctx.workspace.root / raw["file"]).write_bytes(build_table_workbook(raw["sheet"], raw["sheet"], cols, rows, "", "镇"))


def _adjustment(ctx: api.Context, i: int, day: date, item: str, count: int = 1, note: str = "", name: str | None = None) -> dict[str, Any]:
    v = ctx.registry.villages[i]
    return {"village_code": v.code, "village_name": v.name if name is None else name, "date": day, "item": item, "count": count, "note": note}


MADE = datetime(2026, 11, 27, 9, 0)  # when the 通报 is made: 2027 has not begun


def _refused(ctx: api.Context, now: datetime = MADE) -> dict[tuple[str, str], Any]:
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, PERIOD, now=now)
    assert not (ctx.workspace.reports / f"{PERIOD}-汇总排名.xlsx").exists()
    return {(p.code, p.cell): p for p in err.value.problems}


@pytest.fixture
def collected(ctx):
    for i in range(3):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    api.collect(ctx)
    _write(ctx, "assessment_register", _assessment_rows(ctx))
    _write(ctx, "adjustments", [])
    return ctx


@pytest.mark.parametrize("typed", [2025, 2027])
def test_a_veto_row_with_a_mistyped_year_stops_the_consolidation(collected, typed):
    """2025 for 2026 on the row that carries a 瞒报出生 (a veto): before, the row was left out of the year —
    the village lost its veto and climbed the 通报, and 数据质量 said only that the row was missing."""
    ctx = collected
    rows = _assessment_rows(ctx)
    veto = 2 * len(ctx.registry.villages)  # 第三考核季 of the first village
    rows[veto].update(year=typed, births_concealed=1)
    _write(ctx, "assessment_register", rows)
    problems = _refused(ctx)
    cell = f"C{4 + veto}"  # title, blank, header, then the rows
    assert set(problems) == {("V022", cell)}
    message = problems[("V022", cell)].message
    assert f"{typed}" in message and "2026年度" in message and "不会计入任何排名" in message


def test_last_year_s_rows_are_kept_where_the_ledger_has_last_year_s_reports(collected):
    """One register kept over the years: the 2025 rows name a year the ledger holds reports for."""
    ctx = collected
    (ctx.workspace.inbox / "old.xlsx").write_bytes(filled(ctx, 0, period=Month(2025, 12)))
    assert api.collect(ctx).items[0].status == "已接收"
    _write(ctx, "assessment_register", _assessment_rows(ctx, 2025) + _assessment_rows(ctx))
    _write(ctx, "adjustments", [_adjustment(ctx, 1, date(2025, 9, 15), "本市检查不达标")])
    result = api.consolidate(ctx, PERIOD)
    assert result.path.is_file()
    assert not result.scored.data.adjustments.get(ctx.registry.villages[1].code)  # 2025's deduction: not in 2026's ranking
    assert not result.scored.adj_deduction.any()


def test_a_row_of_the_next_year_counts_there_once_that_year_has_begun(collected):
    """December's 通报 is made in January, after a 3 January event was entered: the 2027 row is right, and
    counts in 2027. Before, it stopped the 2026 通报 and told the clerk to move it to "another register"
    (huizong reads one). Typed in November, before 2027 began, the same row is a typo (V022)."""
    ctx = collected
    _write(ctx, "adjustments", [_adjustment(ctx, 1, date(2027, 1, 3), "本市检查不达标")])
    problems = _refused(ctx, MADE)
    assert set(problems) == {("V022", "C4")}
    assert "另一份登记表" not in problems[("V022", "C4")].message
    result = api.consolidate(ctx, PERIOD, now=datetime(2027, 1, 5, 9, 0))
    assert not result.scored.adj_deduction.any()  # 2027's deduction: not in 2026's ranking


def test_in_january_a_year_typo_naming_a_season_or_day_still_to_come_stops_the_consolidation(collected):
    """December's 通报 made in January: the 第三考核季 findings typed 2027 (a 瞒报出生 veto with them) and a
    deduction dated 2027-11-20 name what has not begun. Allowing the whole of 2027 once January came let the
    veto row count for a future 考核季 and dropped the deduction, unsaid."""
    ctx = collected
    rows = _assessment_rows(ctx)
    veto = 2 * len(ctx.registry.villages)  # 第三考核季 of the first village
    rows[veto].update(year=2027, births_concealed=1)
    _write(ctx, "assessment_register", rows)
    _write(ctx, "adjustments", [_adjustment(ctx, 1, date(2027, 11, 20), "本市检查不达标"),
                                _adjustment(ctx, 2, date(2027, 1, 3), "本市检查不达标")])  # this one has happened
    problems = _refused(ctx, datetime(2027, 1, 5, 9, 0))
    assert set(problems) == {("V022", f"C{4 + veto}"), ("V022", "C4")}
    assert "到今天（2027年1月）为止已经开始的月份和考核季" in problems[("V022", "C4")].message


def test_a_deduction_dated_in_a_year_no_ranking_uses_stops_the_consolidation(collected):
    ctx = collected
    _write(ctx, "adjustments", [_adjustment(ctx, 1, date(2025, 9, 15), "本市检查不达标"),
                                _adjustment(ctx, 2, date(2026, 9, 15), "本市检查不达标")])
    problems = _refused(ctx)
    assert set(problems) == {("V022", "C4")}
    assert "2025年9月15日" in problems[("V022", "C4")].message


def test_a_row_pasted_twice_and_a_once_only_award_counted_ten_times_stop_the_consolidation(collected):
    """A −15 pasted twice counted −30; a 市级表彰 (+10, once per award) with 次数 10 gave +100. Two real
    deductions on one day are one row with 次数 2, which stays allowed."""
    ctx = collected
    _write(ctx, "adjustments", [
        _adjustment(ctx, 1, date(2026, 9, 15), "本市检查不达标", note="档案不全"),
        _adjustment(ctx, 1, date(2026, 9, 15), "本市检查不达标", note="档案不全"),
        _adjustment(ctx, 2, date(2026, 8, 27), "市级表彰", count=10),
        _adjustment(ctx, 0, date(2026, 5, 9), "迎接本市检查达标", count=2),
    ])
    problems = _refused(ctx)
    assert set(problems) == {("C008", "D5"), ("C008", "E6")}
    assert "第 4 行和第 5 行" in problems[("C008", "D5")].message
    assert "次数应填 1" in problems[("C008", "E6")].message


def test_a_code_that_belongs_to_another_village_than_the_name_stops_the_consolidation(collected):
    """The name says one village, the code another: the row would count for the code's village, and every
    sheet would show the registry's name for it — the typed name gone."""
    ctx = collected
    v = ctx.registry.villages
    _write(ctx, "adjustments", [_adjustment(ctx, 0, date(2026, 9, 15), "本市检查不达标", name=v[5].name),
                                _adjustment(ctx, 1, date(2026, 9, 15), "本市检查不达标", name=v[1].name + " ")])
    problems = _refused(ctx)
    assert set(problems) == {("C008", "B4")}
    message = problems[("C008", "B4")].message
    assert v[0].code in message and v[0].name in message and v[5].name in message and v[5].code in message


def test_a_monthly_register_row_for_a_month_of_another_year_stops_the_consolidation(tmp_path):
    """Programme B's 街道考核登记 is kept per month: a 造成恶劣影响 row (a veto for the year) typed 2025-09 for
    2026-09 was left out, and the 社区 was praised first instead of vetoed."""
    from pipeline.demo import run_demo

    period = Month(2026, 9)
    run_demo(tmp_path / "ws", period, programme="monthly-b")
    ctx = api.load_context(tmp_path / "ws")
    raw = ctx.programme.raw["assessment_register"]
    path = ctx.workspace.root / raw["file"]
    from pipeline.workbook.reader import read_table

    res = read_table(path.read_bytes(), path.name, raw["sheet"], api.register_columns(ctx.programme, "assessment_register"))
    rows = [{**r.values} for r in res.register]
    where = next(i for i, r in enumerate(rows) if r["month"] == "2026-09")
    rows[where].update(month="2025-09", severe_cases=1)
    _write(ctx, "assessment_register", rows)
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, period)
    (problem,) = err.value.problems
    assert problem.code == "V022" and problem.label == "月份" and problem.cell.endswith(str(4 + where))
    assert "2025年9月" in problem.message and "2026年度" in problem.message


def test_a_row_with_many_events_counts_and_is_marked_in_the_notice(collected):
    """迎接省级检查达标 with 次数 10 (a 1 typed 10) is +200: the last village first. The spec bounds no 次数, so
    it counts — and the 通报 says the row is to be checked, under a legend that says what the mark means."""
    import openpyxl

    ctx = collected
    v = ctx.registry.villages
    _write(ctx, "adjustments", [_adjustment(ctx, 2, date(2026, 9, 15), "迎接省级检查达标", count=10),
                                _adjustment(ctx, 0, date(2026, 9, 16), "迎接本市检查达标", count=2)])
    result = api.consolidate(ctx, PERIOD)
    wb = openpyxl.load_workbook(result.path)
    rows = {str(r[2]).rstrip("※"): r for r in wb["通报"].iter_rows(values_only=True) if r[2]}
    assert "加分扣分登记待核实" in rows[v[2].name][-1] and "加分扣分登记待核实" not in (rows[v[0].name][-1] or "")
    texts = [str(c) for r in wb["通报"].iter_rows(values_only=True) for c in r if c]
    assert any(t.startswith("加分扣分登记待核实：") for t in texts)
    assert any(t.startswith("分类得分为基本分") for t in texts)  # written in row order: constant_memory dropped it before
    quality = "\n".join(str(c) for r in wb["数据质量"].iter_rows(values_only=True) for c in r if c)
    assert f"{v[2].name}：迎接省级检查达标 ×10（+200 分" in quality


def test_a_township_count_far_above_its_usual_counts_and_is_marked_in_the_notice(collected):
    """全员人口信息核查差错数 5 typed 50 is −60 points (10th → 16th) and nothing looked at the township's own
    numbers. A count more than 3× the township's median of the same 考核季 (and 10 above it) still counts —
    the register is the township's — and the 通报 and 数据质量 say which row to check. A column with its own
    max (组织制度落实项数 ≤ 4) is refused above it when read, and not compared here."""
    import openpyxl

    ctx = collected
    v = ctx.registry.villages
    rows = _assessment_rows(ctx)
    for r in rows:
        r["info_errors"] = 5 if r["assessment_period"] == "第三考核季" else 2
    typo = next(i for i, r in enumerate(rows) if r["village_code"] == v[1].code and r["assessment_period"] == "第三考核季")
    rows[typo]["info_errors"] = 50
    rows[typo + 1]["info_errors"] = 12  # 12 against 5: not 3× and 10 above
    _write(ctx, "assessment_register", rows)
    result = api.consolidate(ctx, PERIOD)
    wb = openpyxl.load_workbook(result.path)
    notice = {str(r[2]).rstrip("※"): r for r in wb["通报"].iter_rows(values_only=True) if r[2]}
    assert "镇考核登记待核实" in notice[v[1].name][-1]
    assert all("镇考核登记待核实" not in (notice[x.name][-1] or "") for x in (v[0], v[2]))
    texts = [str(c) for r in wb["通报"].iter_rows(values_only=True) for c in r if c]
    assert any(t.startswith("镇考核登记待核实：") for t in texts)
    quality = "\n".join(str(c) for r in wb["数据质量"].iter_rows(values_only=True) for c in r if c)
    assert f"{v[1].name}：第三考核季“全员人口信息核查差错数” 50（全镇中位数 5，第 {typo + 4} 行）" in quality
    assert f"{v[2].name}：第三考核季" not in quality


def test_a_deduction_dated_after_today_is_a_typo_not_a_later_month_s_row(collected):
    """2026-05-09 typed 2026-12-09 for October's 通报 (made in November): the row was accepted and simply not
    counted in October — the village rose from 8th to 5th, unsaid. An event cannot be entered before it happens."""
    ctx = collected
    _write(ctx, "adjustments", [_adjustment(ctx, 1, date(2026, 12, 9), "本市检查不达标"),
                                _adjustment(ctx, 2, date(2026, 11, 3), "本市检查不达标")])  # November's: allowed, counted from November
    problems = _refused(ctx)
    assert set(problems) == {("V022", "C4")}
    assert "不能晚于今天所在的月份（2026年11月）" in problems[("V022", "C4")].message
