"""A programme's scoring as a plan of computations — the single description both the vectorised
evaluation and the summary workbook's live formulas are made from.

Each computation is one column of 得分明细: an intermediate value (``let``), an item's base or
bonus for the year to date, or for one 考核季 (per-period items), or the sum of those. Its formula
refers to names; :func:`resolve` turns a name, seen from an item and a scope, into the key of an
input column (原始数据) or of another computation, the same way for evaluation and for Excel.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..problems import HuizongError, Problem
from ..programme.config import Programme
from ..programme.formula import Call, FormulaError, Name, Node, Num, evaluate, names, parse

SPECIAL_NAMES = {"population": "户籍人口", "months_elapsed": "已过月数"}


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    category: str
    max: float
    base: Node
    bonus: Node | None
    lets: tuple[tuple[str, Node, str], ...]  # (name, formula, formula text)
    target: str | None
    per_period: bool
    period_max: float
    base_text: str
    bonus_text: str
    explain: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    bonus_max: float | None = None  # the most the item's bonus adds (per-period items: over all 考核季)
    period_bonus_max: float | None = None  # per-period items: the most one 考核季 adds
    veto: bool = False  # the base's IF(…, 0, …) is a 一票否决 (source's word); else it reads 计 0 分

    def attainable(self, periods: int) -> float:
        """Base maximum at a period with ``periods`` 考核季 begun."""
        return self.period_max * periods if self.per_period else self.max

    def bonus_cap(self, periods: int) -> float:
        """The most the bonus can add at a period with ``periods`` 考核季 begun (0 without a bonus)."""
        if self.bonus is None:
            return 0.0
        caps = [c for c in (self.bonus_max, (self.period_bonus_max * periods if self.per_period and self.period_bonus_max is not None else None)) if c is not None]
        return min(caps) if caps else float("inf")

    def label(self, name: str) -> str:
        return dict(self.labels).get(name, name)


@dataclass(frozen=True)
class Computation:
    key: str
    item: str
    label: str
    node: Node
    scope: int | None  # assessment period index; None = year to date
    role: str  # let / base / bonus
    lo: float | None = None
    hi: float | None = None
    text: str = ""


@dataclass
class Plan:
    programme: Programme
    items: list[Item]
    computations: list[Computation] = field(default_factory=list)
    inputs: list[tuple[str, int | None]] = field(default_factory=list)  # (name, scope) in first-use order
    categories: list[str] = field(default_factory=list)

    def resolve(self, name: str, item: str, scope: int | None) -> str:
        """The env key of ``name`` as seen by a formula of ``item`` in ``scope``."""
        if scope is not None and f"{item}@{scope}:{name}" in self._keys:
            return f"{item}@{scope}:{name}"
        if f"{item}:{name}" in self._keys:
            return f"{item}:{name}"
        if name in self._keys:
            return name  # a computation key used directly (sums of per-period parts)
        if name == "t":
            return f"t:{item}" if scope is None else f"t:{item}@{scope}"
        if scope is not None and name in self._period_names:
            return f"{name}@{scope}"
        return name

    def __post_init__(self) -> None:
        self._keys: set[str] = set()
        self._period_names: set[str] = set()

    def item(self, code: str) -> Item:
        return next(i for i in self.items if i.code == code)


def unknown_names(p: Programme, text: str, unknown: list[str]) -> str:
    """Why a formula's names are refused: a text, choice or date field cannot be computed with; any other is undefined."""
    kinds = {"text": "文字", "enum": "下拉选项", "date": "日期", "id_number": "身份证号", "phone": "电话"}
    specs = {f.id: f for f in p.all_inputs}
    words = [f"“{n}”（{specs[n].label}）是{kinds.get(specs[n].type, specs[n].type)}字段，不能参与计算" for n in unknown if n in specs]
    rest = [n for n in unknown if n not in specs]
    if rest:
        words.append(f"用到了未定义的名称 {'、'.join(rest)}")
    return f"公式“{text}”" + "；".join(words)


def raw_key(key: str) -> str:
    """Where run_plan keeps a clamped computation's value before clamping."""
    return f"{key}~raw"


