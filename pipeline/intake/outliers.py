"""At intake, a report's numbers are compared with the village's own previous months (or, with
none, the township's other reports of the month): a value far out of line is a warning that goes
into the ledger and the reply, and marks the village in the 通报 until the township confirms it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..check import FileCheck
from ..ledger.db import REJECTED, Ledger
from ..validate.plausibility import outlier_problems, plausibility

if TYPE_CHECKING:
    from ..api import Context


def add_outlier_warnings(ctx: Context, ledger: Ledger, check: FileCheck) -> None:
    """Append the outlier warnings of a report that will be recorded (the ledger as it stands, this batch included)."""
    rule = plausibility(ctx.programme).outliers
    village, period = check.identity.village, check.identity.period
    if rule is None or village is None or period is None or check.status == REJECTED:
        return
    before = [str(period.shift(-i)) for i in range(1, rule.months + 1)]
    history = [fields for _, _, fields in ledger.accepted_fields(ctx.programme.id, before, village.code)]
    peers = [] if history else [f for code, _, f in ledger.accepted_fields(ctx.programme.id, [str(period)]) if code != village.code]
    found = outlier_problems(check.read.values, check.read.cells, ctx.programme, history, peers, check.file, check.read.sheet)
    if found:
        check.problems.extend(found)
