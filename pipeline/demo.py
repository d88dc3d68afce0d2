"""The built-in demonstration: the example township's year so far, end to end.

Builds a workspace, hands out templates month by month, fills them as villages would (varied,
plausible data), drops them into the inbox and runs the same ``collect`` a township clerk runs
each month. The last month has the usual troubles: a Chinese numeral and a register that does
not match (sent back), a blank template (待确认), a file sent twice, a correction, a late village
and one that never reports; one village also skipped a month earlier in the year. The township's
own registers are filled, and the period is consolidated into the ranked summary workbook.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from . import api
from .example import example_values
from .intake.folder import CollectSummary
from .problems import HuizongError, Problem
from .programme.calendar import periods_so_far, year_months
from .programme.formula import evaluate
from .programme.periods import Month
from .status import VillageStatus
from .validate.plausibility import plausibility
from .workbook.fill import fill_template
from .workbook.registers import build_table_workbook
from .workbook.template import TemplateIdentity, build_template
from .workspace import SETTINGS, STATE_DIR, atomic_write

DEMO_PERIOD = Month(2026, 10)
NEVER_REPORTS = 5  # index in the registry of the village that never reports
LATE = 7  # index of the village whose last report arrives after the deadline
SKIPS_MARCH = 16  # index of the village that did not report for March
TYPO = 9  # index of the village whose first file of the last month has a mistyped figure (sent back)
OUTLIER = 10  # index of the village whose last month has an unusually large (true) figure (※)


@dataclass
class DemoResult:
    workspace: Path
    period: Month
    collected: CollectSummary
    statuses: list[VillageStatus]
    consolidation: api.Consolidation | None


def run_demo(out: Path, period: Month | None = None, progress: api.Progress | None = None, programme: str = "qianfen") -> DemoResult:
    period = period or DEMO_PERIOD
    _clear(out)
    api.init_workspace(out, programme=programme, example=True)
    (out / DEMO_MARK).write_text("这是 huizong demo 生成的演示目录；再次运行 demo 时会整个删除重建。\n", encoding="utf-8")
    ctx = api.load_context(out)
    months = year_months(ctx.programme, period)
    total = len(months)
    collected = CollectSummary()
    for n, month in enumerate(months):
        if progress:
            progress(n, total, f"{month.chinese}")
        _drop_month(ctx, month, last=month == period)
        collected = api.collect(ctx)
    _fill_registers(ctx, period)
    if progress:
        progress(total, total, "汇总排名")
    consolidation = api.consolidate(ctx, period, now=_notice_time(period))
    return DemoResult(ctx.workspace.root, period, collected, api.status(ctx, period), consolidation)


def _typo(p: Any, village: Any, values: dict[str, Any]) -> dict[str, Any] | None:
    """A value of the first plausibility limit with an extra digit or two: above the limit, as 1,210 for 121."""
    checks = plausibility(p)
    if not checks.limits:
        return None
    lim = checks.limits[0]
    env = {t.id: float(village.tasks.get(t.id, 0.0)) for t in p.tasks} | {"population": float(village.population)}
    ceiling = float(evaluate(lim.node, env))
    value = int(values[lim.field])
    typed = value * 101 if value * 101 > ceiling else int(ceiling) * 10 + 1
    return {lim.field: typed} if ceiling > 0 else None


def _notice_time(period: Month) -> datetime:
    due = period.shift(1)
    return datetime(due.year, due.month, 9, 10, 0)


def _drop_month(ctx: api.Context, month: Month, last: bool) -> None:
    p = ctx.programme
    templates = api.village_templates(ctx, month)  # village code → path
    cols = [c.id for c in p.register.columns] if p.register else []
    inbox = ctx.workspace.inbox
    first_int = next(f.id for f in p.fields if f.type == "integer")
    lte = next((r for r in p.rules if r.type == "lte"), None)
    for i, v in enumerate(ctx.registry.villages):
        if i == NEVER_REPORTS or (i == SKIPS_MARCH and month.month == 3):
            continue
        template = templates[v.code].read_bytes()
        values, register = example_values(p, v, month)

        def fill(vals: dict[str, Any], tpl: bytes = template, register: list[dict[str, Any]] = register) -> bytes:
            return fill_template(tpl, vals, register, register_columns=cols)

        name = f"{v.name}{month.month}月报表.xlsx"
        if last and i == 1:  # a Chinese numeral and a broken rule: sent back, then corrected
            bad = dict(values, **{first_int: "十二"})
            if lte is not None:
                bad[lte.other] = values[lte.other]
                bad[lte.field] = f"约{values[lte.other] + 3}"
            (inbox / f"{v.name}{month.month}月报表（初稿）.xlsx").write_bytes(fill(bad))
        if last and i == 2:  # first a wrong figure, then the corrected file: two accepted versions
            changed = next(f.id for f in reversed(p.fields) if f.type == "integer" and not any(r.field == f.id for r in p.rules))
            (inbox / f"{v.name}{month.month}月报表.xlsx").write_bytes(fill(dict(values, **{changed: values[changed] + 3})))
            name = f"{v.name}{month.month}月报表（更正）.xlsx"
        typo = _typo(p, v, values) if last and i == TYPO else None
        if typo is not None:  # an extra digit typed: above the plausibility limit, sent back with 请核实, then corrected
            (inbox / f"{v.name}{month.month}月报表（初稿）.xlsx").write_bytes(fill(dict(values, **typo)))
        if last and i == OUTLIER:  # a real but unusual month (a mass check-up campaign): scores, marked ※ until confirmed
            rule = plausibility(p).outliers
            bounded = {r.field for r in p.rules}  # raising one of these would break a rule (a ≤ b) and be sent back
            f = next((x for x in reversed(rule.fields) if x not in bounded and values.get(x)
                      and rule.margin_of(x) == rule.margin), None) if rule is not None else None
            if f is not None:
                values = dict(values, **{f: values[f] * 5 + 11})
        if last and i == 3:  # filled in the blank template: the township must confirm who sent it
            blank = build_template(TemplateIdentity(p, ctx.workspace.organ, period=month))
            (inbox / name).write_bytes(fill(dict(values, village_name=v.name, report_period=month.chinese), blank))
            continue
        data = fill(values)
        (inbox / name).write_bytes(data)
        if last and i == 4:  # the same file sent twice
            (inbox / f"{v.name}{month.month}月报表（再发一次）.xlsx").write_bytes(data)
    _stamp_arrivals(inbox, month, late=ctx.registry.villages[LATE].name if last else None)


def _fill_registers(ctx: api.Context, period: Month) -> None:
    """The township's own findings: a 镇考核登记 row per village and 考核季 (or month), a few 加分扣分."""
    p = ctx.programme
    raw = p.raw.get("assessment_register")
    if raw:
        rows = _register_rows(ctx, period)
        cols = api.register_columns(p, "assessment_register")
        note = "说明：镇里对每村每考核季（或每月）登记一行；数值为该时段发现的次数/例数。"
        atomic_write(ctx.workspace.root / raw["file"], build_table_workbook(raw["sheet"], raw["sheet"], cols, rows, note, ctx.workspace.organ, 100))
    raw = p.raw.get("adjustments")
    if raw:
        villages = ctx.registry.villages
        labels = {i["label"] for i in raw["items"]}
        items = [
            (0, date(period.year, 3, 18), "乡党委政府通报表扬", 1, "春季宣传月活动组织得力"),
            (2, date(period.year, 5, 9), "迎接本市检查达标", 1, "市卫健委专项检查"),
            (6, date(period.year, 6, 21), "宣传稿件被市级以上媒体采用", 2, "市报刊登两篇"),
            (10, date(period.year, 7, 3), "乡党委政府通报批评", 1, "例会材料迟交"),
            (13, date(period.year, 8, 27), "市级表彰", 1, "市计生协先进集体"),
            (15, date(period.year, 9, 15), "本市检查不达标", 1, "档案不全"),
            (11, date(period.year, period.month, 12), "“两非”案件线索查实", 1, "举报线索经查属实"),
        ]
        adj_rows = [{"village_code": villages[i].code, "village_name": villages[i].name, "date": day, "item": item, "count": count, "note": note}
                    for i, day, item, count, note in items if i < len(villages) and item in labels and day <= period.last_day]
        cols = api.register_columns(p, "adjustments")
        note = "说明：每发生一次加分或扣分事项登记一行：村、日期、项目（下拉选择）、次数、备注。"
        atomic_write(ctx.workspace.root / raw["file"], build_table_workbook(raw["sheet"], raw["sheet"], cols, adj_rows, note, ctx.workspace.organ, 200))


