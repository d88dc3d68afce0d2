"""Is a number believable? A wrong number that passes validation is published to the leaders.

Two kinds of check, both declared in the programme's ``plausibility`` section:

- **limits** (错误, the report is sent back with "请核实"): a month's value above a hard limit — a
  number, or a formula over the village's registry values (its annual tasks, ``population``),
  such as a month's check-ups above the whole annual task. A limit that comes out at 0 or less
  (a task the registry leaves at 0) is not applied: nothing says what is plausible then.
- **outliers** (警告, the report scores): a value more than ``factor`` × the village's largest
  value of the previous ``months`` months and more than ``margin`` above it; with no history,
  more than ``factor`` × the median of the other villages' values of the same month (and
  ``margin`` above it). The 通报 marks such a village (※) until the township confirms the report.
  A field counted in 元 declares its own margin (10 元 is no margin for an amount of thousands).
  Two checks look downwards, for the fields where a smaller number scores better (a ratio's
  denominator): ``falls`` — under 1/``factor`` of the village's smallest value of the previous
  months (at least three) and ``margin`` below it (a dropped digit, 3471 → 347); ``zero_after`` —
  a 0 after months that were all at least ``zero_min`` (7 pregnancies typed 0: the rate is 100 %); a
  numerator listed there with its denominator in ``given`` is doubted only while the denominator is above 0
  (5 of 5 建册 typed 0 of 5: the rate is 0, and the community criticised).

Records in, problems out: the history is handed in by the caller (the ledger belongs to intake).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..problems import HuizongError, Problem
from ..programme.config import Programme
from ..programme.formula import FormulaError, Node, Num, evaluate, names, parse, with_values
from ..registry import Village

OUTLIER = "R006"  # the warning code the 通报's ※ and `huizong accept` look for
LIMIT = "V023"


@dataclass(frozen=True)
class Limit:
    field: str
    node: Node
    text: str
    why: str = ""


ZERO_HISTORY = 3  # months of history before a 0 is compared with them


@dataclass(frozen=True)
class Outliers:
    fields: tuple[str, ...]
    factor: float
    margin: float
    months: int
    min_peers: int
    zero_fields: tuple[str, ...] = ()  # a 0 here after months that were all at least ``zero_min``: a typo?
    zero_min: float = 3.0
    zero_months: int = ZERO_HISTORY  # months of history (at least) before a 0 is compared with them
    zero_given: tuple[tuple[str, str], ...] = ()  # a zero field doubted only while this other field is above 0 this month
    margins: tuple[tuple[str, float], ...] = ()  # a field's own margin (amounts in 元)
    falls: tuple[str, ...] = ()  # far below the village's smallest previous month: a dropped digit?
    falls_months: int = ZERO_HISTORY  # months of history (at least) before a value is compared with their smallest
    min_months: int = 1  # months of its own history before a village is compared with itself (else: the township)
    within_year: int = 0  # the first month of the assessment year when only its months count (a season); 0: any

    def margin_of(self, field: str) -> float:
        return dict(self.margins).get(field, self.margin)


@dataclass(frozen=True)
class Plausibility:
    limits: tuple[Limit, ...]
    outliers: Outliers | None

    @property
    def empty(self) -> bool:
        return not self.limits and self.outliers is None


_compiled: dict[tuple[str, str, int], Plausibility] = {}


def plausibility(p: Programme) -> Plausibility:
    """The programme's checks, compiled once (every formula and field checked; all problems at once)."""
    key = (p.source, p.id, id(p.raw))
    if key not in _compiled:
        _compiled[key] = _compile(p)
    return _compiled[key]


