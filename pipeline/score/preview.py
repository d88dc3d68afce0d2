"""What a village's own numbers come to, said in the receipt before the 通报 says it.

A typo no rule can tell from a real month (诱杀 1 typed 0, 虫果数 5 typed 0, a denominator typed 0,
a 负面报道 typed 1) changes a ranking, a criticism or money, and only the village knows the true
number. The receipt therefore says what its reports amount to — the score, the subsidies, the
judgements (通报批评, 列入后三名, 一票否决) — computed from the village's accepted reports of the
assessment year so far by the same scorer as the 通报. Only what the village's own reports decide
is said: anything that reads the township's registers (镇考核登记, 加分扣分登记) or the other
villages (名次, rank rewards) is left to the 通报.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..programme.calendar import periods_so_far, year_start
from ..programme.config import Programme
from ..programme.formula import Node, names
from ..programme.periods import Month
from ..registry import Registry, Village
from .plan import Plan
from .scorer import Scorer

JUDGED = {  # a flag's effect as the village reads it
    "criticise": "将被通报批评",
    "bottom": "将排在最后几名",
    "veto": "将被一票否决",
    "unranked": "不能参加排名",
}
CORRECT = "如有填错，请改正后重新发送整个文件"


def preview(p: Programme, village: Village, period: Month, rows: Iterable[Any]) -> list[str]:
    """What the village's accepted reports of the year so far (``rows``, ledger rows: this report included)
    amount to: a heading, then a line each; [] when the programme leaves nothing to the village's reports alone."""
    scorer = Scorer(p, Registry((village.for_year(year_start(p, period).year),)), rows, [], [])
    evaluated = scorer.evaluate(period)
    if evaluated is None:
        return []
    township = scorer.register_fields | {"rank"}  # what the village's reports alone do not decide
    # the total is the village's own only without register inputs and without 加分扣分登记 / 考核季 rank bonuses
    own_total = not any(name in township for name, _ in evaluated.plan.inputs) and not p.raw.get("adjustments")
    total = evaluated.base_total + evaluated.bonus_total
    cumulative = (p.raw.get("scoring") or {}).get("window", "ytd") == "ytd"

    def decided(node: Node) -> bool:
        used = names(node)
        return not used & township and ("total" not in used or own_total)

    raised = set(scorer.judge(period, evaluated.data, evaluated.index, total).raised[0])
    # out of the ranking (一票否决, 不能排名): no score and no money to speak of, only why
    out = any(f.name in raised and f.effect in ("veto", "unranked") and decided(f.node) for f in scorer.rules.flags)
    lines: list[str] = []
    begun = len(evaluated.data.periods)
    if own_total and not out:
        label = scorer.rules.total_label
        attainable = sum(i.attainable(begun) for i in evaluated.plan.items)
        lines.append(f"{label}：{_n(float(total[0]))}" + (f"（满分 {_n(attainable)}）" if label == "总分" else ""))
    elif not out:  # a total the registers add to: the items the village's reports alone decide, each against its max
        items = [_item_line(i, evaluated.env, begun) for i in evaluated.plan.items if not _names_of(i) & township]
        if items:
            lines.append("只由本村报表决定的各项得分（截至本期满分）：" + "，".join(items))
    if cumulative:
        summed = _summed(p, scorer, evaluated.plan, evaluated.data.ytd, own_total)
        if summed:
            lines.append("累计：" + "，".join(summed))
    current = periods_so_far(p, period)
    season = current[-1].name if current else "考核期"
    names_env = scorer.names_env(evaluated.data, evaluated.index, total, "period")
    for reward, result in zip(scorer.rules.rewards, scorer.rewards(evaluated.data, evaluated.index, names_env, period)):
        if decided(reward.node) and not out:
            amount = f"{_n(float(result.amounts[0]))} 元"
            lines.append(f"{reward.name}：{amount}" if result.due else f"{reward.name}：按目前的数为 {amount}（{season}结束时按那时的累计数核定）")
    for flag in scorer.rules.flags:
        if flag.name in raised and decided(flag.node):
            if flag.effect == "note":
                lines.append(f"注：{flag.name}")
            else:
                lines.append(f"！按这些数，本{p.unit_label}{JUDGED.get(flag.effect, '将受到处理')}：{flag.name}。{CORRECT}")
    if not lines:
        return []
    heading = (f"按本{p.unit_label}{_span(p, evaluated.data.months)}已通过的报表（含本份）计算，供核对，以镇里的通报为准："
               if cumulative else "按本表计算，供核对，以镇里的通报为准：")
    return [heading, *lines]


def _names_of(item: Any) -> set[str]:
    """Every name an item's base, bonus and intermediate values read."""
    used = names(item.base) | (names(item.bonus) if item.bonus is not None else set())
    for _, node, _ in item.lets:
        used |= names(node)
    return used


def _item_line(item: Any, env: dict[str, np.ndarray], begun: int) -> str:
    base = float(env[f"{item.code}:base"][0])
    bonus = float(env[f"{item.code}:bonus"][0]) if f"{item.code}:bonus" in env else 0.0
    return f"{item.name} {_n(round(base, 2))}/{_n(item.attainable(begun))}" + (f"（加分 {_n(round(bonus, 2))}）" if bonus > 0 else "")


def _summed(p: Programme, scorer: Scorer, plan: Plan, ytd: dict[str, np.ndarray], own_total: bool) -> list[str]:
    """The year's sums of the report fields the total, the flags and the 通报's 备注 are computed from."""
    used: set[str] = set(scorer.rules.show)
    for flag in scorer.rules.flags:
        used |= names(flag.node)
    if own_total:  # the fields the total is computed from (a programme scored on registers too: too many to list)
        used |= {name for name, _ in plan.inputs}
    out = []
    for f in p.measures:
        if f.id in used and f.id in ytd and not np.isnan(ytd[f.id][0]):
            out.append(f"{f.label} {_n(float(ytd[f.id][0]))} {f.unit}".rstrip())
    return out


def _span(p: Programme, months: Sequence[Month]) -> str:
    """2026年6—8月, 2026年10月—2027年1月, 2026年第一季度至第三季度: the periods the figures are summed over."""
    if not months:
        return ""
    first, last = months[0], months[-1]
    if p.period_kind == "quarter":
        return p.label(first) if first == last else f"{p.label(first)}至{p.label(last).removeprefix(f'{first.year}年')}"
    if first == last:
        return first.chinese
    return f"{first.year}年{first.month}—{last.month}月" if first.year == last.year else f"{first.chinese}—{last.chinese}"


def _n(v: float) -> str:
    return f"{v:,.2f}".rstrip("0").rstrip(".") if not float(v).is_integer() else f"{int(v):,}"
