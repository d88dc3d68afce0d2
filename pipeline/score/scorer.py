"""Score and rank the villages of a period: items, register bonuses and deductions, 考核季 rank
bonuses, totals, competition ranks (1, 2, 2, 4) and the change against the previous month."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..problems import HuizongError, Problem
from ..programme.calendar import periods_so_far, year_start
from ..programme.config import FieldSpec, Programme
from ..programme.periods import Month
from ..registry import Registry
from ..validate.registers import Adjustment, AssessmentEntry
from .consolidate import Consolidated, consolidate
from .plan import Plan, build_plan, run_plan


def competition_ranks(totals: np.ndarray, descending: bool = True) -> np.ndarray:
    """1 + the number of strictly better totals: ties share a rank and the next rank is skipped."""
    t = np.asarray(totals, dtype=float)
    better = (t[None, :] > t[:, None]) if descending else (t[None, :] < t[:, None])
    return 1 + better.sum(axis=1)


@dataclass
class Scored:
    plan: Plan
    data: Consolidated
    index: np.ndarray  # positions (in registry order) of the scored villages
    env: dict[str, np.ndarray]  # computation and input columns, over the scored villages
    base_total: np.ndarray
    bonus_total: np.ndarray
    adj_bonus: np.ndarray
    adj_deduction: np.ndarray
    rank_bonus: np.ndarray
    rank_bonus_detail: list[list[str]]
    total: np.ndarray
    rank: np.ndarray
    previous_rank: np.ndarray  # 0 where there is none
    attainable: float
    category_scores: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def codes(self) -> list[str]:
        return [self.data.villages[i].code for i in self.index]

    def order(self) -> list[int]:
        """Row order of the ranked table: by rank, ties by village code."""
        return sorted(range(len(self.index)), key=lambda k: (self.rank[k], self.codes[k]))

    def item_value(self, code: str, role: str) -> np.ndarray:
        return self.env.get(f"{code}:{role}", np.zeros(len(self.index)))


class Scorer:
    """Scores any month of the assessment year from the same loaded data (for rank bonuses and changes)."""

    def __init__(self, programme: Programme, registry: Registry, rows: list[Any], entries: list[AssessmentEntry], adjustments: list[Adjustment]):
        self.programme = programme
        self.registry = registry
        self.rows = rows
        self.entries = entries
        self.adjustments = adjustments
        self.register_fields = {f["id"] for f in (programme.raw.get("assessment_register") or {}).get("fields", [])}
        self._cache: dict[tuple[Month, bool], Scored | None] = {}

    def plan_for(self, period: Month) -> Plan:
        begun = [ps.index for ps in periods_so_far(self.programme, period)]
        return build_plan(self.programme, self.register_fields, begun)

    def score(self, period: Month, rank_bonus: bool = True, previous: bool = True) -> Scored | None:
        key = (period, rank_bonus)
        if key in self._cache and previous:
            return self._cache[key]
        plan = self.plan_for(period)
        data = consolidate(plan, self.registry, period, self.rows, self.entries, self.adjustments)
        index = np.flatnonzero(data.reported)
        if len(index) == 0:
            self._cache[key] = None
            return None
        inputs = {k: v[index] for k, v in data.inputs.items()}
        env = run_plan(plan, inputs)
        self._check_finite(plan, data, index, env)
        n = len(index)
        base_total = np.zeros(n)
        bonus_total = np.zeros(n)
        categories: dict[str, np.ndarray] = {}
        for item in plan.items:
            b = env[f"{item.code}:base"]
            base_total += b
            extra = env.get(f"{item.code}:bonus", np.zeros(n))
            bonus_total += extra
            categories[item.category] = categories.get(item.category, np.zeros(n)) + b + extra
        codes = [data.villages[i].code for i in index]
        adj_bonus = np.array([sum(a.total for a in data.adjustments.get(c, []) if a.total > 0) for c in codes], dtype=float)
        adj_deduction = np.array([-sum(a.total for a in data.adjustments.get(c, []) if a.total < 0) for c in codes], dtype=float)
        rb = np.zeros(n)
        detail: list[list[str]] = [[] for _ in range(n)]
        if rank_bonus:
            rb, detail = self._rank_bonuses(period, codes)
        total = base_total + bonus_total + adj_bonus - adj_deduction + rb
        rank = competition_ranks(total)
        prev = np.zeros(n, dtype=int)
        if previous and period.shift(-1) >= year_start(self.programme, period):
            before = self.score(period.shift(-1), rank_bonus=rank_bonus, previous=False)
            if before is not None:
                prev_by_code = dict(zip(before.codes, before.rank.tolist()))
                prev = np.array([prev_by_code.get(c, 0) for c in codes], dtype=int)
        attainable = sum(
            (item.period_max * len(data.periods)) if item.per_period else item.max for item in plan.items
        )
        scored = Scored(plan, data, index, env, base_total, bonus_total, adj_bonus, adj_deduction, rb, detail, total, rank, prev, attainable, categories)
        if previous:
            self._cache[key] = scored
        return scored

    def _rank_bonuses(self, period: Month, codes: list[str]) -> tuple[np.ndarray, list[list[str]]]:
        """考核季综合排名第1、2名 +4/+2: the YTD ranking without rank bonuses at each ended 考核季."""
        points = ((self.programme.raw.get("adjustments") or {}).get("rank_bonus") or {}).get("points") or []
        out = np.zeros(len(codes))
        detail: list[list[str]] = [[] for _ in codes]
        if not points:
            return out, detail
        pos = {c: k for k, c in enumerate(codes)}
        for ps in periods_so_far(self.programme, period):
            if not ps.ended:
                continue
            at = self.score(ps.last_month, rank_bonus=False, previous=False)
            if at is None:
                continue
            for code, r in zip(at.codes, at.rank.tolist()):
                if code in pos and r <= len(points):
                    out[pos[code]] += points[r - 1]
                    detail[pos[code]].append(f"{ps.name}第{r}名 +{points[r - 1]:g}")
        return out, detail

    @staticmethod
    def _check_finite(plan: Plan, data: Consolidated, index: np.ndarray, env: dict[str, np.ndarray]) -> None:
        problems = []
        for c in plan.computations:
            bad = np.flatnonzero(~np.isfinite(env[c.key]))
            for k in bad[:5]:
                v = data.villages[index[k]]
                problems.append(Problem("C002", file=plan.programme.source, field=f"scoring {c.item}",
                                        detail=f"{v.name}的“{c.label}”无法计算（除数为 0 或结果无效）；公式：{c.text}"))
        if problems:
            raise HuizongError(problems)


def register_columns_for(p: Programme) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec.from_dict(f) for f in (p.raw.get("assessment_register") or {}).get("fields", []))