def _register_rows(ctx: api.Context, period: Month) -> list[dict[str, Any]]:
    p = ctx.programme
    raw = p.raw["assessment_register"]
    rng = random.Random(f"registers-{p.id}-{period}")
    monthly = raw.get("granularity") == "month"
    slots = [(str(m), k) for k, m in enumerate(year_months(p, period))] if monthly else [(ps.name, ps.index) for ps in periods_so_far(p, period)]
    rows: list[dict[str, Any]] = []
    for slot, q in slots:
        for i, v in enumerate(ctx.registry.villages):
            row: dict[str, Any] = {"village_code": v.code, "village_name": v.name}
            row.update({"month": slot} if monthly else {"year": period.year, "assessment_period": slot})
            if p.id == "qianfen":
                row.update({
                    "committee_items": rng.choices((4, 3, 2), weights=(70, 25, 5))[0],
                    "meeting_absences": rng.choices((0, 1, 2), weights=(75, 20, 5))[0],
                    "info_errors": rng.choices((0, 1, 2, 3, 5), weights=(40, 25, 15, 12, 8))[0],
                    "fabricated_records": 1 if (i == 9 and q == 1) else 0,
                    "births_concealed": 1 if (i == 12 and q == 2) else 0,  # the C2.1 veto
                    "births_missed": rng.choices((0, 1), weights=(85, 15))[0],
                    "births_false": 0,
                    "births_misreported": rng.choices((0, 1), weights=(90, 10))[0],
                    "key_clients_unmanaged": rng.choices((0, 1), weights=(90, 10))[0],
                    "deaths_concealed": 0,
                    "misuse_cases": 1 if (i == 14 and q == 0) else 0,
                    "support_plan_done": rng.choices((1, 0), weights=(85, 15))[0],
                    "association_score": float(rng.choice((20, 18, 16, 15, 12))),
                })
            else:  # counts: one finding per field in the year, each at another village and time
                for j, f in enumerate(raw["fields"]):
                    hi = f.get("max", 1)
                    hit = i == (7 * j + 3) % len(ctx.registry.villages) and q == (j + 1) % len(slots)
                    row[f["id"]] = int(hit) if f["type"] == "integer" else round(rng.uniform(hi * 0.6, hi), 1)
            rows.append(row)
    return rows