def _compile(p: Programme) -> Plausibility:
    raw = p.raw.get("plausibility") or {}
    numeric = {f.id for f in p.fields if f.numeric}
    allowed = {t.id for t in p.tasks} | {"population"}
    problems: list[Problem] = []

    def bad(where: str, detail: str) -> None:
        problems.append(Problem("C002", file=p.source, field=where, detail=detail))

    limits = []
    for i, entry in enumerate(raw.get("limits") or []):
        where = f"plausibility.limits[{i}]"
        if entry["field"] not in numeric:
            bad(where, f"“{entry['field']}”不是月报中的数值字段")
            continue
        text = str(entry["max"])
        try:
            node = Num(float(entry["max"])) if isinstance(entry["max"], (int, float)) else parse(text)
        except FormulaError as exc:
            bad(where, f"上限公式“{text}”有误：{exc.detail}")
            continue
        unknown = sorted(names(node) - allowed)
        if unknown:
            bad(where, f"上限公式“{text}”用到了 {'、'.join(unknown)}：只能用村名册中的年度任务和 population（户籍人口）")
            continue
        limits.append(Limit(entry["field"], node, text, str(entry.get("why") or "")))
    outliers = None
    if raw.get("outliers"):
        o = raw["outliers"]
        fields = tuple(o.get("fields") or sorted(numeric, key=[f.id for f in p.fields].index))
        for f in fields:
            if f not in numeric:
                bad("plausibility.outliers.fields", f"“{f}”不是月报中的数值字段")
        zero = o.get("zero_after") or {}
        given = dict(zero.get("given") or {})
        for where, listed in (("zero_after.fields", zero.get("fields") or []), ("falls", o.get("falls") or []),
                              ("margins", list(o.get("margins") or {})), ("zero_after.given", [*given, *given.values()])):
            for f in listed:
                if f not in numeric:
                    bad(f"plausibility.outliers.{where}", f"“{f}”不是月报中的数值字段")
        outliers = Outliers(fields, float(o.get("factor", 3)), float(o.get("margin", 10)), int(o.get("months", 12)),
                            int(o.get("min_peers", 3)),
                            zero_fields=tuple(dict.fromkeys([*(zero.get("fields") or ()), *given])),  # a given numerator is watched too
                            zero_min=float(zero.get("min", 3)), zero_months=int(zero.get("months", ZERO_HISTORY)),
                            zero_given=tuple(given.items()),
                            margins=tuple((k, float(v)) for k, v in (o.get("margins") or {}).items()),
                            falls=tuple(o.get("falls") or ()), falls_months=int(o.get("falls_months", ZERO_HISTORY)),
                            min_months=int(o.get("min_months", 1)),
                            within_year=p.year_start_month if o.get("within_year") else 0)
    if problems:
        raise HuizongError(problems)
    return Plausibility(tuple(limits), outliers)


def _labels(p: Programme) -> dict[str, str]:
    return {t.id: t.label for t in p.tasks} | {"population": "户籍人口"}


def limit_problems(values: Mapping[str, Any], cells: Mapping[str, str], p: Programme, village: Village | None,
                   file: str = "", sheet: str = "", skip: frozenset[str] | set[str] = frozenset()) -> list[Problem]:
    """Values above their hard limit (an error each, naming cell, value and limit)."""
    checks = plausibility(p)
    if not checks.limits or village is None:
        return []
    env = {t.id: float(village.tasks.get(t.id, 0.0)) for t in p.tasks} | {"population": float(village.population)}
    labels = _labels(p)
    specs = {f.id: f for f in p.fields}
    out = []
    for lim in checks.limits:
        value = values.get(lim.field)
        if lim.field in skip or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        ceiling = float(evaluate(lim.node, env))
        if ceiling <= 0 or value <= ceiling + 1e-9:
            continue
        words = with_values(lim.node, labels) if names(lim.node) else ""
        numbers = with_values(lim.node, {n: _n(env[n]) for n in names(lim.node)})
        detail = f"{_n(ceiling)}" + (f"（{words}：{numbers}）" if words and numbers != _n(ceiling) else (f"（{words}）" if words else ""))
        if lim.why:
            detail += f"；{lim.why}"
        out.append(Problem(LIMIT, file=file, sheet=sheet, cell=cells.get(lim.field, ""), field=lim.field,
                           label=specs[lim.field].label, value=value, detail=detail))
    return out


