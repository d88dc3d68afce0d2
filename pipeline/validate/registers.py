"""The township's own registers (镇考核登记, 加分扣分登记) as data, every problem located at its cell.

They are read with the same reader and checked the same way as village files: a bad row is
reported (file, sheet, cell) and left out, never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ..problems import Problem
from ..programme.config import FieldSpec
from ..programme.periods import Month
from ..registry import Registry
from ..workbook.reader import ReadResult
from .record import validate_table


@dataclass(frozen=True)
class AssessmentEntry:
    village_code: str
    year: int
    period_name: str
    values: dict[str, float]
    row: int


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

    @property
    def total(self) -> float:
        return self.points * self.count


def _row_problems(res: ReadResult, columns: tuple[FieldSpec, ...], registry: Registry) -> tuple[list[Problem], set[int]]:
    problems, bad = validate_table(res, columns)
    for i, row in enumerate(res.register):
        code = row.values.get("village_code")
        if code is not None and registry.by_code(str(code)) is None:
            named = registry.by_name(str(row.values.get("village_name", "")))
            problems.append(Problem("I001", file=res.file, sheet=res.sheet, cell=row.cells.get("village_code", ""), field="village_code",
                                    value=code if named is None else f"{code}（名称像是{named.name}，代码应为 {named.code}）"))
            bad.add(i)
    return problems, bad


def assessment_entries(res: ReadResult, columns: tuple[FieldSpec, ...], registry: Registry,
                       years: tuple[int, int] | None = None) -> tuple[list[AssessmentEntry], list[Problem]]:
    """The register's rows; ``years`` (first, last): the 年度 a row may name (a typo such as 2062 is an error)."""
    problems = [p for p in res.problems]
    more, bad = _row_problems(res, columns, registry)
    problems += more
    if years is not None:
        for i, row in enumerate(res.register):
            y = row.values.get("year")
            if i not in bad and isinstance(y, (int, float)) and not years[0] <= int(y) <= years[1]:
                problems.append(Problem("V022", file=res.file, sheet=res.sheet, cell=row.cells.get("year", ""), field="year",
                                        label="年度", value=int(y), detail=f"{years[0]}—{years[1]}年"))
                bad.add(i)
    fields = [c.id for c in columns if c.id not in ("village_code", "village_name", "year", "assessment_period", "month")]
    entries: list[AssessmentEntry] = []
    seen: dict[tuple[str, int, str], int] = {}
    for i, row in enumerate(res.register):
        if i in bad:
            continue
        v = row.values
        if "month" in v:  # a monthly register (granularity: month)
            month = Month.try_parse(v["month"])
            if month is None:
                problems.append(Problem("I002", file=res.file, sheet=res.sheet, cell=row.cells.get("month", ""), field="month", value=v["month"]))
                continue
            key = (str(v["village_code"]), month.year, str(month))
        else:
            key = (str(v["village_code"]), int(v["year"]), str(v["assessment_period"]))
        if key in seen:
            problems.append(Problem("C003", file=res.file, sheet=res.sheet, cell=row.cells.get("assessment_period", ""), field="assessment_period",
                                    label="考核季", detail=f"同一村同一时段登记了两次（第 {seen[key]} 行和第 {row.row} 行），请合并为一行"))
            continue
        seen[key] = row.row
        entries.append(AssessmentEntry(key[0], key[1], key[2], {f: float(v[f]) for f in fields if f in v}, row.row))
    return entries, problems


def adjustments(res: ReadResult, columns: tuple[FieldSpec, ...], registry: Registry, items: list[dict[str, Any]],
                days: tuple[date, date] | None = None) -> tuple[list[Adjustment], list[Problem]]:
    """The register's rows; ``days`` (first, last): the dates a row may have (a typo such as 2062 is an error)."""
    problems = [p for p in res.problems]
    more, bad = _row_problems(res, columns, registry)
    problems += more
    if days is not None:
        for i, row in enumerate(res.register):
            day = row.values.get("date")
            if i not in bad and isinstance(day, date) and not days[0] <= day <= days[1]:
                problems.append(Problem("V022", file=res.file, sheet=res.sheet, cell=row.cells.get("date", ""), field="date",
                                        label="日期", value=f"{day.year}年{day.month}月{day.day}日",
                                        detail=f"{days[0].year}年{days[0].month}月{days[0].day}日—{days[1].year}年{days[1].month}月{days[1].day}日"))
                bad.add(i)
    by_label = {str(i["label"]): i for i in items}
    out = []
    for i, row in enumerate(res.register):
        if i in bad:
            continue
        v = row.values
        item = by_label[str(v["item"])]  # the schema's enum check guarantees a known label
        out.append(Adjustment(str(v["village_code"]), v["date"], str(item["id"]), str(item["label"]), float(item["points"]),
                              int(v["count"]), str(v.get("note", "")), row.row))
    return out, problems
