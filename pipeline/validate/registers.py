"""The township's own registers (镇考核登记, 加分扣分登记) as data, every problem located at its cell.

They are read with the same reader and checked the same way as village files: a bad row is
reported (file, sheet, cell) and left out, never guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..problems import Problem
from ..programme.config import FieldSpec
from ..programme.periods import AMBIGUOUS, Month
from ..registry import Registry, is_checked
from ..workbook.reader import ReadResult
from .record import validate_table


@dataclass(frozen=True)
class AssessmentEntry:
    village_code: str
    year: int
    period_name: str
    values: dict[str, float]
    row: int
    checked: bool = False  # 已核实: the township checked the row (its counts are not marked 待核实)


@dataclass(frozen=True)
class Adjustment:
    village_code: str
    day: date
    item_id: str
    label: str
    points: float
    count: int
    note: str
    row: int
    checked: bool = False  # 已核实

    @property
    def total(self) -> float:
        return self.points * self.count


@dataclass(frozen=True)
class Years:
    """The assessment years a register row may name: the one being consolidated, and any other the ledger
    holds accepted reports for (a register kept over several years). Any other year is a typo (2025 or
    2027 for 2026): the row would be left out of every ranking, a veto or a deduction with it. A later
    year's row is right only for what has begun by the day the 通报 is made (a January event entered
    before December's 通报): a 考核季 or date still to come is a typo too, however near."""

    consolidated: int
    in_ledger: frozenset[int]
    start_month: int = 1  # the month an assessment year starts (a 统计年度 may start in October)
    today: Month | None = None  # the day the 通报 is made (its month): a later year's row may name up to it
    season_starts: Mapping[str, int] = field(default_factory=dict)  # 考核季 name → its first month (1–12)

    def of(self, month: Month) -> int:
        return month.year if month.month >= self.start_month else month.year - 1

    def in_year(self, year: int, number: int) -> Month:
        """Month ``number`` (1–12) of assessment year ``year``."""
        return Month(year if number >= self.start_month else year + 1, number)

    def _kept(self, year: int) -> bool:
        return year == self.consolidated or year in self.in_ledger

    def allows(self, month: Month) -> bool:
        """A row's date or month: in a kept year, and never after the month the 通报 is made in — an event
        cannot be entered before it happens (2026-05-09 typed 2026-12-09 dropped out of October unsaid)."""
        if self.today is not None and month > self.today:
            return False
        return self._kept(self.of(month)) or (self.of(month) > self.consolidated and self.today is not None)

    def allows_season(self, year: int, season: str) -> bool:
        first = self.season_starts.get(season)
        return self._kept(year) or (year > self.consolidated and self.today is not None and first is not None
                                    and self.in_year(year, first) <= self.today)

    def name(self, year: int) -> str:
        return f"{year}年度" if self.start_month == 1 else f"{year}年{self.start_month}月起的考核年度"

    def describe(self) -> str:
        others = sorted(self.in_ledger - {self.consolidated})
        said = f"本次汇总的{self.name(self.consolidated)}"
        said += f"，或台账中有报表的{'、'.join(self.name(y) for y in others)}" if others else ""
        if self.today is not None and self.of(self.today) > self.consolidated:
            said += f"，或到今天（{self.today.chinese}）为止已经开始的月份和考核季"
        if self.today is not None:
            said += f"；日期和月份也不能晚于今天所在的月份（{self.today.chinese}），事情发生之后才能登记"
        return said


_TOTALS = frozenset({"合计", "总计", "小计", "全镇合计", "全乡合计", "全街道合计", "本页合计"})


def _is_total(value: object) -> bool:
    return isinstance(value, str) and value.replace(" ", "").replace("\u3000", "").replace(":", "").replace("：", "") in _TOTALS


# 已核实 cells that say no: blank, 否, FALSE, 0 … (anything neither these nor a yes is said to confirm nothing)
UNCHECKED_WORDS = frozenset(("", "否", "不是", "未核实", "没有", "无", "×", "✗", "FALSE", "N", "NO", "0"))