DEMO_MARK = Path(STATE_DIR) / "demo.txt"  # written into every demo workspace: only such a folder is ever deleted


def _clear(out: Path) -> None:
    """Start the demo afresh — but only ever delete a folder the demo made: a township's real workspace
    (its archive of originals, its ledger) given as --out by mistake was deleted without a backup."""
    if not out.exists():
        return
    if not out.is_dir():  # a file of that name: nothing to clear, nowhere to build
        raise HuizongError(Problem("X007", detail=str(out)))
    if (out / SETTINGS).is_file() and (out / DEMO_MARK).is_file():
        shutil.rmtree(out)
    elif any(out.iterdir()):
        raise HuizongError(Problem("X007", detail=str(out)))


def _stamp_arrivals(inbox: Path, period: Month, late: str | None) -> None:
    """Give the dropped files realistic arrival times: office hours of the first days after the month."""
    due = period.shift(1)
    start = datetime(due.year, due.month, 1, 8, 30).timestamp()
    files = [p for p in inbox.iterdir() if p.is_file()]
    for i, path in enumerate(sorted(files, key=lambda p: ("初稿" not in p.name, "更正" in p.name, "再发" in p.name, p.name))):
        when = start + (i // 6) * 86400 + (i % 6) * 5400 + 420 * (i % 7)
        if late and path.name.startswith(late):
            when = datetime(due.year, due.month, 8, 16, 20).timestamp()
        os.utime(path, (when, when))
