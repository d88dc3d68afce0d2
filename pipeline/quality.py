"""Facts about the data behind a summary that the leaders must see next to the scores: reports
with out-of-line numbers (outlier warnings) and whether the township has checked them."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .ledger.db import Ledger
from .programme.periods import Month
from .registry import Village
from .score.scorer import register_columns_for
from .validate.plausibility import OUTLIER


@dataclass(frozen=True)
class Flagged:
    """One out-of-line number of a report that counts for the summary."""

    submission_id: int
    village_code: str
    village_name: str
    period: Month
    label: str
    value: object
    detail: str
    cell: str
    confirmed: bool

    @property
    def value_text(self) -> str:
        v = self.value
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

    @property
    def short(self) -> str:
        return f"{self.period.month}月“{self.label}”{self.value_text}"


def flagged_numbers(ledger: Ledger, programme: str, months: list[Month]) -> list[Flagged]:
    """The outlier warnings of the current accepted version of every village and month in ``months``."""
    out = []
    for row in ledger.flagged(programme, [str(m) for m in months], OUTLIER):
        for p in json.loads(row["problems_json"]):
            if p["code"] == OUTLIER:
                out.append(Flagged(row["id"], row["village_code"], row["village_name"] or "", Month.parse(row["period"]),
                                   p.get("label") or p.get("field") or "", p.get("value"), p.get("detail") or "", p.get("cell") or "",
                                   bool(row["confirmed"]) and (row["decision"] or 0) > p.get("after_decision", 0)))
    return out


def unconfirmed_by_village(flags: list[Flagged]) -> dict[str, list[Flagged]]:
    out: dict[str, list[Flagged]] = {}
    for f in flags:
        if not f.confirmed:
            out.setdefault(f.village_code, []).append(f)
    return out


DOUBT_FACTOR = 3.0  # a task per head this many times the township's usual, or this many times less


def registry_doubts(villages: Sequence[Village], tasks: Iterable[Any], factor: float = DOUBT_FACTOR,
                    checked: bool | None = None) -> dict[str, list[str]]:
    """Annual tasks out of line with the village's population, per village code: a digit dropped from a task
    (223 typed 22) or a population with an extra 0 lets a village meet its task eight times over and come first.

    The township's usual task per head is the median over villages with that task (three at least); a
    village more than ``factor`` times above or below it is listed with what its population suggests. A task
    of 0 (listed in 数据质量 on its own) is doubted too where most villages have the task and the usual share
    of its population is 3 or more: the village scores full marks and a bonus for every case done (22 typed 0
    is first place). ``checked``: only the villages whose row the township marked 已核实 (True) or not (False).
    """
    out: dict[str, list[str]] = {}
    for t in tasks:
        per_head = [(v, v.tasks.get(t.id, 0.0) / v.population) for v in villages if v.population > 0 and v.tasks.get(t.id)]
        if len(per_head) < 3:
            continue
        usual = statistics.median(r for _, r in per_head)
        for v, r in per_head:
            if checked is not None and v.checked != checked:
                continue
            if r > factor * usual or r * factor < usual:
                out.setdefault(v.code, []).append(f"{t.label} {v.tasks[t.id]:g}（按户籍人口 {v.population} 约 {usual * v.population:.0f}）")
        if 2 * len(per_head) <= len([v for v in villages if v.population > 0]):
            continue  # a task most villages do not have: its 0s are the rule, not typos
        for v in villages:
            if (checked is None or v.checked == checked) and v.population > 0 and not v.tasks.get(t.id) and usual * v.population >= 3:
                out.setdefault(v.code, []).append(f"{t.label} 0（按户籍人口 {v.population} 约 {usual * v.population:.0f}）")
    return out


COUNT_DOUBT = 3  # 次数 above this on one 加分扣分登记 row (one day's events) is worth a second look


def adjustment_doubts(adjustments: dict[str, list[Any]], limit: int = COUNT_DOUBT) -> dict[str, list[str]]:
    """Rows of 加分扣分登记 with a 次数 above ``limit``, per village code: one row is one day's events, and a
    1 typed as 10 on 迎接省级检查达标 is +200 — the last village first. They count (the spec bounds no
    次数); the 通报 says the row is to be checked. (Each row is judged alone: rows 已核实 are left out by the caller.)"""
    out: dict[str, list[str]] = {}
    for code, rows in adjustments.items():
        for a in rows:
            if a.count > limit:
                out.setdefault(code, []).append(f"{a.label} ×{a.count}（{a.total:+g} 分，第 {a.row} 行）")
    return out


REGISTER_DOUBT = 3.0  # a 镇考核登记 count this many times the township's median of the same 考核季 (or month)…
REGISTER_MARGIN = 10.0  # …and this much above it


def register_doubts(rows: Sequence[Any], fields: Sequence[Any], checked: bool | None = None) -> dict[str, list[str]]:
    """镇考核登记 counts far above the township's usual for the same 考核季 (or month), per village code: 5 typed
    50 in 差错数 is −60 points and 10th → 16th, and nothing else looks at the township's own numbers. Only
    counts with no upper limit of their own are compared (a column with a max is refused above it when read);
    the rows stay counted, and the 通报 says they are to be checked. ``checked``: only rows marked 已核实 (True)
    or not (False); the township's usual is taken over all rows."""
    out: dict[str, list[str]] = {}
    counts = [f for f in fields if f.numeric and f.max is None and not f.stock]
    slots: dict[tuple[int, str], list[Any]] = {}
    for e in rows:
        slots.setdefault((e.year, e.period_name), []).append(e)
    for (_year, slot), entries in slots.items():
        if len(entries) < 3:
            continue
        for f in counts:
            usual = statistics.median(float(e.values.get(f.id, 0.0)) for e in entries)
            for e in entries:
                if checked is not None and e.checked != checked:
                    continue
                value = float(e.values.get(f.id, 0.0))
                if value > REGISTER_DOUBT * usual and value > usual + REGISTER_MARGIN:
                    month = Month.try_parse(slot)  # a monthly register's slot: 2026-10
                    out.setdefault(e.village_code, []).append(
                        f"{month.chinese if month else slot}“{f.label}” {value:g}（全镇中位数 {usual:g}，第 {e.row} 行）")
    return out


