"""What follows from the scores, as the programme declares it: flags (forced bottom ranks, 一票否决,
通报批评), praise and criticism by rank, money rewards and subsidies (元), and rank-based rewards
at the end of a 考核季 (e.g. a quarter's best three by the sum of their monthly totals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..problems import HuizongError, Problem
from ..programme.config import Programme
from ..programme.formula import FormulaError, Node, evaluate, names, parse
from .plan import SPECIAL_NAMES, unknown_names


@dataclass(frozen=True)
class Flag:
    name: str
    node: Node
    effect: str  # criticise / bottom / veto / unranked / note (said in the 备注, nothing else)
    scope: str  # period / year
    text: str
    from_month: int | None = None  # judged from this month of the year on (before: shown as progress only)

    def due(self, month: int, months: list[int]) -> bool:
        """Is the flag judged in ``month``? ``months``: the programme's reporting months in order."""
        if self.from_month is None:
            return True
        return months.index(month) >= months.index(self.from_month) if month in months and self.from_month in months else month >= self.from_month


@dataclass(frozen=True)
class Reward:
    name: str
    node: Node
    every: str  # month / period_end
    target: str | None
    text: str


@dataclass(frozen=True)
class Rules:
    order: str
    praise_top: int
    criticise_bottom: int
    criticise_if: Node | None
    flags: tuple[Flag, ...]
    rewards: tuple[Reward, ...]
    rank_rewards: tuple[dict[str, Any], ...]
    total_label: str
    show: tuple[str, ...] = ()  # fields whose values the 通报's 备注 lists (progress towards a requirement)


@dataclass
class RewardResult:
    name: str
    amounts: np.ndarray  # 元 per scored village
    due: bool  # paid this period (a season-end reward before the season ends is an estimate)
    every: str
    text: str


@dataclass
class RankReward:
    name: str
    period_name: str
    sums: np.ndarray
    ranks: np.ndarray
    amounts: np.ndarray
    notes: list[list[str]] = field(default_factory=list)
    months: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)  # the 社区 of each entry: every one ranked in a month of the 考核季


def compile_rules(p: Programme, register_fields: set[str]) -> Rules:
    scoring = p.raw.get("scoring") or {}
    ranking = scoring.get("ranking") or {}
    derived = {d["id"] for d in p.raw.get("derived", [])}
    known = {f.id for f in p.measures} | derived | register_fields | {t.id for t in p.tasks} | set(SPECIAL_NAMES) | {"total"}
    problems: list[Problem] = []

    def compile_formula(where: str, text: str, allowed: set[str]) -> Node | None:
        try:
            node = parse(text)
        except FormulaError as exc:
            problems.append(Problem("C002", file=p.source, field=where, detail=f"公式“{text}”有误：{exc.detail}"))
            return None
        unknown = sorted(names(node) - allowed)
        if unknown:
            problems.append(Problem("C002", file=p.source, field=where, detail=unknown_names(p, text, unknown)))
            return None
        return node

    flags = []
    for i, f in enumerate(scoring.get("flags") or []):
        node = compile_formula(f"scoring.flags[{i}]", f["when"], known)
        if node is not None:
            flags.append(Flag(f["name"], node, f["effect"], f.get("scope", "period"), f["when"], f.get("from_month")))
    rewards = []
    for i, r in enumerate(scoring.get("rewards") or []):
        target = r.get("target")
        if target and target not in {t.id for t in p.tasks}:
            problems.append(Problem("C002", file=p.source, field=f"scoring.rewards[{i}].target", detail=f"“{target}”不是方案 tasks 中的年度任务"))
        node = compile_formula(f"scoring.rewards[{i}]", r["amount"], known | ({"t"} if target else set()))
        if node is not None:
            rewards.append(Reward(r["name"], node, r.get("every", "month"), target, r["amount"]))
    criticise_if = None
    if ranking.get("criticise_if"):
        criticise_if = compile_formula("scoring.ranking.criticise_if", ranking["criticise_if"], known)
    for f in ranking.get("show") or ():
        if f not in {x.id for x in p.measures} | register_fields:
            problems.append(Problem("C002", file=p.source, field="scoring.ranking.show", detail=f"“{f}”不是月报或登记表中的字段"))
    if problems:
        raise HuizongError(problems)
    return Rules(
        order=ranking.get("order", "desc"),
        # praise and criticism only where the programme says so: a notice that criticises by rank
        # without a rule for it publishes a judgement nobody made
        praise_top=int(ranking.get("praise_top", 0)),
        criticise_bottom=int(ranking.get("criticise_bottom", 0)),
        criticise_if=criticise_if,
        flags=tuple(flags),
        rewards=tuple(rewards),
        rank_rewards=tuple(scoring.get("rank_rewards") or ()),
        total_label=str(scoring.get("total_label") or "总分"),
        show=tuple(ranking.get("show") or ()),
    )


def truth(node: Node, env: dict[str, Any], n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(evaluate(node, env), dtype=bool), (n,)).copy()


def amounts(node: Node, env: dict[str, Any], n: int) -> np.ndarray:
    value = np.broadcast_to(np.asarray(evaluate(node, env), dtype=float), (n,)).copy()
    return np.where(np.isfinite(value), np.maximum(value, 0.0), 0.0)


TIE = 1e-6  # totals closer than this are equal: the same score summed in another order must not split a tie


def ranks(total: np.ndarray, order: str, forced_bottom: np.ndarray) -> np.ndarray:
    """Competition ranks (1, 2, 2, 4); villages forced to the bottom rank after all the others.

    A total is better than another only by more than :data:`TIE` (the summary's live rank
    formulas use the same tolerance).
    """
    t = np.asarray(total, dtype=float)
    key = -t if order == "desc" else t
    forced = np.asarray(forced_bottom, dtype=bool)
    # i is behind j when j is not forced and i is, or both are in the same group and j is better
    # (key_j < key_i - TIE): counted by bisecting each group's sorted keys, O(n log n) in time and O(n)
    # in memory (comparing every pair took n² booleans: 400 MB per matrix at 20,000 villages)
    behind = np.where(forced, int((~forced).sum()), 0)
    for group in (forced, ~forced):
        sorted_keys = np.sort(key[group])
        behind[group] += np.searchsorted(sorted_keys, key[group] - TIE, side="left")
    return 1 + behind


def verdicts(rules: Rules, rank: np.ndarray, env: dict[str, Any], flagged: np.ndarray, criticised: np.ndarray) -> list[str]:
    """通报表扬 for the top ranks (none for a village a flag judged), 通报批评 for the bottom ranks (that
    meet the criticise condition) and for every village a criticise flag names."""
    n = len(rank)
    below = truth(rules.criticise_if, env, n) if rules.criticise_if is not None else np.ones(n, dtype=bool)
    out = []
    ordered = np.sort(rank)
    for k in range(n):
        r = int(rank[k])
        worse = n - int(np.searchsorted(ordered, r, side="right"))  # villages ranked below this one
        if criticised[k]:
            out.append("通报批评")
        elif r <= rules.praise_top and not flagged[k]:
            out.append("通报表扬")
        elif rules.criticise_bottom and worse < rules.criticise_bottom and n > rules.praise_top and below[k]:
            out.append("通报批评")
        else:
            out.append("")
    return out