def odd_ticks(res: ReadResult) -> list[Problem]:
    """已核实 cells of a table that say neither yes nor no — TRUE, 1, Y, 已核 — each a warning (V025): they
    confirm nothing, and the clerk who typed them meant to."""
    out: list[Problem] = []
    for row in res.register:
        raw = row.raw.get("checked")
        if raw is None or raw == 0 or is_checked(row.values.get("checked")) or str(raw).strip().upper() in UNCHECKED_WORDS:
            continue
        shown = "TRUE" if raw is True else f"{raw:g}" if isinstance(raw, float) else str(raw)
        out.append(Problem("V025", file=res.file, sheet=res.sheet, cell=row.cells.get("checked", ""), field="checked", label="已核实",
                           value=shown))
    return out


def _row_problems(res: ReadResult, columns: tuple[FieldSpec, ...], registry: Registry) -> tuple[list[Problem], set[int]]:
    """Every problem of the table (the reader's and the cells'), and rows whose village is unknown or whose name
    names another village than its code."""
    found, bad = validate_table(res, columns)
    problems = list(res.problems) + found + odd_ticks(res)
    for i, row in enumerate(res.register):
        total = next((k for k in ("village_code", "village_name") if _is_total(row.raw.get(k))), None)
        if total is not None:  # a 合计 row: one problem that says so, not "村代码未填写", "找不到" or its =SUM()
            cells = set(row.cells.values())
            problems = [p for p in problems if p.cell not in cells]
            problems.append(Problem("C012", file=res.file, sheet=res.sheet, cell=row.cells.get(total, ""), value=str(row.raw[total])))
            bad.add(i)
            continue
        code = row.values.get("village_code")
        if code is None:
            continue
        village = registry.by_code(str(code))
        typed = row.values.get("village_name")
        named = registry.by_name(str(typed)) if typed not in (None, "") else None
        if village is None:
            left_out = registry.left_out_row(str(code), str(typed or ""))
            why = (f"（名称像是{named.name}，代码应为 {named.code}）" if named is not None
                   else f"（村名册中{left_out[1] or '这个村'}那一行有错，没有读入，见村名册的提示）" if left_out is not None else "")
            problems.append(Problem("C011", file=res.file, sheet=res.sheet, cell=row.cells.get("village_code", ""),
                                    label="村代码", value=code, detail=why))
            bad.add(i)
        elif typed not in (None, "") and named is not village:  # the row would count for the code's village, unseen
            whose = f"；{named.name}的代码是 {named.code}" if named is not None else ""
            problems.append(Problem("C008", file=res.file, sheet=res.sheet, cell=row.cells.get("village_name", ""), field="village_name",
                                    label="村名", value=typed,
                                    detail=f"村代码 {code} 是{village.name}的，村名却填的是“{typed}”{whose}。请核对这一行是哪个村的"))
            bad.add(i)
    return problems, bad


