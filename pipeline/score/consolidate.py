"""From accepted monthly records to the inputs of the scoring plan: month, 考核季 and year-to-date.

Counts add up over months; stocks (``aggregate: latest``) take the latest reported month; rates
are never stored, they are recomputed from summed parts by the formulas. A village without an
accepted report for the period is not scored (未报); a month missing earlier in the year is not
counted and is named in the data-quality list — never filled with zeros.
"""

from __future__ import annotations

import json
import operator
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from types import SimpleNamespace
from typing import Any

import msgspec
import numpy as np

from ..programme.calendar import PeriodSoFar, periods_so_far, year_months, year_start
from ..programme.config import FieldSpec, Programme
from ..programme.periods import Month
from ..registry import Registry, Village
from ..validate.registers import Adjustment, AssessmentEntry
from .plan import Plan


@dataclass
class Consolidated:
    programme: Programme
    period: Month
    villages: list[Village]
    months: list[Month]
    periods: list[PeriodSoFar]
    reported: np.ndarray  # bool per village: an accepted report for the period
    month_reported: dict[str, list[Month]]
    monthly: dict[Month, dict[str, np.ndarray]]  # NaN where a village has no accepted report
    ytd: dict[str, np.ndarray]
    by_period: dict[tuple[str, int], np.ndarray]
    register: dict[str, np.ndarray]
    register_missing: dict[str, list[str]]  # village code → 考核季 (or months) without an entry
    targets: dict[str, np.ndarray]  # "t:task_id" (YTD) → array
    adjustments: dict[str, list[Adjustment]]
    submissions: dict[tuple[str, Month], int]  # (code, month) → ledger submission id
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # the period's text, choice and date fields per village code
    year_all: dict[str, np.ndarray] = field(default_factory=dict)  # report fields over the year so far
    register_year: dict[str, np.ndarray] = field(default_factory=dict)  # register fields over the year so far
    # village code → months of the year so far with an accepted report outside its 起始/停止月份: not counted
    not_counted: dict[str, list[Month]] = field(default_factory=dict)
    received: str = ""  # when the last report counted (any month of the year so far) arrived: 数据截止
    register_rows: list[AssessmentEntry] = field(default_factory=list)  # the 镇考核登记 rows the scores count (window)

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.villages]

    @cached_property
    def village_by_code(self) -> dict[str, Village]:
        return {v.code: v for v in self.villages}  # (a search per village made the data-quality sheet n²)

    def missing_months(self, code: str) -> list[Month]:
        """Months of the year so far the village should have reported (it took part) but did not."""
        got = set(self.month_reported.get(code, []))
        village = self.village_by_code.get(code)
        return [m for m in self.months if m not in got and (village is None or village.active(m))]


def monthly_fields(p: Programme) -> list[FieldSpec]:
    derived = [FieldSpec(id=d["id"], label=d["label"], type="integer", min=0) for d in p.raw.get("derived", [])]
    return list(p.measures) + derived


class _Decoder:
    """Decodes a stored record into its fields and counts of the register rows the programme derives.

    The birth register (names, ID numbers, dates …) is most of a record's JSON; only the columns
    the derived counts look at are decoded, which makes reading a year of ledger rows several
    times faster than parsing whole records.
    """

    def __init__(self, p: Programme):
        # a derived value counts the register's rows (count_register: conditions) or adds up a column of
        # them (sum_register, with conditions in ``where``)
        derived = [(d["id"], d.get("count_register") or d.get("where") or {}, d.get("sum_register")) for d in p.raw.get("derived", [])]
        self.columns = sorted({k for _, cond, _ in derived for k in cond} | {col for _, _, col in derived if col})
        # per derived value: (position in a row's key, allowed values) for each condition, and the summed column's position
        self.tests = [(fid, [(self.columns.index(k), allowed) for k, allowed in cond.items()], self.columns.index(col) if col else None)
                      for fid, cond, col in derived]
        row_type = msgspec.defstruct("RegisterRow", [(c, Any, None) for c in self.columns])
        record_type = msgspec.defstruct("Record", [("fields", dict[str, Any], {}), ("register", list[row_type], [])])  # type: ignore[valid-type]
        self.decoder = msgspec.json.Decoder(record_type)
        self.getters = [operator.attrgetter(c) for c in self.columns]

    def values(self, record_json: str | bytes) -> dict[str, Any]:
        fields, derived = self.decode(record_json)
        return {**fields, **derived}

    def decode(self, record_json: str | bytes) -> tuple[dict[str, Any], dict[str, float]]:
        """The record's fields, and the derived counts (which take precedence over a field of the same id)."""
        record: Any
        try:
            record = self.decoder.decode(record_json)
        except (msgspec.DecodeError, msgspec.ValidationError):  # e.g. Infinity, written by an earlier version
            record = self._plain(record_json)
        derived: dict[str, float] = {}
        if self.tests:
            rows = record.register
            # a row's values in the columns → number of rows (no columns: every count is unconditional)
            seen = Counter(zip(*(map(get, rows) for get in self.getters))) if self.getters else Counter({(): len(rows)})
            for fid, tests, summed in self.tests:
                hits = [(key, n) for key, n in seen.items() if all(key[w] in allowed for w, allowed in tests)]
                derived[fid] = float(sum(n for _, n in hits) if summed is None else sum(n * _number(key[summed]) for key, n in hits))
        return record.fields, derived

    def _plain(self, record_json: str | bytes) -> Any:
        plain = json.loads(record_json)
        rows = [r for r in (plain.get("register") or []) if isinstance(r, dict)]
        return SimpleNamespace(fields=plain.get("fields") or {},
                               register=[SimpleNamespace(**{c: r.get(c) for c in self.columns}) for r in rows])