def input_key(name: str, scope: int | None) -> str:
    return name if scope is None else f"{name}@{scope}"


def build_plan(p: Programme, register_fields: set[str], periods: list[int] | None = None) -> Plan:
    """Parse and check every formula of the programme; raise HuizongError with all problems at once.

    ``periods`` are the indexes of the 考核季 begun by the reporting month: per-period items are
    scored for those only (a 考核季 not yet begun contributes nothing).
    """
    raw_items = (p.raw.get("scoring") or {}).get("items") or []
    problems: list[Problem] = []
    report_fields = {f.id for f in p.measures} | {d["id"] for d in p.raw.get("derived", [])}  # derived values are monthly numbers too
    tasks = {t.id for t in p.tasks}
    known = report_fields | register_fields | tasks | set(SPECIAL_NAMES)
    items: list[Item] = []
    for i, raw in enumerate(raw_items):
        code = str(raw["code"])
        where = f"scoring.items[{i}]（{code} {raw.get('name', '')}）"

        def bad(part: str, detail: str, where: str = where) -> None:
            problems.append(Problem("C002", file=p.source, field=f"{where}.{part}", detail=detail))

        def compile_formula(part: str, text: str, allowed: set[str]) -> Node | None:
            try:
                node = parse(text)
            except FormulaError as exc:
                bad(part, f"公式“{text}”有误：{exc.detail}")
                return None
            unknown = sorted(names(node) - allowed)
            if unknown:
                bad(part, unknown_names(p, text, unknown))
                return None
            return node

        target = raw.get("target")
        if target is not None and target not in tasks:
            bad("target", f"目标“{target}”不是方案 tasks 中的年度任务")
        allowed = known | ({"t"} if target else set())
        lets = []
        for name, text in (raw.get("let") or {}).items():
            if name in known or name == "t":
                bad(f"let.{name}", f"中间量名称“{name}”与已有字段重名")
                continue
            node = compile_formula(f"let.{name}", str(text), allowed)
            if node is not None:
                lets.append((name, node, str(text)))
            allowed = allowed | {name}
        base = compile_formula("base", str(raw["base"]), allowed)
        bonus = compile_formula("bonus", str(raw["bonus"]), allowed) if raw.get("bonus") else None
        per_period = bool(raw.get("per_period"))
        period_max = float(raw.get("period_max", 0) or 0)
        if per_period and not period_max:
            bad("period_max", "按考核季计分的项目须写 period_max（每个考核季的满分）")
        # an uncapped bonus lets one mistyped number outweigh the whole base score: every bonus has a cap
        bonus_max = raw.get("bonus_max")
        period_bonus_max = raw.get("period_bonus_max")
        if raw.get("bonus") and bonus_max is None:
            bad("bonus_max", "有加分公式（bonus）的项目须写 bonus_max（本项加分上限），否则一个填错的数字就能决定名次")
        if (bonus_max is not None or period_bonus_max is not None) and not raw.get("bonus"):
            bad("bonus_max", "没有加分公式（bonus），不能写 bonus_max / period_bonus_max")
        if period_bonus_max is not None and not per_period:
            bad("period_bonus_max", "period_bonus_max 只用于按考核季计分（per_period: true）的项目；其他项目用 bonus_max")
        if base is None:
            continue
        items.append(Item(
            code=code, name=str(raw["name"]), category=str(raw.get("category", raw["name"])), max=float(raw["max"]),
            base=base, bonus=bonus, lets=tuple(lets), target=target, per_period=per_period, period_max=period_max,
            base_text=str(raw["base"]), bonus_text=str(raw.get("bonus") or ""), explain=str(raw.get("explain") or ""),
            labels=tuple((raw.get("labels") or {}).items()),
            bonus_max=None if bonus_max is None else float(bonus_max),
            period_bonus_max=None if period_bonus_max is None else float(period_bonus_max),
            veto=bool(raw.get("veto")),
        ))
    codes = [i.code for i in items]
    if len(set(codes)) != len(codes):
        problems.append(Problem("C002", file=p.source, field="scoring.items", detail="项目代码重复"))
    if problems:
        raise HuizongError(problems)
    plan = Plan(p, items)
    _lay_out(plan, report_fields | register_fields, list(range(len(p.assessment_periods))) if periods is None else periods)
    return plan