@dataclass(frozen=True)
class Doubts:
    """Township inputs the 通报 marks for a second look (and 数据质量 lists): found once per summary."""

    registry: dict[str, list[str]]  # village code → tasks out of line with its population
    counts: dict[str, list[str]]  # village code → 加分扣分登记 rows with many events
    outside: dict[str, str] = field(default_factory=dict)  # village code → reports left out by its 起始/停止月份
    register: dict[str, list[str]] = field(default_factory=dict)  # village code → 镇考核登记 counts far above the usual
    checked: dict[str, list[str]] = field(default_factory=dict)  # village code → such numbers the township marked 已核实 (no mark)


EMPTY_MONTHS = ("注意：台账中没有任何村{months}的报表，累计数只含已收到的月份，任务却按全年进度分解，得分普遍偏低、名次不反映全年。"
                "如本镇是年中开始用本系统收报表的，请把此前各月的报表放进 inbox/ 补收后重新汇总；已收到但待确认或被退回的，请先确认或让村里改正。")


def months_without_reports(data: Any) -> list[Any]:
    """Months of the year before the period with no village's report at all (``score.consolidate.Consolidated``):
    a township that began using huizong in July has sums of fewer months than its targets. Empty for a
    programme scored on the month alone."""
    if data.programme.window == "month":
        return []
    return [m for m in data.months if m != data.period and any(v.active(m) for v in data.villages)  # (before every 起始月份: none due)
            and not any(m in ms for ms in data.month_reported.values())]


def empty_months_line(data: Any) -> str:
    """The red line the 通报 and the command print when months of the year have no report at all; '' otherwise."""
    empty = months_without_reports(data)
    return EMPTY_MONTHS.format(months="、".join(f"{m.month}月" for m in empty)) if empty else ""


def reports_outside(villages: Sequence[Village], not_counted: dict[str, list[Any]]) -> dict[str, str]:
    """Villages taking part this period with accepted reports of months outside their 起始/停止月份 this year:
    those months are left out of their sums (rightly, if the 村名册 is right). A 起始月份 typed in the wrong row
    or a year late drops a village's earlier months, and its rank with them: the 通报 says the 村名册 is in doubt."""
    out = {}
    for v in villages:
        months = not_counted.get(v.code)
        if months:
            said = "、".join(f"{m.month}月" for m in months)
            out[v.code] = f"{said}已收到的报表未计入"
    return out


def doubts_of(data: Any) -> Doubts:
    """The doubts of a consolidation (``score.consolidate.Consolidated``): its villages taking part this period.
    A row the township marked 已核实 is not doubted; what it confirmed is kept apart (数据质量 still lists it)."""
    taking_part = [v for v in data.villages if v.active(data.period)]
    fields = register_columns_for(data.programme)
    tasks = data.programme.tasks
    checked: dict[str, list[str]] = {}
    outside = reports_outside(taking_part, data.not_counted)

    def adjustments(ticked: bool) -> dict[str, list[Any]]:
        return {code: [a for a in rows if a.checked == ticked] for code, rows in data.adjustments.items()}

    for where, found in (("村名册", registry_doubts(taking_part, tasks, checked=True)),
                         ("村名册", {v.code: [outside[v.code]] for v in taking_part if v.checked and v.code in outside}),
                         ("加分扣分登记", adjustment_doubts(adjustments(True))),
                         ("镇考核登记", register_doubts(data.register_rows, fields, checked=True))):
        for code, items in found.items():
            checked.setdefault(code, []).extend(f"{where}{item}" for item in items)
    return Doubts(registry_doubts(taking_part, tasks, checked=False), adjustment_doubts(adjustments(False)),
                  {c: text for c, text in outside.items() if not data.village_by_code[c].checked},
                  register_doubts(data.register_rows, fields, checked=False), checked)
