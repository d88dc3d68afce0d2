"""`huizong programme check`: is a programme sound before any village reports under it?

Two parts. The static check names every fault of the configuration at once — formulas, names,
targets, weights, field types, township rates — with the same messages ``init`` and
``consolidate`` refuse with. The simulation scores a year of generated (plausible) reports for a
registry and shows, item by item, how the scores spread: an item every village gets full marks on,
or a total decided by bonus, shows up before a 通报 is published.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..problems import HuizongError, Problem
from ..programme.calendar import year_months, year_start
from ..programme.config import FieldSpec, Programme
from ..programme.formula import names
from ..programme.periods import Month
from ..registry import Registry
from ..validate.plausibility import plausibility
from ..validate.registers import AssessmentEntry
from .outcomes import compile_rules
from .plan import SPECIAL_NAMES, build_plan
from .scorer import Scorer, register_columns_for

RESERVED = {**SPECIAL_NAMES, "t": "目标任务数", "total": "总分"}


def static_problems(p: Programme) -> list[Problem]:
    """Every fault of the programme's formulas, names, targets and township rates (all at once)."""
    register_fields = {f.id for f in register_columns_for(p)}
    problems: list[Problem] = []
    for step in (lambda: build_plan(p, register_fields), lambda: compile_rules(p, register_fields), lambda: plausibility(p)):
        try:
            step()
        except HuizongError as exc:
            problems += exc.problems
    return problems + _lints(p, register_fields)


def _lints(p: Programme, register_fields: set[str]) -> list[Problem]:
    out: list[Problem] = []

    def bad(where: str, detail: str) -> None:
        out.append(Problem("C002", file=p.source, field=where, detail=detail))

    # a field may not take a name the formulas give to something else: it would be silently replaced
    for where, specs in (("report", p.all_inputs), ("assessment_register", register_columns_for(p)), ("tasks", p.tasks)):
        for f in specs:
            if f.id in RESERVED:
                bad(f"{where}.{f.id}", f"字段 id “{f.id}”是公式中的保留名称（{RESERVED[f.id]}），会被系统的值代替；请换一个 id")
    items = (p.raw.get("scoring") or {}).get("items") or []
    if p.window != "month" and any(i.get("target") for i in items) and any(a.weight is None for a in p.assessment_periods):
        bad("periods.assessment", "有项目按年度任务计分（target），但考核季没有写 weight（任务比例）：年度任务分解不出来，"
                                  "所有目标都是 0、所有村都得满分。请给每个考核季写 weight（合计为 1）")
    numeric = {f.id for f in p.measures} | {d["id"] for d in p.raw.get("derived", [])}
    tasks = {t.id for t in p.tasks}
    for i, ind in enumerate((p.raw.get("township") or {}).get("indicators", [])):
        for part in ("numerator", "denominator"):
            name = str(ind[part])
            ok = name in numeric or (name.startswith("t:") and name[2:] in tasks)
            if not ok:
                bad(f"township.indicators[{i}].{part}", f"“{name}”不是月报的数值字段、派生计数或 t:年度任务")
    return out


@dataclass
class ItemSpread:
    code: str
    name: str
    max: float
    bonus_cap: float
    low: float
    median: float
    high: float
    at_max: float  # share of villages with full base marks
    bonus_median: float
    register_only: bool = False  # scored from the township's register alone (taken as clean in the simulation)


@dataclass
class Simulation:
    period: Month
    villages: int
    attainable: float
    bonus_attainable: float
    items: list[ItemSpread] = field(default_factory=list)
    total_low: float = 0.0
    total_median: float = 0.0
    total_high: float = 0.0
    bonus_share: float = 0.0  # of the villages' totals, the share that is item bonus
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k != "items"}, "period": str(self.period),
                "items": [i.__dict__ for i in self.items]}


def simulate(p: Programme, registry: Registry, year: int) -> Simulation:
    """Score a whole assessment year of generated reports (every village, every month) and describe the spread.

    The township's own register is taken as clean (no deductions, full marks for states such as
    协会工作): the simulation shows what the reports alone make of the items.
    """
    from ..example import example_values

    last = year_months(p, Month(year, 12) if p.year_start_month == 1 else Month(year + 1, p.year_start_month - 1))[-1]
    months = year_months(p, last)
    rows = []
    for m in months:
        for v in registry.villages:
            values, register = example_values(p, v, m)
            fields = {f.id: values[f.id] for f in p.measures if f.id in values}
            rows.append({"village_code": v.code, "period": str(m), "id": 0, "received_at": "",
                         "record_json": json.dumps({"fields": fields, "register": register}, default=str, ensure_ascii=False)})
    entries = _clean_register(p, registry, months)
    scored = Scorer(p, registry, rows, entries, []).score(last, previous=False)
    if scored is None:
        raise HuizongError(Problem("X008", detail=f"{last.chinese}（模拟）"))
    out = Simulation(last, len(scored.index), scored.attainable, scored.bonus_attainable)
    periods = len(scored.data.periods)
    reported = {f.id for f in p.measures} | {d["id"] for d in p.raw.get("derived", [])}
    for item in scored.plan.items:
        used = set().union(names(item.base), names(item.bonus) if item.bonus else set(), *(names(n) for _, n, _ in item.lets))
        base = scored.item_value(item.code, "base")
        bonus = scored.item_value(item.code, "bonus")
        top = item.attainable(periods)
        spread = ItemSpread(item.code, item.name, top, item.bonus_cap(periods), float(base.min()), float(np.median(base)),
                            float(base.max()), float(np.mean(base >= top - 1e-9)), float(np.median(bonus)), not (used & reported))
        out.items.append(spread)
        if spread.at_max >= 0.9 and len(scored.index) > 1 and not spread.register_only:
            out.warnings.append(f"{item.code} {item.name}：{spread.at_max:.0%} 的村得满分，请检查公式、目标和任务比例")
        if spread.high <= 1e-9:
            out.warnings.append(f"{item.code} {item.name}：所有村都得 0 分，请检查公式")
    totals = scored.total
    out.total_low, out.total_median, out.total_high = float(totals.min()), float(statistics.median(totals.tolist())), float(totals.max())
    out.bonus_share = float(scored.bonus_total.sum() / totals.sum()) if totals.sum() else 0.0
    if out.bonus_share > 0.15:
        out.warnings.append(f"加分占总分的 {out.bonus_share:.0%}：名次可能主要由加分决定，请检查加分公式和上限")
    return out


def _clean_register(p: Programme, registry: Registry, months: list[Month]) -> list[AssessmentEntry]:
    fields: list[FieldSpec] = list(register_columns_for(p))
    if not fields:
        return []
    values = {f.id: float(f.max) if (f.max is not None and f.aggregate == "latest") else 0.0 for f in fields}
    if (p.raw.get("assessment_register") or {}).get("granularity") == "month":
        slots = [(m.year, str(m)) for m in months]
    else:  # a 考核季 register names the assessment year its months belong to
        slots = [(year_start(p, months[-1]).year, a.name) for a in p.assessment_periods]
    return [AssessmentEntry(v.code, y, name, dict(values), 0) for v in registry.villages for y, name in slots]
