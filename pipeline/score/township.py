"""Township totals (乡镇合计) that mean something: flows add up over months and villages, stocks
take each village's latest month (summed over villages), rates are recomputed from summed parts
and never added up. 宣传标语条数 of 19 villages is about 190, never 10 months × 190."""

from __future__ import annotations

import numpy as np

from ..programme.periods import Month
from .consolidate import Consolidated, monthly_fields


def field_total(d: Consolidated, fid: str, months: list[Month]) -> float:
    """The township's value of a report field (or derived count) over ``months``; NaN for a rate."""
    spec = next((f for f in monthly_fields(d.programme) if f.id == fid), None)
    if spec is None or spec.type == "percent" or not months:
        return float("nan")
    stack = np.vstack([d.monthly[m][fid] for m in months])
    if spec.aggregate == "average":  # each village's monthly average, added up over the villages
        counted = (~np.isnan(stack)).sum(axis=0)
        return float(np.sum(np.where(counted > 0, np.nansum(stack, axis=0) / np.maximum(counted, 1), 0.0)))
    if spec.stock:
        latest = np.full(stack.shape[1], np.nan)
        for values in stack:  # later months overwrite: each village's latest reported value
            latest = np.where(np.isnan(values), latest, values)
        return float(np.nansum(latest))
    return float(np.nansum(stack))


def part_total(d: Consolidated, key: str, months: list[Month]) -> float:
    """A numerator or denominator of a township rate: a field, or ``t:task`` (the villages' targets so far)."""
    if key.startswith("t:"):
        return float(d.targets[key].sum()) if key in d.targets else float("nan")
    return field_total(d, key, months)