def assessment_entries(res: ReadResult, columns: tuple[FieldSpec, ...], registry: Registry,
                       years: Years | None = None) -> tuple[list[AssessmentEntry], list[Problem]]:
    """The register's rows; ``years``: the 年度 (or 月份) a row may name — any other is an error."""
    problems, bad = _row_problems(res, columns, registry)
    fields = [c.id for c in columns if c.id not in ("village_code", "village_name", "year", "assessment_period", "month") and not c.annotates]
    entries: list[AssessmentEntry] = []
    seen: dict[tuple[str, int, str], int] = {}
    for i, row in enumerate(res.register):
        if i in bad:
            continue
        v = row.values
        if "month" in v:  # a monthly register (granularity: month)
            if Month.lost_digit(row.raw.get("month")):
                problems.append(Problem("C008", file=res.file, sheet=res.sheet, cell=row.cells.get("month", ""), field="month", label="月份",
                                        detail=AMBIGUOUS.format(value=v["month"])))
                continue
            month = Month.try_parse(v["month"])
            if month is None:
                problems.append(Problem("I002", file=res.file, sheet=res.sheet, cell=row.cells.get("month", ""), field="month", value=v["month"]))
                continue
            if years is not None and not years.allows(month):
                problems.append(Problem("V022", file=res.file, sheet=res.sheet, cell=row.cells.get("month", ""), field="month",
                                        label="月份", value=f"{month.year}年{month.month}月", detail=years.describe()))
                continue
            key = (str(v["village_code"]), month.year, str(month))
        else:
            year = int(v["year"])
            if years is not None and not years.allows_season(year, str(v["assessment_period"])):
                problems.append(Problem("V022", file=res.file, sheet=res.sheet, cell=row.cells.get("year", ""), field="year",
                                        label="年度", value=year, detail=years.describe()))
                continue
            key = (str(v["village_code"]), year, str(v["assessment_period"]))
        if key in seen:
            problems.append(Problem("C008", file=res.file, sheet=res.sheet, cell=row.cells.get("assessment_period", "") or row.cells.get("month", ""),
                                    field="assessment_period", label="考核季" if "month" not in v else "月份",
                                    detail=f"同一村同一时段登记了两次（第 {seen[key]} 行和第 {row.row} 行），请合并为一行"))
            continue
        seen[key] = row.row
        entries.append(AssessmentEntry(key[0], key[1], key[2], {f: float(v[f]) for f in fields if f in v}, row.row,
                                       is_checked(v.get("checked"))))
    return entries, problems


def adjustments(res: ReadResult, columns: tuple[FieldSpec, ...], registry: Registry, items: list[dict[str, Any]],
                years: Years | None = None) -> tuple[list[Adjustment], list[Problem]]:
    """The register's rows; ``years``: the assessment years a row's date may fall in — any other is an error.

    The same village, day, item and note twice is an error too: a row pasted twice would count twice
    (two real awards on one day are one row with 次数 2). An item the programme gives once (no ``per``)
    is one row per award, 次数 1: a 10 typed there would give ten awards.
    """
    problems, bad = _row_problems(res, columns, registry)
    by_label = {str(i["label"]): i for i in items}
    out = []
    seen: dict[tuple[Any, ...], int] = {}
    for i, row in enumerate(res.register):
        if i in bad:
            continue
        v = row.values
        day = v["date"]
        if years is not None and isinstance(day, date) and not years.allows(Month(day.year, day.month)):
            problems.append(Problem("V022", file=res.file, sheet=res.sheet, cell=row.cells.get("date", ""), field="date",
                                    label="日期", value=f"{day.year}年{day.month}月{day.day}日", detail=years.describe()))
            continue
        item = by_label[str(v["item"])]  # the schema's enum check guarantees a known label
        count = int(v["count"])
        if not item.get("per") and count != 1:
            problems.append(Problem("C008", file=res.file, sheet=res.sheet, cell=row.cells.get("count", ""), field="count", label="次数",
                                    value=count, detail=f"“{item['label']}”按项计分、不按次数，次数应填 1（另有一次请另起一行）"))
            continue
        key = (str(v["village_code"]), day, str(item["id"]), str(v.get("note", "")).strip())
        if key in seen:
            problems.append(Problem("C008", file=res.file, sheet=res.sheet, cell=row.cells.get("item", ""), field="item", label="事项",
                                    detail=f"同一村同一天的同一事项登记了两次（第 {seen[key]} 行和第 {row.row} 行）。"
                                           "如是重复粘贴请删去一行；如确有两次，请合并为一行并把次数填 2"))
            continue
        seen[key] = row.row
        out.append(Adjustment(str(v["village_code"]), day, str(item["id"]), str(item["label"]), float(item["points"]),
                              count, str(v.get("note", "")), row.row, is_checked(v.get("checked"))))
    return out, problems