def _number(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


class Reports:
    """The accepted monthly reports of the ledger as one array per month and field (NaN: not reported).

    Built once from the ledger rows (streamed: a row's JSON is decoded, its numbers kept, the row
    dropped), then shared by every month the scorer consolidates.
    """

    def __init__(self, p: Programme, registry: Registry, rows: Iterable[Any]):
        self.index = {v.code: i for i, v in enumerate(registry.villages)}
        self.n = len(self.index)
        self.specs = monthly_fields(p)
        fids = [f.id for f in self.specs]
        rows_of: dict[Month, tuple[list[int], list[list[float]]]] = {}  # month → (village positions, values)
        self.reported: dict[str, list[Month]] = defaultdict(list)
        self.submission_ids: dict[tuple[str, Month], int] = {}
        self.received: dict[Month, str] = {}  # month → when the last of its counted reports arrived
        self.text_ids = [f.id for f in p.fields if not f.numeric]
        self.texts: dict[Month, dict[str, dict[str, str]]] = {}  # month → village code → field → text
        decoder = _Decoder(p)
        months: dict[str, Month | None] = {}
        nan = float("nan")
        for row in rows:
            period = row["period"]
            m = months[period] if period in months else months.setdefault(period, Month.try_parse(period))
            code = row["village_code"]
            if m is None or not code or code not in self.index:
                continue
            fields, derived = decoder.decode(row["record_json"])
            at, values = rows_of.get(m) or rows_of.setdefault(m, ([], []))
            at.append(self.index[code])
            values.append([nan if (v := derived.get(fid, fields.get(fid))) is None else float(v) for fid in fids])
            self.reported[code].append(m)
            self.submission_ids[(code, m)] = row["id"]
            if (when := row["received_at"] or "") > self.received.get(m, ""):
                self.received[m] = when
            said = {fid: str(fields[fid]) for fid in self.text_ids if fields.get(fid) not in (None, "")}
            if said:  # text, choices, dates: shown in the summary as reported, never computed with
                self.texts.setdefault(m, {})[code] = said
        self.arrays: dict[Month, dict[str, np.ndarray]] = {}
        for m, (at, values) in rows_of.items():
            grid = np.full((len(fids), self.n), np.nan)  # fields × villages
            grid[:, at] = np.array(values, dtype=float).reshape(len(values), len(fids)).T
            grid.flags.writeable = False  # shared by every consolidation
            self.arrays[m] = dict(zip(fids, grid))

    def month(self, m: Month) -> dict[str, np.ndarray]:
        if m not in self.arrays:
            blank = np.full(self.n, np.nan)
            blank.flags.writeable = False
            self.arrays[m] = {f.id: blank for f in self.specs}
        return self.arrays[m]


def consolidate(
    plan: Plan,
    registry: Registry,
    period: Month,
    reports: Reports,
    entries: list[AssessmentEntry],
    adjustments: list[Adjustment],
) -> Consolidated:
    p = plan.programme
    villages = list(registry.villages)
    index = {v.code: i for i, v in enumerate(villages)}
    n = len(villages)
    months = year_months(p, period)
    specs = monthly_fields(p)
    aggregate = {f.id: f.aggregate for f in specs}
    # a village counts only the months it takes part in (from its 起始月份, before its 停止月份): a report of an
    # earlier month in the ledger would add to its sums while its targets start later (spec, 2026-11-27)
    monthly = {m: _taking_part_in(reports.month(m), villages, m) for m in months}
    in_year = set(months)
    by_code = {v.code: v for v in villages}
    month_reported = {code: [m for m in ms if m in in_year and (code not in by_code or by_code[code].active(m))]
                      for code, ms in reports.reported.items()}
    month_reported = {code: ms for code, ms in month_reported.items() if ms}
    not_counted = {code: [m for m in ms if m in in_year and not by_code[code].active(m)]
                   for code, ms in reports.reported.items() if code in by_code}
    submissions = {key: sid for key, sid in reports.submission_ids.items() if key[1] in in_year}
    # a village takes part from its 起始月份 until its 停止月份: before or after, it is not ranked
    reported = np.array([period in month_reported.get(v.code, []) and v.active(period) for v in villages])

    def aggregate_over(fid: str, ms: list[Month]) -> np.ndarray:
        ms = [m for m in ms if m in monthly]  # a 考核季's months that are reporting months (a quarterly programme: one)
        if not ms:
            return np.zeros(n)
        stack = np.vstack([monthly[m][fid] for m in ms])
        if aggregate.get(fid) == "latest":
            out = np.full(n, np.nan)
            for row_values in stack:  # later months overwrite: the latest reported value wins
                out = np.where(np.isnan(row_values), out, row_values)
            return np.nan_to_num(out, nan=0.0)
        if aggregate.get(fid) == "average":  # the mean of the months reported (a month not reported is not a 0)
            counted = (~np.isnan(stack)).sum(axis=0)
            return np.where(counted > 0, np.nansum(stack, axis=0) / np.maximum(counted, 1), 0.0)
        return np.nansum(stack, axis=0)

    year_all = {f.id: aggregate_over(f.id, months) for f in specs}  # the year so far, whatever the window
    window = p.window
    ytd = {f.id: aggregate_over(f.id, [period]) for f in specs} if window == "month" else year_all
    so_far = periods_so_far(p, period)
    by_period = {(f.id, ps.index): aggregate_over(f.id, list(ps.months)) for f in specs for ps in so_far}
    register, register_year, reg_by_period, register_missing, counted = _register(p, villages, index, period, so_far, entries, window)

    # targets: the annual task released by the weights of the 考核季 begun so far (4:3:3); a village
    # that joins mid-year is set only the share of each 考核季 from its 起始月份 (spec, 2026-11-27);
    # a monthly programme's target is the annual task spread evenly over its reporting months
    targets: dict[str, np.ndarray] = {}
    shares = {ps.index: np.array([(ps.period.weight or 0.0) * _taking_part(v, ps) for v in villages]) for ps in so_far}
    for t in p.tasks:
        annual = np.array([float(v.tasks.get(t.id, 0.0)) for v in villages])
        share = np.full(n, 1 / len(p.report_months)) if window == "month" else sum((shares[ps.index] for ps in so_far), np.zeros(n))
        targets[f"t:{t.id}"] = annual * share
        for ps in so_far:
            targets[f"t:{t.id}@{ps.index}"] = annual * shares[ps.index]

    start = year_start(p, period).first_day
    adj: dict[str, list[Adjustment]] = defaultdict(list)
    for a in adjustments:
        if a.village_code in index and start <= a.day <= period.last_day:
            adj[a.village_code].append(a)

    c = Consolidated(p, period, villages, months, so_far, reported, dict(month_reported), monthly, ytd, by_period,
                     register, register_missing, targets, dict(adj), submissions, year_all=year_all, register_year=register_year,
                     not_counted={code: sorted(ms) for code, ms in not_counted.items() if ms},
                     received=max((reports.received.get(m, "") for m in months), default=""), register_rows=counted)
    c.inputs = _plan_inputs(plan, c, reg_by_period)
    c.texts = reports.texts.get(period, {})
    return c


def _taking_part_in(arrays: dict[str, np.ndarray], villages: list[Village], month: Month) -> dict[str, np.ndarray]:
    """A month's report arrays with the villages that do not take part that month blanked (NaN: not reported)."""
    off = [i for i, v in enumerate(villages) if not v.active(month)]
    if not off:
        return arrays
    out = {}
    for fid, values in arrays.items():
        kept = values.copy()
        kept[off] = np.nan
        kept.flags.writeable = False
        out[fid] = kept
    return out


def _taking_part(v: Village, ps: PeriodSoFar) -> float:
    """The share of a 考核季's months in which the village takes part (1 for a village there all year)."""
    if (v.start is None and v.end is None) or not ps.months:
        return 1.0
    first = ps.months[0]
    inside = [first.shift((number - first.month) % 12) for number in ps.period.months]  # every month of it, begun or not
    return sum(1 for m in inside if v.active(m)) / len(inside)


def _register(
    p: Programme, villages: list[Village], index: dict[str, int], period: Month, so_far: list[PeriodSoFar],
    entries: list[AssessmentEntry], window: str,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[tuple[str, int], np.ndarray], dict[str, list[str]],
           list[AssessmentEntry]]:
    """The township's register: entries per 考核季 (or per month) → the scoring window and the year (and the
    entries of the scoring window).

    Counts add up; ``aggregate: latest`` fields take the latest entry. A missing entry counts as
    nothing found (0) and is named in the data-quality list.
    """
    raw = p.raw.get("assessment_register") or {}
    fields = [FieldSpec.from_dict(f) for f in raw.get("fields", [])]
    monthly = raw.get("granularity") == "month"
    n = len(villages)
    year = year_start(p, period).year
    slots = [str(m) for m in year_months(p, period)] if monthly else [ps.name for ps in so_far]
    in_window = [str(period)] if (monthly and window == "month") else slots
    # accumulated in lists of floats (a numpy element read and written per entry and field is several
    # times slower), made arrays at the end
    window_lists = {f.id: [0.0] * n for f in fields}
    year_lists = {f.id: [0.0] * n for f in fields}
    period_lists: dict[tuple[str, int], list[float]] = {}
    slot_of = {s: k for k, s in enumerate(slots)}
    windowed = set(in_window)
    found: dict[str, set[str]] = defaultdict(set)
    counted = []
    for e in sorted(entries, key=lambda e: slot_of.get(e.period_name, 99)):
        slot = slot_of.get(e.period_name)
        if slot is None or e.village_code not in index or (not monthly and e.year != year):
            continue
        if e.period_name in windowed:
            counted.append(e)
        i = index[e.village_code]
        found[e.village_code].add(e.period_name)
        targets = [year_lists] + ([window_lists] if e.period_name in windowed else [])
        for f in fields:
            if f.id not in e.values:
                continue
            value = e.values[f.id]
            for lists in targets:
                column = lists[f.id]
                column[i] = value if f.aggregate == "latest" else column[i] + value
            if not monthly:
                key = (f.id, so_far[slot].index)
                if key not in period_lists:
                    period_lists[key] = [0.0] * n
                period_lists[key][i] = value
    window_values = {fid: np.array(v, dtype=float) for fid, v in window_lists.items()}
    year_values = {fid: np.array(v, dtype=float) for fid, v in year_lists.items()}
    by_period = {key: np.array(v, dtype=float) for key, v in period_lists.items()}
    missing = {}
    for v in villages:
        lack = [s for s in in_window if s not in found.get(v.code, set())]
        if lack and fields:
            missing[v.code] = [Month.parse(s).chinese if monthly else s for s in lack]
    return window_values, year_values, by_period, missing, counted


def _plan_inputs(plan: Plan, c: Consolidated, reg_by_period: dict[tuple[str, int], np.ndarray]) -> dict[str, np.ndarray]:
    n = len(c.villages)
    population = np.array([float(v.population) for v in c.villages])
    tasks = {t.id: np.array([float(v.tasks.get(t.id, 0.0)) for v in c.villages]) for t in plan.programme.tasks}
    out: dict[str, np.ndarray] = {}
    for name, scope in plan.inputs:
        key = name if scope is None else f"{name}@{scope}"
        if name.startswith("t:"):
            item = plan.item(name[2:])
            task = item.target or ""
            out[key] = c.targets.get(f"t:{task}" if scope is None else f"t:{task}@{scope}", np.zeros(n))
        elif name == "population":
            out[key] = population
        elif name == "months_elapsed":  # for a village that joined mid-year: the months since it joined
            out[key] = np.array([float(sum(1 for m in c.months if v.active(m))) for v in c.villages])
        elif name in tasks:
            out[key] = tasks[name]
        elif name in c.register:
            out[key] = c.register[name] if scope is None else reg_by_period.get((name, scope), np.zeros(n))
        elif scope is None:
            out[key] = c.ytd[name]
        else:
            out[key] = c.by_period.get((name, scope), np.zeros(n))
    return out
