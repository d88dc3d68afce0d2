"""The scored table as plain data (``huizong consolidate --json``): enough to recompute every score."""

from __future__ import annotations

from typing import Any

from .scorer import Scored


def scored_table(scored: Scored, statuses: list[Any]) -> dict[str, Any]:
    plan = scored.plan
    p = plan.programme
    items = []
    for item in plan.items:
        items.append({
            "code": item.code, "name": item.name, "category": item.category, "max": item.max,
            "base": item.base_text, "bonus": item.bonus_text or None, "let": {n: t for n, _, t in item.lets},
            "target": item.target, "per_period": item.per_period, "period_max": item.period_max or None,
        })
    villages = []
    for k in scored.order():
        v = scored.data.villages[scored.index[k]]
        inputs = {}
        for name, scope in plan.inputs:
            key = name if scope is None else f"{name}@{scope}"
            inputs[key] = float(scored.env[key][k])
        values = {c.key: float(scored.env[c.key][k]) for c in plan.computations}
        per_item = {}
        for item in plan.items:
            entry: dict[str, Any] = {"base": values[f"{item.code}:base"], "bonus": values.get(f"{item.code}:bonus", 0.0)}
            lets = {n: values[f"{item.code}:{n}"] for n, _, _ in item.lets if f"{item.code}:{n}" in values}
            if lets:
                entry["let"] = lets
            if item.per_period:
                entry["periods"] = {
                    p.assessment_periods[ps.index].name: {
                        "base": values[f"{item.code}@{ps.index}:base"],
                        "bonus": values.get(f"{item.code}@{ps.index}:bonus", 0.0),
                        **{n: values[f"{item.code}@{ps.index}:{n}"] for n, _, _ in item.lets},
                    }
                    for ps in scored.data.periods
                }
            per_item[item.code] = entry
        prev = int(scored.previous_rank[k])
        villages.append({
            "code": v.code, "name": v.name, "rank": int(scored.rank[k]), "previous_rank": prev or None,
            "rank_change": (prev - int(scored.rank[k])) if prev else None,
            "total": float(scored.total[k]), "base_total": float(scored.base_total[k]), "bonus_total": float(scored.bonus_total[k]),
            "register_bonus": float(scored.adj_bonus[k]), "register_deduction": float(scored.adj_deduction[k]),
            "rank_bonus": float(scored.rank_bonus[k]), "rank_bonus_detail": scored.rank_bonus_detail[k],
            "categories": {c: float(scored.category_scores[c][k]) for c in plan.categories},
            "inputs": inputs, "items": per_item,
            "adjustments": [
                {"date": a.day.isoformat(), "item": a.label, "points": a.points, "count": a.count, "note": a.note}
                for a in scored.data.adjustments.get(v.code, [])
            ],
        })
    not_scored = [{"code": s.code, "name": s.name, "state": s.state} for s in statuses if s.state != "已报"]
    not_scored += [{"code": v.code, "name": v.name, "state": "一票否决", "flags": flags} for v, flags in scored.vetoed]
    not_scored += [{"code": v.code, "name": v.name, "state": "不参与排名", "flags": flags} for v, flags in scored.unranked]
    return {
        "ok": True,
        "programme": {"id": p.id, "name": p.name, "version": p.version, "items": items},
        "period": str(scored.data.period),
        "months": [str(m) for m in scored.data.months],
        "assessment_periods": [{"name": ps.name, "months": [str(m) for m in ps.months], "ended": ps.ended} for ps in scored.data.periods],
        "attainable_max": scored.attainable,
        "bonus_max": scored.bonus_attainable,
        "villages": villages,
        "not_scored": not_scored,
    }
