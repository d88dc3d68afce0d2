"""From accepted monthly records to the inputs of the scoring plan: month, 考核季 and year-to-date.

Counts add up over months; stocks (``aggregate: latest``) take the latest reported month; rates
are never stored, they are recomputed from summed parts by the formulas. A village without an
accepted report for the period is not scored (未报); a month missing earlier in the year is not
counted and is named in the data-quality list — never filled with zeros.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..programme.calendar import PeriodSoFar, months_elapsed, periods_so_far, year_months, year_start
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
    submissions: dict[tuple[str, Month], Any]  # (code, month) → ledger row
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    year_all: dict[str, np.ndarray] = field(default_factory=dict)  # report fields over the year so far
    register_year: dict[str, np.ndarray] = field(default_factory=dict)  # register fields over the year so far

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.villages]

    def missing_months(self, code: str) -> list[Month]:
        got = set(self.month_reported.get(code, []))
        return [m for m in self.months if m not in got]


def monthly_fields(p: Programme) -> list[FieldSpec]:
    derived = [FieldSpec(id=d["id"], label=d["label"], type="integer", min=0) for d in p.raw.get("derived", [])]
    return list(p.fields) + derived


def _derived_counts(p: Programme, record: dict[str, Any]) -> dict[str, float]:
    out = {}
    rows = record.get("register", [])
    for d in p.raw.get("derived", []):
        cond = d["count_register"]
        out[d["id"]] = float(sum(1 for r in rows if all(r.get(k) in vals for k, vals in cond.items())))
    return out


@dataclass(frozen=True)
class ParsedRow:
    """One accepted monthly report from the ledger, its JSON parsed (once)."""

    code: str
    month: Month
    values: dict[str, Any]
    row: Any


def parse_rows(p: Programme, rows: list[Any]) -> list[ParsedRow]:
    out = []
    for row in rows:
        m = Month.try_parse(row["period"])
        if m is None or not row["village_code"]:
            continue
        record = json.loads(row["record_json"])
        values = dict(record.get("fields", {}))
        values.update(_derived_counts(p, record))
        out.append(ParsedRow(row["village_code"], m, values, row))
    return out


def consolidate(
    plan: Plan,
    registry: Registry,
    period: Month,
    rows: list[Any],
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
    monthly: dict[Month, dict[str, np.ndarray]] = {m: {f.id: np.full(n, np.nan) for f in specs} for m in months}
    month_reported: dict[str, list[Month]] = defaultdict(list)
    submissions = {}
    for parsed in rows:
        if not isinstance(parsed, ParsedRow):
            parsed = parse_rows(p, [parsed])[0]
        if parsed.code not in index or parsed.month not in monthly:
            continue
        i = index[parsed.code]
        for fid, arr in monthly[parsed.month].items():
            v = parsed.values.get(fid)
            if v is not None:
                arr[i] = float(v)
        month_reported[parsed.code].append(parsed.month)
        submissions[(parsed.code, parsed.month)] = parsed.row
    reported = np.array([period in month_reported.get(v.code, []) for v in villages])

    def aggregate_over(fid: str, ms: list[Month]) -> np.ndarray:
        if not ms:
            return np.zeros(n)
        stack = np.vstack([monthly[m][fid] for m in ms])
        if aggregate.get(fid) == "latest":
            out = np.full(n, np.nan)
            for row_values in stack:  # later months overwrite: the latest reported value wins
                out = np.where(np.isnan(row_values), out, row_values)
            return np.nan_to_num(out, nan=0.0)
        return np.nansum(stack, axis=0)

    year_all = {f.id: aggregate_over(f.id, months) for f in specs}  # the year so far, whatever the window
    window = (p.raw.get("scoring") or {}).get("window", "ytd")
    ytd = {f.id: aggregate_over(f.id, [period]) for f in specs} if window == "month" else year_all
    so_far = periods_so_far(p, period)
    by_period = {(f.id, ps.index): aggregate_over(f.id, list(ps.months)) for f in specs for ps in so_far}
    register, register_year, reg_by_period, register_missing = _register(p, villages, index, period, so_far, entries, window)

    # targets: the annual task released by the weights of the 考核季 begun so far (4:3:3);
    # a monthly programme's target is the annual task spread evenly over its reporting months
    targets: dict[str, np.ndarray] = {}
    for t in p.tasks:
        annual = np.array([float(v.tasks.get(t.id, 0.0)) for v in villages])
        share = 1 / len(p.report_months) if window == "month" else sum(ps.period.weight or 0.0 for ps in so_far)
        targets[f"t:{t.id}"] = annual * share
        for ps in so_far:
            targets[f"t:{t.id}@{ps.index}"] = annual * (ps.period.weight or 0.0)

    start = year_start(p, period).first_day
    adj: dict[str, list[Adjustment]] = defaultdict(list)
    for a in adjustments:
        if a.village_code in index and start <= a.day <= period.last_day:
            adj[a.village_code].append(a)

    c = Consolidated(p, period, villages, months, so_far, reported, dict(month_reported), monthly, ytd, by_period,
                     register, register_missing, targets, dict(adj), submissions, year_all=year_all, register_year=register_year)
    c.inputs = _plan_inputs(plan, c, reg_by_period)
    return c


def _register(
    p: Programme, villages: list[Village], index: dict[str, int], period: Month, so_far: list[PeriodSoFar],
    entries: list[AssessmentEntry], window: str,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[tuple[str, int], np.ndarray], dict[str, list[str]]]:
    """The township's register: entries per 考核季 (or per month) → the scoring window and the year.

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
    window_values = {f.id: np.zeros(n) for f in fields}
    year_values = {f.id: np.zeros(n) for f in fields}
    by_period: dict[tuple[str, int], np.ndarray] = {}
    found: dict[str, set[str]] = defaultdict(set)
    for e in sorted(entries, key=lambda e: slots.index(e.period_name) if e.period_name in slots else 99):
        if e.period_name not in slots or e.village_code not in index or (not monthly and e.year != year):
            continue
        i = index[e.village_code]
        found[e.village_code].add(e.period_name)
        targets = [year_values] + ([window_values] if e.period_name in in_window else [])
        for f in fields:
            if f.id not in e.values:
                continue
            for values in targets:
                values[f.id][i] = e.values[f.id] if f.aggregate == "latest" else values[f.id][i] + e.values[f.id]
            if not monthly:
                q = so_far[slots.index(e.period_name)].index
                by_period.setdefault((f.id, q), np.zeros(n))[i] = e.values[f.id]
    missing = {}
    for v in villages:
        lack = [s for s in in_window if s not in found.get(v.code, set())]
        if lack and fields:
            missing[v.code] = [Month.parse(s).chinese if monthly else s for s in lack]
    return window_values, year_values, by_period, missing


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
        elif name == "months_elapsed":
            out[key] = np.full(n, float(months_elapsed(plan.programme, c.period)))
        elif name in tasks:
            out[key] = tasks[name]
        elif name in c.register:
            out[key] = c.register[name] if scope is None else reg_by_period.get((name, scope), np.zeros(n))
        elif scope is None:
            out[key] = c.ytd[name]
        else:
            out[key] = c.by_period.get((name, scope), np.zeros(n))
    return out