def _lay_out(plan: Plan, fields_by_period: set[str], periods: list[int]) -> None:
    seen_inputs: set[tuple[str, int | None]] = set()
    plan._period_names = fields_by_period

    def use_inputs(node: Node, item: Item, scope: int | None, local: set[str]) -> None:
        for n in sorted(names(node)):
            if n in local:
                continue
            key = (n if n != "t" else f"t:{item.code}", scope if (n == "t" or n in fields_by_period) else None)
            if key not in seen_inputs:
                seen_inputs.add(key)
                plan.inputs.append(key)

    for item in plan.items:
        if item.category not in plan.categories:
            plan.categories.append(item.category)
        scopes: list[int | None] = list(periods) if item.per_period else [None]
        for scope in scopes:
            local: set[str] = set()
            suffix = f"（{plan.programme.assessment_periods[scope].name}）" if scope is not None else ""
            prefix = f"{item.code}@{scope}" if scope is not None else item.code
            for name, node, text in item.lets:
                use_inputs(node, item, scope, local)
                plan.computations.append(Computation(f"{prefix}:{name}", item.code, f"{item.code} {item.label(name)}{suffix}", node, scope, "let", text=text))
                plan._keys.add(f"{prefix}:{name}")
                local.add(name)
            hi = item.period_max if scope is not None else item.max
            use_inputs(item.base, item, scope, local)
            plan.computations.append(Computation(f"{prefix}:base", item.code, f"{item.code} 基本分{suffix}", item.base, scope, "base", 0.0, hi, item.base_text))
            plan._keys.add(f"{prefix}:base")
            if item.bonus is not None:
                use_inputs(item.bonus, item, scope, local)
                cap = item.period_bonus_max if scope is not None else item.bonus_max
                plan.computations.append(Computation(f"{prefix}:bonus", item.code, f"{item.code} 加分{suffix}", item.bonus, scope, "bonus", 0.0, cap, item.bonus_text))
                plan._keys.add(f"{prefix}:bonus")
        if item.per_period:
            for role, label in (("base", "基本分"), ("bonus", "加分")):
                if role == "bonus" and item.bonus is None:
                    continue
                parts = tuple(Name(f"{item.code}@{s}:{role}") for s in periods) or (Num(0.0),)
                cap = item.bonus_max if role == "bonus" else None
                plan.computations.append(Computation(f"{item.code}:{role}", item.code, f"{item.code} {label}合计", Call("SUM", parts), None, role,
                                                     0.0 if cap is not None else None, cap))
                plan._keys.add(f"{item.code}:{role}")


class _Scoped(Mapping[str, Any]):
    def __init__(self, plan: Plan, env: dict[str, Any], item: str, scope: int | None):
        self.plan, self.env, self.item, self.scope = plan, env, item, scope

    def __getitem__(self, name: str) -> Any:
        return self.env[self.plan.resolve(name, self.item, self.scope)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.env)

    def __len__(self) -> int:
        return len(self.env)


def run_plan(plan: Plan, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate every computation over all villages at once. Returns inputs + computed columns."""
    env: dict[str, Any] = dict(inputs)
    for c in plan.computations:
        value = np.asarray(evaluate(c.node, _Scoped(plan, env, c.item, c.scope)), dtype=float)
        if c.lo is not None or c.hi is not None:  # the value before clamping: 计算说明 says in words what was cut off
            env[raw_key(c.key)] = np.broadcast_to(value, next(iter(inputs.values())).shape).astype(float) if inputs else value
        if c.lo is not None:
            value = np.maximum(c.lo, value)
        if c.hi is not None:
            value = np.minimum(c.hi, value)
        env[c.key] = np.broadcast_to(value, next(iter(inputs.values())).shape).astype(float) if inputs else value
    return env
