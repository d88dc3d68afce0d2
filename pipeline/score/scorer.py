"""Score and rank the villages of a period: items, register bonuses and deductions, 考核季 rank
bonuses, totals, competition ranks (1, 2, 2, 4) and the change against the previous month."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..problems import HuizongError, Problem
from ..programme.calendar import months_elapsed, period_of, periods_so_far, year_start
from ..programme.config import FieldSpec, Programme
from ..programme.formula import names
from ..programme.periods import Month
from ..registry import Registry, Village
from ..validate.registers import Adjustment, AssessmentEntry
from .consolidate import Consolidated, Reports, consolidate
from .outcomes import RankReward, RewardResult, Rules, amounts, compile_rules, ranks, truth, verdicts
from .plan import Plan, build_plan, run_plan


def competition_ranks(totals: np.ndarray, descending: bool = True) -> np.ndarray:
    """1 + the number of strictly better totals: ties share a rank and the next rank is skipped."""
    return ranks(totals, "desc" if descending else "asc", np.zeros(len(totals), dtype=bool))


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
    attainable: float  # base maximum at the period (满分（截至本期）)
    category_scores: dict[str, np.ndarray] = field(default_factory=dict)
    rules: Rules | None = None
    flags: list[list[str]] = field(default_factory=list)  # flag names per scored village
    verdicts: list[str] = field(default_factory=list)  # 通报表扬 / 通报批评 / ""
    vetoed: list[tuple[Village, list[str]]] = field(default_factory=list)  # 一票否决: shown, not scored
    rewards: list[RewardResult] = field(default_factory=list)
    rank_reward: RankReward | None = None
    bonus_attainable: float = 0.0  # the most all item bonuses together can add at the period (their caps)
    forced_bottom: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # ranked after all others
    unranked: list[tuple[Village, list[str]]] = field(default_factory=list)  # cannot be ranked (flag effect unranked)

    @cached_property
    def codes(self) -> list[str]:
        return [self.data.villages[i].code for i in self.index]

    def order(self) -> list[int]:
        """Row order of the ranked table: by rank, ties by village code."""
        return sorted(range(len(self.index)), key=lambda k: (self.rank[k], self.codes[k]))

    def item_value(self, code: str, role: str) -> np.ndarray:
        return self.env.get(f"{code}:{role}", np.zeros(len(self.index)))


@dataclass
class Evaluated:
    """The items and sums of the villages with a report for a period, before registers and ranks."""
    plan: Plan
    data: Consolidated
    index: np.ndarray
    env: dict[str, np.ndarray]
    base_total: np.ndarray
    bonus_total: np.ndarray
    categories: dict[str, np.ndarray]


@dataclass
class Judged:
    """The flags raised per village (names), and which kinds of effect they have."""
    raised: list[list[str]]
    judged: np.ndarray  # a flag other than a note: no 通报表扬
    veto: np.ndarray
    unranked: np.ndarray
    bottom: np.ndarray
    criticised: np.ndarray


class Scorer:
    """Scores any month of the assessment year from the same loaded data (for rank bonuses and changes)."""

    def __init__(self, programme: Programme, registry: Registry, rows: Iterable[Any], entries: list[AssessmentEntry], adjustments: list[Adjustment],
                 published: Callable[[Month], dict[str, int] | None] | None = None):
        """``published``: the ranks of a month's last 通报 made (village code → rank), None where none was: the
        change a 通报 shows is against what the leaders were given, not against that month scored again today
        (a deduction dated in September but entered in October would move September's ranks unseen)."""
        self.programme = programme
        self.published = published
        self.registry = registry
        self.reports = Reports(programme, registry, rows)  # decoded once, however many months are scored
        self.entries = entries
        self.adjustments = adjustments
        self.register_fields = {f["id"] for f in (programme.raw.get("assessment_register") or {}).get("fields", [])}
        self._cache: dict[tuple[Month, bool, bool], Scored | None] = {}
        self.rules = compile_rules(programme, self.register_fields)

    def plan_for(self, period: Month) -> Plan:
        begun = [ps.index for ps in periods_so_far(self.programme, period)]
        return build_plan(self.programme, self.register_fields, begun)

    def evaluate(self, period: Month) -> Evaluated | None:
        """The villages with a report for ``period`` and their items' scores, before the registers' bonuses and
        deductions, flags and ranks (:meth:`score`); None when none reported."""
        plan = self.plan_for(period)
        data = consolidate(plan, self.registry, period, self.reports, self.entries, self.adjustments)
        index = np.flatnonzero(data.reported)
        if len(index) == 0:
            return None
        env = run_plan(plan, {k: v[index] for k, v in data.inputs.items()})
        self._check_finite(plan, data, index, env)
        base_total, bonus_total, categories = self._sums(plan, env, len(index))
        return Evaluated(plan, data, index, env, base_total, bonus_total, categories)

    def judge(self, period: Month, data: Consolidated, index: np.ndarray, total: np.ndarray) -> Judged:
        """The flags the villages' values raise in ``period`` (a requirement not yet due is not judged)."""
        n = len(index)
        names_env = self.names_env(data, index, total, scope="period")
        year_env = self.names_env(data, index, total, scope="year")
        out = Judged([[] for _ in range(n)], *(np.zeros(n, dtype=bool) for _ in range(5)))
        for flag in self.rules.flags:
            if not flag.due(period.month, list(self.programme.report_months)):
                continue  # the 通报 shows progress instead
            hit = truth(flag.node, year_env if flag.scope == "year" else names_env, n)
            for k in np.flatnonzero(hit):
                out.raised[k].append(flag.name)
            out.judged |= hit & (flag.effect != "note")  # a flag other than a note: no 通报表扬 for the village
            out.veto |= hit & (flag.effect == "veto")
            out.unranked |= hit & (flag.effect == "unranked")
            out.bottom |= hit & (flag.effect == "bottom")
            out.criticised |= hit & (flag.effect in ("criticise", "bottom"))
        return out

    def score(self, period: Month, rank_bonus: bool = True, previous: bool = True) -> Scored | None:
        key = (period, rank_bonus, previous)
        if key in self._cache:
            return self._cache[key]
        evaluated = self.evaluate(period)
        if evaluated is None:
            self._cache[key] = None
            return None
        plan, data, index, env = evaluated.plan, evaluated.data, evaluated.index, evaluated.env
        base_total, bonus_total, categories = evaluated.base_total, evaluated.bonus_total, evaluated.categories
        n = len(index)
        codes = [data.villages[i].code for i in index]
        adj_bonus = np.array([sum(a.total for a in data.adjustments.get(c, []) if a.total > 0) for c in codes], dtype=float)
        adj_deduction = np.array([-sum(a.total for a in data.adjustments.get(c, []) if a.total < 0) for c in codes], dtype=float)
        rb, detail = self._rank_bonuses(period, codes) if rank_bonus else (np.zeros(n), [[] for _ in range(n)])
        total = base_total + bonus_total + adj_bonus - adj_deduction + rb
        # flags: 一票否决 removes a village from the ranking; others force ranks or criticism
        j = self.judge(period, data, index, total)
        raised, judged, veto, unranked, bottom, criticised = j.raised, j.judged, j.veto, j.unranked, j.bottom, j.criticised
        notes = {f.name for f in self.rules.flags if f.effect == "note"}  # a village out of the ranking is named for its judgements
        vetoed = [(data.villages[index[k]], [x for x in raised[k] if x not in notes]) for k in np.flatnonzero(veto)]
        # not rankable (e.g. no fruit checked: no rate at all): not ranked, no reward, named — never first place
        not_ranked = [(data.villages[index[k]], [x for x in raised[k] if x not in notes]) for k in np.flatnonzero(unranked & ~veto)]
        keep = ~veto & ~unranked
        if not keep.any():
            self._cache[key] = None
            return None
        index, total, base_total, bonus_total = index[keep], total[keep], base_total[keep], bonus_total[keep]
        adj_bonus, adj_deduction, rb = adj_bonus[keep], adj_deduction[keep], rb[keep]
        env = {k: (v[keep] if np.ndim(v) else v) for k, v in env.items()}
        categories = {c: v[keep] for c, v in categories.items()}
        detail = [d for d, k in zip(detail, keep) if k]
        raised = [r for r, k in zip(raised, keep) if k]
        codes = [data.villages[i].code for i in index]
        n = len(index)
        rank = ranks(total, self.rules.order, bottom[keep])
        names_env = self.names_env(data, index, total, scope="period")
        verdict = verdicts(self.rules, rank, names_env, judged[keep], criticised[keep])
        prev = np.zeros(n, dtype=int)
        # the month before: within the assessment year, or any month for a programme ranked on the month alone
        # (programme B: January's change is against December's ranking)
        if previous and (self.programme.window == "month" or period.shift(-1) >= year_start(self.programme, period)):
            prev_by_code = self.published(period.shift(-1)) if self.published is not None else None
            if prev_by_code is None:
                before = self.score(period.shift(-1), rank_bonus=rank_bonus, previous=False)
                prev_by_code = dict(zip(before.codes, before.rank.tolist())) if before is not None else {}
            prev = np.array([max(prev_by_code.get(c, 0), 0) for c in codes], dtype=int)
        attainable = sum(item.attainable(len(data.periods)) for item in plan.items)
        bonus_attainable = sum(item.bonus_cap(len(data.periods)) for item in plan.items)
        scored = Scored(plan, data, index, env, base_total, bonus_total, adj_bonus, adj_deduction, rb, detail, total, rank, prev,
                        attainable, categories, self.rules, raised, verdict, vetoed, bonus_attainable=bonus_attainable)
        scored.forced_bottom = bottom[keep]
        scored.unranked = not_ranked
        scored.rewards = self.rewards(data, index, names_env, period)
        if previous:
            scored.rank_reward = self._rank_reward(period, codes, total, {v.code for v, _ in vetoed},
                                                   {v.code: flags for v, flags in not_ranked})
        self._cache[key] = scored
        return scored

    @staticmethod
    def _sums(plan: Plan, env: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        base_total, bonus_total = np.zeros(n), np.zeros(n)
        categories: dict[str, np.ndarray] = {}
        for item in plan.items:
            b = env[f"{item.code}:base"]
            extra = env.get(f"{item.code}:bonus", np.zeros(n))
            base_total += b
            bonus_total += extra
            # a category's column compares base points with the category's maximum (bonus is shown apart)
            categories[item.category] = categories.get(item.category, np.zeros(n)) + b
        return base_total, bonus_total, categories

    def names_env(self, data: Consolidated, index: np.ndarray, total: np.ndarray, scope: str) -> dict[str, Any]:
        """Field, register and task values of the scored villages, for flags, rewards and conditions."""
        fields = data.year_all if scope == "year" else data.ytd
        register = data.register_year if scope == "year" else data.register
        env: dict[str, Any] = {k: v[index] for k, v in fields.items()}
        env |= {k: v[index] for k, v in register.items()}
        env |= {t.id: np.array([float(data.villages[i].tasks.get(t.id, 0.0)) for i in index]) for t in self.programme.tasks}
        env["population"] = np.array([float(data.villages[i].population) for i in index])
        env["months_elapsed"] = float(months_elapsed(self.programme, data.period))
        env["total"] = total
        return env

    def rewards(self, data: Consolidated, index: np.ndarray, env: dict[str, Any], period: Month) -> list[RewardResult]:
        out = []
        current = period_of(self.programme, period)
        period_ends = current is not None and current.ended and current.last_month == period
        monthly = self._month_env(data, index, env)
        for r in self.rules.rewards:
            # a subsidy paid every month is computed from that month's values, never from the year's sum
            local = dict(monthly if r.every == "month" else env)
            if r.target:
                annual = np.array([float(data.villages[i].tasks.get(r.target, 0.0)) for i in index])
                local["t"] = annual / len(self.programme.report_months) if r.every == "month" else data.targets[f"t:{r.target}"][index]
            due = r.every == "month" or period_ends
            out.append(RewardResult(r.name, amounts(r.node, local, len(index)), due, r.every, r.text))
        return out

    @staticmethod
    def _month_env(data: Consolidated, index: np.ndarray, env: dict[str, Any]) -> dict[str, Any]:
        """``env`` with the report fields of the reporting month alone (not the year so far)."""
        month = data.monthly[data.period]
        return {**env, **{fid: np.nan_to_num(values[index], nan=0.0) for fid, values in month.items()}}

    def _rank_reward(self, period: Month, codes: list[str], total: np.ndarray, vetoed: set[str],
                     unranked: dict[str, list[str]]) -> RankReward | None:
        """At the end of a 考核季: rank by the sum of its monthly totals, pay the best, name the worst.

        Every 社区 of the 村名册 taking part in the 考核季 is in it (not only those ranked in its last month: one
        that missed March vanished from the money table); a month it did not report counts 0, and its note
        says so. A 社区 vetoed in any month of it (一票否决 holds for the year) is shown, not ranked."""
        if not self.rules.rank_rewards:
            return None
        current = period_of(self.programme, period)
        if current is None or not current.ended or current.last_month != period:
            return None
        spec = self.rules.rank_rewards[0]
        months = [m for m in current.months if m.month in self.programme.report_months]
        per_month: dict[Month, dict[str, float]] = {}
        left_out: dict[Month, dict[str, list[str]]] = {}  # month → 社区 reported but not ranked (a flag) → why
        vetoed_since = set(vetoed)
        for m in months:
            s = None if m == period else self.score(m, previous=False)
            per_month[m] = dict(zip(codes, total.tolist())) if m == period else dict(zip(s.codes, s.total.tolist())) if s else {}
            if s is not None:
                vetoed_since |= {v.code for v, _ in s.vetoed}
                left_out[m] = {v.code: flags for v, flags in s.unranked}
        left_out[period] = dict(unranked)
        taking_part = {v.code for v in self.registry.villages if any(v.active(m) for m in current.months)}
        members = list(codes) + sorted((taking_part | vetoed_since) - set(codes))
        sums = np.array([sum(per_month[m].get(c, 0.0) for m in months) for c in members])
        order = "desc" if self.rules.order == "desc" else "asc"
        notes: list[list[str]] = [[] for _ in members]
        # a 社区 that joined (or left) during the 考核季 has a sum of fewer months: not ranked for it (rank 0),
        # rather than ranked last and told to 检讨 for months it was not there
        villages = [self.registry.by_code(c) for c in members]
        part = np.array([(v is None or all(v.active(m) for m in current.months)) and c not in vetoed_since
                         for c, v in zip(members, villages)])
        for k, v in enumerate(villages):
            c = members[k]
            if c in vetoed_since:
                notes[k].append("一票否决，不参加季度排名")
            elif not part[k] and v is not None:
                missing = next(m for m in current.months if not v.active(m))
                notes[k].append(f"本季度未全程参加考核（{v.taking_part(missing)}），不参加季度排名")
            else:
                absent = [m for m in months if c not in per_month[m]]
                flagged = [f"{m.month}月{'、'.join(left_out.get(m, {})[c])}" for m in absent if c in left_out.get(m, {})]
                unreported = [f"{m.month}月" for m in absent if c not in left_out.get(m, {})]
                if absent:
                    notes[k].append("、".join([*(["、".join(unreported) + "无已接收的报表"] if unreported else []), *flagged]) + "，按 0 计")
        r = np.zeros(len(members), dtype=int)
        r[part] = ranks(sums[part], order, np.zeros(int(part.sum()), dtype=bool))
        money = np.array([float(spec["amounts"][x - 1]) if 0 < x <= len(spec["amounts"]) else 0.0 for x in r.tolist()])
        bottom = int(spec.get("criticise_bottom", 0))
        below = self._below_target(current.months, members) if bottom else np.ones(len(members), dtype=bool)
        ranked = int(part.sum())
        ordered = np.sort(r[part])
        for k, x in enumerate(r.tolist()):
            if not part[k]:
                continue
            if int((r[part] == x).sum()) > 1:  # a tie at a paid rank pays each of them: say so
                notes[k].append(f"并列第{x}名")
            worse = ranked - int(np.searchsorted(ordered, x, side="right"))
            if bottom and worse < bottom and below[k]:  # of the bottom ones, those below target (spec), as monthly
                notes[k].append("通报批评、责令整改")
            if spec.get("review_last") and x == int(ordered[-1]) and ranked > 1:
                notes[k].append("作出检讨")
        return RankReward(spec["name"], current.name, sums, r, money, notes, [m.chinese for m in current.months], members)

    def _below_target(self, months: Iterable[Month], codes: list[str]) -> np.ndarray:
        """The ranking's criticise condition over a 考核季: its rates from the months' summed numerators and
        denominators (never averaged); every village where the programme sets no condition."""
        node = self.rules.criticise_if
        if node is None:
            return np.ones(len(codes), dtype=bool)
        at = np.array([self.reports.index[c] for c in codes], dtype=int)
        env: dict[str, Any] = {}
        for fid in names(node):
            arrays = [self.reports.month(m).get(fid) for m in months]
            present = [a for a in arrays if a is not None]
            env[fid] = np.nansum(np.vstack(present), axis=0)[at] if present else np.zeros(len(codes))
        return truth(node, env, len(codes))

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
