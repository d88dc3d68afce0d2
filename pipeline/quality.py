"""Facts about the data behind a summary that the leaders must see next to the scores: reports
with out-of-line numbers (outlier warnings) and whether the township has checked them."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
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


class Doubt(str):
    """What a 通报 says about one township number to be checked, with ``key``: what stays the same as long as the
    number does (not its row, nor the township's median). A 已核实 tick confirms the number under this key."""

    key: str

    def __new__(cls, text: str, key: str = "") -> Doubt:
        made = super().__new__(cls, text)
        made.key = key
        return made


DOUBT_FACTOR = 3.0  # a task per head this many times the township's usual, or this many times less


def task_notes(p: Any, registry: Any, period: Month, year: int, new_year: bool) -> list[str]:
    """What the 通报 says of the annual tasks as a whole, under its legend and in 数据质量:

    - a task 0 for every village taking part (not yet issued, typed 0 as a placeholder): every village scores it
      in full, bonus included, and no single village looks odd, so no village is marked;
    - ``new_year``: a 通报 of an earlier assessment year was made and the 村名册 has no columns of this year's own
      (“2027年…”): the tasks read may still be last year's.
    """
    out = []
    villages = [v for v in registry.villages if v.active(period)]
    zero = [t.label for t in p.tasks if villages and all(not v.tasks.get(t.id) for v in villages)]
    if zero:
        out.append(f"年度任务全部为 0：{'、'.join(zero)}。各村这些项目按“无任务”计满分（连同加分），名次不反映这些工作；"
                   "任务下达后请填入村名册，重新汇总。")
    own = {t for v in villages for t in v.year_tasks.get(year, {})}
    if own and len(own) < len(p.tasks):  # some tasks have the year's column, the others fall back unsaid
        rest = "、".join(t.label for t in p.tasks if t.id not in own)
        out.append(f"村名册中{year}年只有一部分任务有自己的列：{rest}按不带年份的任务列计；如那些是别的年份的任务，请也加上“{year}年…”列。")
    if new_year and year not in registry.task_years and p.tasks:
        first = p.tasks[0].label
        out.append(f"村名册中没有{year}年的年度任务列，本期按“{first}”等不带年份的任务列计，这可能还是去年的任务。"
                   f"今年的任务下达后，请在村名册中加“{year}年{first}”这样的列填写（不要改原来的列：改了，去年各月的通报重新汇总时也会变）。")
    return out


def registry_doubts(villages: Sequence[Village], tasks: Iterable[Any], factor: float = DOUBT_FACTOR,
                    checked: bool | None = None) -> dict[str, list[Doubt]]:
    """Annual tasks out of line with the village's population, per village code: a digit dropped from a task
    (223 typed 22) or a population with an extra 0 lets a village meet its task eight times over and come first.

    The township's usual task per head is the median over villages with that task (three at least); a
    village more than ``factor`` times above or below it is listed with what its population suggests. A task
    of 0 (listed in 数据质量 on its own) is doubted too where most villages have the task and the usual share
    of its population is 3 or more: the village scores full marks and a bonus for every case done (22 typed 0
    is first place). ``checked``: only the villages whose row the township marked 已核实 (True) or not (False).
    """
    out: dict[str, list[Doubt]] = {}
    for t in tasks:
        per_head = [(v, v.tasks.get(t.id, 0.0) / v.population) for v in villages if v.population > 0 and v.tasks.get(t.id)]
        if len(per_head) < 3:
            continue
        usual = statistics.median(r for _, r in per_head)
        for v, r in per_head:
            if checked is not None and v.checked != checked:
                continue
            if r > factor * usual or r * factor < usual:
                out.setdefault(v.code, []).append(Doubt(f"{t.label} {v.tasks[t.id]:g}（按户籍人口 {v.population} 约 {usual * v.population:.0f}）",
                                                        f"{t.id}={v.tasks[t.id]:g}/{v.population}"))
        if 2 * len(per_head) <= len([v for v in villages if v.population > 0]):
            continue  # a task most villages do not have: its 0s are the rule, not typos
        for v in villages:
            if (checked is None or v.checked == checked) and v.population > 0 and not v.tasks.get(t.id) and usual * v.population >= 3:
                out.setdefault(v.code, []).append(Doubt(f"{t.label} 0（按户籍人口 {v.population} 约 {usual * v.population:.0f}）",
                                                        f"{t.id}=0/{v.population}"))
    return out


COUNT_DOUBT = 3  # 次数 above this on one 加分扣分登记 row (one day's events) is worth a second look


def adjustment_doubts(adjustments: dict[str, list[Any]], limit: int = COUNT_DOUBT) -> dict[str, list[Doubt]]:
    """Rows of 加分扣分登记 with a 次数 above ``limit``, per village code: one row is one day's events, and a
    1 typed as 10 on 迎接省级检查达标 is +200 — the last village first. They count (the spec bounds no
    次数); the 通报 says the row is to be checked. (Each row is judged alone: rows 已核实 are left out by the caller.)"""
    out: dict[str, list[Doubt]] = {}
    for code, rows in adjustments.items():
        for a in rows:
            if a.count > limit:
                out.setdefault(code, []).append(Doubt(f"{a.label} ×{a.count}（{a.total:+g} 分，第 {a.row} 行）",
                                                      f"{a.day.isoformat()}|{a.item_id}|{a.note.strip()}×{a.count}"))
    return out


REGISTER_DOUBT = 3.0  # a 镇考核登记 count this many times the township's median of the same 考核季 (or month)…
REGISTER_MARGIN = 10.0  # …and this much above it


def register_doubts(rows: Sequence[Any], fields: Sequence[Any], checked: bool | None = None) -> dict[str, list[Doubt]]:
    """镇考核登记 counts far above the township's usual for the same 考核季 (or month), per village code: 5 typed
    50 in 差错数 is −60 points and 10th → 16th, and nothing else looks at the township's own numbers. Only
    counts with no upper limit of their own are compared (a column with a max is refused above it when read);
    the rows stay counted, and the 通报 says they are to be checked. ``checked``: only rows marked 已核实 (True)
    or not (False); the township's usual is taken over all rows."""
    out: dict[str, list[Doubt]] = {}
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
                    out.setdefault(e.village_code, []).append(Doubt(
                        f"{month.chinese if month else slot}“{f.label}” {value:g}（全镇中位数 {usual:g}，第 {e.row} 行）",
                        f"{e.year}|{slot}|{f.id}={value:g}"))
    return out


Seen = frozenset[tuple[str, str, str]]  # (table, village code, Doubt.key): numbers an earlier 通报 marked, row not 已核实


@dataclass(frozen=True)
class Doubts:
    """Township inputs the 通报 marks for a second look (and 数据质量 lists): found once per summary."""

    registry: dict[str, list[Doubt]]  # village code → tasks out of line with its population
    counts: dict[str, list[Doubt]]  # village code → 加分扣分登记 rows with many events
    outside: dict[str, str] = field(default_factory=dict)  # village code → reports left out by its 起始/停止月份
    register: dict[str, list[Doubt]] = field(default_factory=dict)  # village code → 镇考核登记 counts far above the usual
    checked: dict[str, list[str]] = field(default_factory=dict)  # village code → such numbers the township marked 已核实 (no mark)
    # village code → numbers marked 已核实 that no earlier 通报 marked with the row unticked (still marked: see doubts_of)
    unseen: dict[str, list[str]] = field(default_factory=dict)
    marked: Seen = frozenset()  # what a later 是 may confirm: marked here with the row not 已核实, or confirmed already
    confirmed: Seen = frozenset()  # what a 是 confirms here

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


def doubts_of(data: Any, seen: Seen | None = None) -> Doubts:
    """The doubts of a consolidation (``score.consolidate.Consolidated``): its villages taking part this period.

    A row the township marked 已核实 is not doubted; what it confirmed is kept apart (数据质量 still lists it).
    ``seen``: the numbers earlier 通报 marked while their row was not 已核实 (None: a ledger from before they were
    kept — every 是 counts). 是 confirms only such a number: a number changed after its row was ticked, or a row
    copied with its 是 (the next 考核季's entry made from the last), was never shown to the township, and stays
    marked — a typo would otherwise be published unmarked under an old tick."""
    taking_part = [v for v in data.villages if v.active(data.period)]
    fields = register_columns_for(data.programme)
    tasks = data.programme.tasks
    outside = reports_outside(taking_part, data.not_counted)
    by_code = data.village_by_code

    def outside_of(ticked: bool) -> dict[str, list[Doubt]]:
        return {c: [Doubt(text, f"起始月份={by_code[c].start}/{by_code[c].end}")] for c, text in outside.items() if by_code[c].checked == ticked}

    def adjustments(ticked: bool) -> dict[str, list[Any]]:
        return {code: [a for a in rows if a.checked == ticked] for code, rows in data.adjustments.items()}

    def found(ticked: bool) -> dict[str, dict[str, list[Doubt]]]:
        return {"村名册": registry_doubts(taking_part, tasks, checked=ticked), "村名册起始月份": outside_of(ticked),
                "加分扣分登记": adjustment_doubts(adjustments(ticked)),
                "镇考核登记": register_doubts(data.register_rows, fields, checked=ticked)}

    def keyed(items_of: dict[str, dict[str, list[Doubt]]]) -> dict[str, dict[str, list[Doubt]]]:
        """The 村名册's keys with the assessment year: a row carried into the next year, its 是 with it, is new."""
        year = str(data.months[0]) if data.months else ""
        for table in ("村名册", "村名册起始月份"):
            items_of[table] = {c: [Doubt(d, f"{year}|{d.key}") for d in items] for c, items in items_of[table].items()}
        return items_of

    open_, ticked = keyed(found(False)), keyed(found(True))
    marked = {(table, code, item.key) for table, items_of in open_.items() for code, items in items_of.items() for item in items}
    confirmed: set[tuple[str, str, str]] = set()
    checked: dict[str, list[str]] = {}
    unseen: dict[str, list[str]] = {}
    for table, items_of in ticked.items():
        for code, items in items_of.items():
            for item in items:
                said = f"{table.removesuffix('起始月份')}{item}"
                if seen is None or (table, code, item.key) in seen:
                    checked.setdefault(code, []).append(said)
                    confirmed.add((table, code, item.key))  # (a 是 of a ledger from before: kept, so it holds later too)
                else:  # marked as if unticked, and 数据质量 says why
                    open_[table].setdefault(code, []).append(item)
                    unseen.setdefault(code, []).append(said)
    return Doubts(open_["村名册"], open_["加分扣分登记"], {c: items[0] for c, items in open_["村名册起始月份"].items()},
                  open_["镇考核登记"], checked, unseen, frozenset(marked | confirmed), frozenset(confirmed))


def ticked_anywhere(data: Any, entries: Sequence[Any], adjustments: Sequence[Any]) -> Seen:
    """What the 是 of the whole tables confirm (every 考核季 and date, not only this 通报's): kept on the first 通报
    made under the rule (``doubts_of``), so a 是 given before it counts in any month made again later. Only the
    ticked: a number of another month no 通报 has shown is not marked by this one (a later 是 must not confirm it)."""
    by_code: dict[str, list[Any]] = {}
    for a in adjustments:
        by_code.setdefault(a.village_code, []).append(a)
    return doubts_of(replace(data, register_rows=list(entries), adjustments=by_code), None).confirmed
