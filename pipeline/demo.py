"""The built-in demonstration: a whole month of the example township, end to end.

Builds a workspace, hands out templates, fills them as villages would (varied, plausible data,
with the usual mistakes: a Chinese numeral, a register that does not match its total, a blank
template, a file sent twice, a correction, a village that never reports), drops them into the
inbox and runs the same ``collect`` a township clerk runs.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import api
from .example import example_report
from .intake.folder import CollectSummary
from .problems import HuizongError, Problem
from .programme.periods import Month
from .status import VillageStatus
from .workbook.fill import fill_template
from .workbook.template import TemplateIdentity, build_template
from .workspace import SETTINGS

DEMO_PERIOD = Month(2026, 10)
NEVER_REPORTS = 5  # index in the registry of the village that never reports
LATE = 7  # index of the village whose report arrives after the deadline


@dataclass
class DemoResult:
    workspace: Path
    period: Month
    collected: CollectSummary
    statuses: list[VillageStatus]


def run_demo(out: Path, period: Month | None = None, progress: api.Progress | None = None) -> DemoResult:
    period = period or DEMO_PERIOD
    _clear(out)
    api.init_workspace(out)
    ctx = api.load_context(out)
    p = ctx.programme
    templates = {t.name: t for t in api.make_templates(ctx, period)}
    cols = [c.id for c in p.register.columns] if p.register else []
    inbox = ctx.workspace.inbox
    for i, v in enumerate(ctx.registry.villages):
        if i == NEVER_REPORTS:
            continue
        template = templates[f"{p.form_no}_{v.name}_{period.chinese}.xlsx"].read_bytes()
        values, register = example_report(v, period)
        name = f"{v.name}{period.month}月报表.xlsx"
        if i == 1:  # a Chinese numeral and a register that does not match: sent back
            bad = dict(values, births_total="十二", deaths_total=values["deaths_total"] + 1, deaths_reported_timely="约3")
            (inbox / f"{v.name}{period.month}月报表（初稿）.xlsx").write_bytes(fill_template(template, bad, register, register_columns=cols))
        if i == 2:  # first a wrong figure, then the corrected file: two accepted versions
            first = dict(values, special_family_visits=values["special_family_visits"] + 3)
            (inbox / f"{v.name}{period.month}月报表.xlsx").write_bytes(fill_template(template, first, register, register_columns=cols))
            name = f"{v.name}{period.month}月报表（更正）.xlsx"
        if i == 3:  # filled in the blank template: the township must confirm who sent it
            blank = build_template(TemplateIdentity(p, ctx.workspace.organ, period=period))
            data = fill_template(blank, dict(values, village_name=v.name, report_period=period.chinese), register, register_columns=cols)
            (inbox / f"{v.name}{period.month}月报表.xlsx").write_bytes(data)
            continue
        data = fill_template(template, values, register, register_columns=cols)
        (inbox / name).write_bytes(data)
        if i == 4:  # the same file sent twice
            (inbox / f"{v.name}{period.month}月报表（再发一次）.xlsx").write_bytes(data)
    _stamp_arrivals(inbox, period, late=ctx.registry.villages[LATE].name)
    collected = api.collect(ctx, progress=progress)
    return DemoResult(ctx.workspace.root, period, collected, api.status(ctx, period))


def _clear(out: Path) -> None:
    """Start the demo afresh — but only ever delete a folder that is a huizong workspace."""
    if not out.exists():
        return
    if (out / SETTINGS).is_file():
        shutil.rmtree(out)
    elif any(out.iterdir()):
        raise HuizongError(Problem("X007", detail=str(out)))


def _stamp_arrivals(inbox: Path, period: Month, late: str) -> None:
    """Give the dropped files realistic arrival times: the first days after the month, in order."""
    due = period.shift(1)
    start = datetime(due.year, due.month, 1, 8, 30).timestamp()
    for i, path in enumerate(sorted(inbox.iterdir(), key=lambda p: ("初稿" not in p.name, "更正" in p.name, "再发" in p.name, p.name))):
        when = start + (i // 6) * 86400 + (i % 6) * 5400 + 420 * (i % 7)  # office hours, a few days
        if path.name.startswith(late):
            when = datetime(due.year, due.month, 8, 16, 20).timestamp()
        os.utime(path, (when, when))
