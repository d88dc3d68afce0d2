"""Facts about the data behind a summary that the leaders must see next to the scores: reports
with out-of-line numbers (outlier warnings) and whether the township has checked them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .ledger.db import Ledger
from .programme.periods import Month
from .validate.plausibility import OUTLIER


@dataclass(frozen=True)
class Flagged:
    """One out-of-line number of a report that counts for the summary."""

    submission_id: int
    village_code: str
    village_name: str
    period: Month
    label: str
    value: object
    detail: str
    cell: str
    confirmed: bool

    @property
    def value_text(self) -> str:
        v = self.value
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

    @property
    def short(self) -> str:
        return f"{self.period.month}月“{self.label}”{self.value_text}"


def flagged_numbers(ledger: Ledger, programme: str, months: list[Month]) -> list[Flagged]:
    """The outlier warnings of the current accepted version of every village and month in ``months``."""
    out = []
    for row in ledger.flagged(programme, [str(m) for m in months], OUTLIER):
        for p in json.loads(row["problems_json"]):
            if p["code"] == OUTLIER:
                out.append(Flagged(row["id"], row["village_code"], row["village_name"] or "", Month.parse(row["period"]),
                                   p.get("label") or p.get("field") or "", p.get("value"), p.get("detail") or "", p.get("cell") or "",
                                   bool(row["confirmed"])))
    return out


def unconfirmed_by_village(flags: list[Flagged]) -> dict[str, list[Flagged]]:
    out: dict[str, list[Flagged]] = {}
    for f in flags:
        if not f.confirmed:
            out.setdefault(f.village_code, []).append(f)
    return out