def outlier_problems(values: Mapping[str, Any], cells: Mapping[str, str], p: Programme,
                     history: Sequence[Mapping[str, Any]], peers: Sequence[Mapping[str, Any]],
                     file: str = "", sheet: str = "",
                     peer_median: Callable[[str], tuple[int, float]] | None = None) -> list[Problem]:
    """Values far above the village's own previous months (or, with none, the township's median).

    ``history``: the village's accepted values of the previous months (any order);
    ``peers``: the other villages' accepted values of the same month — or ``peer_median``, which gives
    for a field how many of them have a number and their median (kept sorted by a collection).
    """
    rule = plausibility(p).outliers
    if rule is None:
        return []
    specs = {f.id: f for f in p.fields}
    out = []
    given = dict(rule.zero_given)
    for fid in rule.zero_fields:  # a denominator typed 0 scores the full rate (7 pregnancies → 0: 通报表扬)
        if fid in given and not (as_number(values.get(given[fid])) or 0) > 0:
            continue  # a numerator is 0 rightly when nothing was due (its denominator 0)
        # a numerator's months count where something was due: a month with none due says nothing of its steadiness
        due = [h for h in history if (as_number(h.get(given[fid])) or 0) > 0] if fid in given else history
        past = [x for x in (as_number(h.get(fid)) for h in due) if x is not None]
        if as_number(values.get(fid)) == 0 and len(past) >= rule.zero_months and min(past) >= rule.zero_min:
            out.append(Problem(OUTLIER, file=file, sheet=sheet, cell=cells.get(fid, ""), field=fid, label=specs[fid].label,
                               value=0, detail=f"此前 {len(past)} 个月每月至少 {_n(min(past))}，本月为 0"))
    def township(fid: str) -> tuple[int, float]:
        """How many other villages reported a number for the month, and their median."""
        if peer_median is not None:
            return peer_median(fid)
        others = [x for x in (as_number(h.get(fid)) for h in peers) if x is not None]
        return len(others), (statistics.median(others) if others else 0.0)

    def few(past: list[float]) -> str:
        return f"本村此前只有 {len(past)} 个月的报表" if past else "本村此前没有报表"

    for fid in rule.falls:  # a denominator with a digit dropped (3471 → 347) lowers the rate the village is ranked on
        value = as_number(values.get(fid))
        past = [x for x in (as_number(h.get(fid)) for h in history) if x is not None]
        if value is None or fid in rule.zero_fields and value == 0:
            continue
        if len(past) < rule.min_months and fid in rule.fields:  # too few of its own: below the township's month, as above it
            count, median = township(fid)
            if count >= rule.min_peers and value * rule.factor < median and value < median - rule.margin_of(fid):
                out.append(Problem(OUTLIER, file=file, sheet=sheet, cell=cells.get(fid, ""), field=fid, label=specs[fid].label,
                                   value=value, detail=f"{few(past)}，全镇本月中位数为 {_n(median)}"))
            continue
        if len(past) < rule.falls_months:
            continue
        low = min(past)
        if value * rule.factor < low and value < low - rule.margin_of(fid):
            out.append(Problem(OUTLIER, file=file, sheet=sheet, cell=cells.get(fid, ""), field=fid, label=specs[fid].label,
                               value=value, detail=f"此前 {len(past)} 个月最少 {_n(low)}"))
    for fid in rule.fields:
        value = as_number(values.get(fid))
        if value is None:
            continue
        past = [x for x in (as_number(h.get(fid)) for h in history) if x is not None]
        margin = rule.margin_of(fid)
        if len(past) >= rule.min_months:
            top = max(past)
            if value > rule.factor * top and value > top + margin:
                detail = f"此前 {len(past)} 个月最多 {_n(top)}"
            else:
                continue
        else:
            count, median = township(fid)
            if count < rule.min_peers:
                continue
            if value > rule.factor * median and value > median + margin:
                detail = f"{few(past)}，全镇本月中位数为 {_n(median)}"
            else:
                continue
        out.append(Problem(OUTLIER, file=file, sheet=sheet, cell=cells.get(fid, ""), field=fid, label=specs[fid].label,
                           value=value, detail=detail))
    return out


def as_number(v: Any) -> float | None:
    """A cell value as a number to compare, or None (text, booleans, empty)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _n(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.2f}".rstrip("0").rstrip(".")


RECEIPT_MARGIN = 3.0  # how far apart two months must be for the receipt to ask (a field's own margin, if it has one)


def changed_much(value: Any, before: Any, margin: float = RECEIPT_MARGIN) -> bool:
    """A value the village should look at again beside its previous month's: to 0 from something, from 0 to
    ``margin`` or more, or three times larger or smaller (and ``margin`` apart). Not a warning — the reply says
    "请核对" beside it: a 5 typed 0 in a numerator, a 1 typed 10 in 虫果数, moves ranks and money, and only the
    village knows. (An amount paid by the quarter has its own margin: 0 → 3600 is no question.)"""
    v, b = as_number(value), as_number(before)
    if v is None or b is None or v == b or abs(v - b) < margin:
        return False
    return b == 0 or v == 0 or max(v, b) >= 3 * min(v, b)


def receipt_margin(p: Programme, field: str) -> float | None:
    """The difference the receipt asks about for ``field``: the field's own outlier margin where it declares one;
    None for a field the programme does not check (捡拾落地果: seasonal, and no score rests on it)."""
    rule = plausibility(p).outliers
    if rule is None:
        return RECEIPT_MARGIN
    return dict(rule.margins).get(field, RECEIPT_MARGIN) if field in rule.fields else None
