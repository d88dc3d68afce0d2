"""Build (once per N and code version) the workspace every contender starts from.

A workspace made with ``api.init_workspace`` whose 村名册 is replaced by N generated villages, the
township's registers filled (as the demo fills them), a ledger holding nine months (2026-01..09)
of accepted reports, and N filled reports for 2026-10 in ``inbox/`` — about 1 % of them invalid.

* 2026-10 files: ``api.make_templates`` + ``fill_template`` + ``example_report`` (with a ~30-row
  birth register), exactly as a village's clerk would send them.
* History: each village-month is filled into that month's template (``fast_fill``), checked with
  ``check_bytes`` and recorded with ``Ledger.record`` — the ledger rows are what ``collect`` would
  have written, minus the archive copies of those 9·N old files (nothing in a monthly run reads them).

Everything lands in ``<cache>/n<N>-<key>/``. The key hashes what shapes the inputs — the programmes,
the modules that build workspaces, registries, templates and registers, and this generator — so
that a change elsewhere (the reader's speed, the summary) does not throw away an hour of preparation
at N = 20,000. What the checks make of the files is verified instead each time the cache is used:
sample reports are checked again with the current code and must give the very records and outcomes
the ledger and the inbox were prepared with (``verify``); if not, the inputs are built again.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing as mp
import os
import random
import shutil
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from common import HERE, HISTORY_MONTHS, PERIOD, PROGRAMME, ROOT, log
from fastfill import fast_fill

from pipeline import api
from pipeline.check import check_bytes, redacted_problems, stored_record
from pipeline.demo import _fill_registers
from pipeline.example import _TASK_RATES, example_id_number, example_report
from pipeline.ledger.archive import sha256
from pipeline.ledger.db import ACCEPTED, Arrival, Ledger, Outcome
from pipeline.programme.periods import Month
from pipeline.registry import Registry, Village, registry_columns
from pipeline.workbook.fill import fill_template
from pipeline.workbook.layout import META_KEYS, REGISTER_FIRST_COL
from pipeline.workbook.registers import build_table_workbook
from pipeline.workbook.xlsx_parts import read_ooxml_info
from pipeline.workspace import atomic_write

GENERATOR_VERSION = "1"
_FIRST = "青白龙桃大王新张李三双金长花柳枣梅石东西南北上下前后高杨刘陈黄赵周吴徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范廖贾夏韦付方邹孟熊秦邱江尹薛"
_SECOND = "岗河湾圩合墩桥岭塘林庄店集坝冲洼埠口畈寨堡营屯铺楼门沟溪港湖滩洲坡坪岸渡井庙塔台寺泉园"
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏"
_GIVEN = "子涵欣怡梓晨曦一诺宇轩浩然思远雨桐可馨若俊杰博文佳嘉懿梦琪雅静婉清明志强建国秀英丽娟桂兰海燕"
INVALID_EVERY = 100  # about 1 % of the 2026-10 files are invalid


# the pipeline's modules that decide the generated files (not what checking makes of them: see verify)
SHAPING = ("demo.py", "example.py", "registry.py", "workspace.py", "resources.py", "programme",
           "validate/registry.py", "validate/registers.py", "workbook/template.py", "workbook/design.py", "workbook/layout.py",
           "workbook/fill.py", "workbook/registers.py")


def cache_key() -> str:
    """Hash of what shapes the generated inputs: the programmes, the shaping modules, this generator."""
    h = hashlib.sha256(GENERATOR_VERSION.encode())
    sources: list[Path] = []
    for name in SHAPING:
        path = ROOT / "pipeline" / name
        sources += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    files = [(p, str(p.relative_to(ROOT))) for p in sources + sorted((ROOT / "templates").rglob("*")) if p.is_file()]
    files += [(HERE / name, f"benchmarks/{name}") for name in ("prepare.py", "fastfill.py")]
    for path, name in files:
        h.update(name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def prepared_dir(cache: Path, n: int) -> Path:
    return cache / f"n{n}-{cache_key()}"


# ---- generated township ------------------------------------------------------------------------

def village_rows(n: int, task_ids: list[str]) -> list[dict[str, Any]]:
    """N villages with unique codes, names and aliases, populations and annual tasks as in pipeline.example."""
    first = "".join(dict.fromkeys(_FIRST))
    second = "".join(dict.fromkeys(_SECOND))
    a, b = len(first), len(second)
    rng = random.Random(f"villages-{n}")
    rows = []
    for i in range(n):
        base = first[i % a] + second[(i // a) % b] + (first[(i // (a * b)) % a] if i >= a * b else "")
        code = f"340121{100 + i // 900:03d}{100 + i % 900:03d}"
        pop = rng.randint(2000, 4000)
        domain = ("163.com", "qq.com", "126.com")[i % 3]
        row: dict[str, Any] = {"code": code, "name": f"{base}村", "aliases": base, "emails": f"c{code[-6:]}_jsb@{domain}", "population": pop}
        row.update({t: float(round(pop * _TASK_RATES.get(t, 0.01))) for t in task_ids})
        rows.append(row)
    return rows


def _person(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def report_for(v: Village, month: Month, variant: str = "") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``example_report``'s figures with a 28–32-row birth register that matches them.

    ``variant``: "numeral" (十二 in a number cell) or "mismatch" (出生数 ≠ register rows) — sent back.
    """
    values, _ = example_report(v, month)
    rng = random.Random(f"bench-{v.code}-{month}")
    register = []
    for _ in range(28 + rng.randint(0, 4)):
        register.append({
            "baby_name": _person(rng),
            "sex": rng.choices(("男", "女"), weights=(52, 48))[0],
            "birth_date": date(month.year, month.month, rng.randint(1, month.last_day.day)),
            "birth_order": rng.choices((1, 2, 3), weights=(55, 38, 7))[0],
            "mother_name": _person(rng),
            "mother_id": example_id_number(rng),
            "report_status": rng.choices(("按时上报", "迟报", "未上报"), weights=(85, 12, 3))[0],
        })
    births = len(register)
    values["births_total"] = births
    values["births_reported"] = sum(1 for r in register if r["report_status"] != "未上报")
    values["births_reported_late"] = sum(1 for r in register if r["report_status"] == "迟报")
    if variant == "numeral":
        values["birth_registrations"] = "十二"
    elif variant == "mismatch":
        values["births_total"] = births + 1
    return values, register


def variant_of(i: int, n: int) -> str:
    """Which 2026-10 files are invalid: every 100th, at least two (one of each kind)."""
    count = max(2, round(n / INVALID_EVERY))
    step = max(1, n // count)
    if i % step == step // 2 and i // step < count:
        return "numeral" if (i // step) % 2 == 0 else "mismatch"
    return ""


# ---- worker processes ---------------------------------------------------------------------------

_W: dict[str, Any] = {}


def _init_worker(root: str, blanks: dict[str, bytes]) -> None:
    ctx = api.load_context(root)
    _W.update(ctx=ctx, blanks=blanks, cols=[c.id for c in ctx.programme.register.columns])


def _history_task(job: tuple[int, str]) -> dict[str, Any]:
    i, month_text = job
    ctx: api.Context = _W["ctx"]
    v = ctx.registry.villages[i]
    month = Month.parse(month_text)
    values, register = report_for(v, month)
    data = fast_fill(_W["blanks"][month_text], values, register, _W["cols"])
    check = check_bytes(data, f"{v.name}{month.month}月报表.xlsx", ctx.programme, None, None, ctx.workspace.limits)
    if check.status != ACCEPTED:
        raise RuntimeError(f"history report {v.code} {month} not accepted: {[p.code for p in check.errors]}")
    return {
        "i": i, "period": month_text, "sha": sha256(data), "size": len(data),
        "record": stored_record(check, ctx.programme), "problems": redacted_problems(check, ctx.programme),
        "warnings": len(check.warnings),
    }


def _inbox_task(chunk: list[int]) -> list[tuple[int, str, str]]:
    """Personalised templates for a slice of the villages, filled and dropped into inbox/."""
    ctx: api.Context = _W["ctx"]
    period = Month(*PERIOD)
    part = api.Context(ctx.workspace, ctx.programme, Registry(tuple(ctx.registry.villages[i] for i in chunk)), [])
    templates = api.make_templates(part, period)
    n = len(ctx.registry.villages)
    out = []
    for i, template in zip(chunk, templates):
        v = ctx.registry.villages[i]
        variant = variant_of(i, n)
        values, register = report_for(v, period, variant)
        name = f"{v.name}{period.month}月报表.xlsx"
        (ctx.workspace.inbox / name).write_bytes(fill_template(template.read_bytes(), values, register, register_columns=_W["cols"]))
        out.append((i, name, variant))
    return out


# ---- the preparation ----------------------------------------------------------------------------

def prepare(n: int, cache: Path, workers: int | None = None) -> Path:
    """The prepared inputs for N villages (built now unless cached). Returns their folder."""
    target = prepared_dir(cache, n)
    if (target / "prepared.json").is_file():
        stale = verify(target)
        if not stale:
            return target
        log(f"  cached inputs no longer match the checks ({stale}): building them again")
    cache.mkdir(parents=True, exist_ok=True)
    for stale in cache.glob(f"n{n}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    building = Path(tempfile.mkdtemp(prefix=f"n{n}-", suffix=".building", dir=cache))
    workers = workers or os.cpu_count() or 1
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    root = building / "workspace"
    ws = api.init_workspace(root, programme=PROGRAMME)
    rows = 3 * n + 1000  # the 镇考核登记: a row per village and 考核季, its heading and blank rows
    if rows > ws.limits.max_rows:  # a county or city raises limits.max_rows in its settings, as S007 tells it to
        settings_path = ws.root / "huizong.yaml"
        settings = settings_path.read_text(encoding="utf-8")
        settings_path.write_text(settings.replace(f"max_rows: {ws.limits.max_rows}", f"max_rows: {rows}"), encoding="utf-8")
        ws = api.load_context(root).workspace
    prog = api.load_context(root).programme
    columns = registry_columns(prog.tasks)
    note = "说明：每行一个村（社区）。村代码每村唯一，不要改动。（基准测试生成的村名册）"
    atomic_write(ws.registry_path, build_table_workbook("村名册", "村名册", columns, village_rows(n, [t.id for t in prog.tasks]), note, ws.organ))
    ctx = api.load_context(root)
    if len(ctx.registry.villages) != n or ctx.registry_problems:
        raise RuntimeError(f"generated registry not read back: {len(ctx.registry.villages)} villages, {ctx.registry_problems[:3]}")
    period = Month(*PERIOD)
    _fill_registers(ctx, period)
    timings["workspace"] = time.perf_counter() - t0

    months = [Month(period.year, m) for m in range(1, HISTORY_MONTHS + 1)]
    blank_dir = building / "blank"
    blanks = {str(m): api.make_templates(ctx, m, blank=True, out_dir=blank_dir / str(m))[0].read_bytes() for m in months}
    _check_fast_fill(ctx, blanks)

    t = time.perf_counter()
    jobs = [(i, str(m)) for m in months for i in range(n)]
    log(f"  history: {len(jobs)} reports on {workers} processes")
    fields = [f.id for f in prog.fields]
    with mp.get_context("fork").Pool(workers, _init_worker, (str(root), blanks)) as pool, \
            Ledger(ws.ledger_path) as ledger, open(building / "peer_history.csv", "w", newline="", encoding="utf-8") as fh:
        ledger.conn.execute("PRAGMA synchronous=OFF")  # preparation only; the timed runs use huizong's settings
        history = csv.writer(fh)
        history.writerow(["village_code", "period", *fields])
        for k, r in enumerate(pool.imap(_history_task, jobs, chunksize=64)):
            v = ctx.registry.villages[r["i"]]
            m = Month.parse(r["period"])
            name = f"{v.name}{m.month}月报表.xlsx"
            due = m.shift(1)
            arrived = datetime(due.year, due.month, 1 + r["i"] % 4, 9 + r["i"] % 8, r["i"] % 60).astimezone()
            ledger.record(
                Arrival("folder", f"folder:{name}:{r['size']}:{m}", name, r["sha"], r["size"], ".xlsx", None, arrived.isoformat(timespec="seconds")),
                Outcome(prog.id, v.code, v.name, str(m), ACCEPTED, 0, r["warnings"], r["problems"], r["record"]),
            )
            history.writerow([v.code, r["period"], *(r["record"]["fields"].get(f) for f in fields)])
            if k and k % 5000 == 0:
                log(f"    {k}/{len(jobs)}  {time.perf_counter() - t:.0f} s")
        ledger.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    timings["history"] = time.perf_counter() - t

    t = time.perf_counter()
    chunks = [list(range(s, min(n, s + 25))) for s in range(0, n, 25)]
    with mp.get_context("fork").Pool(workers, _init_worker, (str(root), blanks)) as pool:
        dropped = [item for part in pool.imap(_inbox_task, chunks) for item in part]
    _stamp_arrivals(ws.inbox, [name for _, name, _ in sorted(dropped)], period)
    timings["inbox"] = time.perf_counter() - t
    shutil.rmtree(blank_dir)

    _write_layout(building, next(ws.templates.glob(f"{period}/*.xlsx")).read_bytes(), prog)
    meta = {
        "n": n, "key": cache_key(), "created": datetime.now().isoformat(timespec="seconds"),
        "history_reports": len(jobs), "inbox_files": len(dropped),
        "invalid": {name: variant for _, name, variant in dropped if variant},
        "seconds": {k: round(v, 1) for k, v in timings.items()}, "workers": workers,
        "history_method": "fast_fill + check_bytes + Ledger.record (no archive copies)",
    }
    (building / "prepared.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    building.rename(target)
    return target


def verify(prepared: Path) -> str:
    """'' when the current checks make of sample inputs what they made when the cache was built.

    Three history reports (first, middle, last village) are filled again and checked: their stored
    record, problems and warning count must equal the ledger's row. Two files of the inbox, one of
    them invalid, must come out with the status they had.
    """
    root = prepared / "workspace"
    ctx = api.load_context(root)
    meta = json.loads((prepared / "prepared.json").read_text(encoding="utf-8"))
    villages = ctx.registry.villages
    cols = [c.id for c in ctx.programme.register.columns]
    with Ledger(ctx.workspace.ledger_path) as ledger:
        for i, month_text in ((0, "2026-01"), (len(villages) // 2, "2026-05"), (len(villages) - 1, "2026-09")):
            month = Month.parse(month_text)
            v = villages[i]
            blank = api.make_templates(ctx, month, blank=True, out_dir=Path(tempfile.mkdtemp(prefix="verify-")))[0]
            values, register = report_for(v, month)
            data = fast_fill(blank.read_bytes(), values, register, cols)
            shutil.rmtree(blank.parent, ignore_errors=True)
            check = check_bytes(data, f"{v.name}{month.month}月报表.xlsx", ctx.programme, None, None, ctx.workspace.limits)
            row = ledger.conn.execute("SELECT record_json, problems_json, n_warnings FROM submissions WHERE village_code = ? AND period = ?",
                                      (v.code, month_text)).fetchone()
            if row is None:
                return f"no ledger row for {v.code} {month_text}"
            now = (stored_record(check, ctx.programme), redacted_problems(check, ctx.programme), len(check.warnings))
            then = [json.loads(row["record_json"]), json.loads(row["problems_json"]), row["n_warnings"]]
            if json.loads(json.dumps(now, ensure_ascii=False, default=str)) != then:
                return f"history record of {v.code} {month_text}"
    # a 2026-10 report made with the current template code reads as the cached one does
    v, period = villages[0], Month(*PERIOD)
    part = api.Context(ctx.workspace, ctx.programme, Registry((v,)), [])
    out_dir = Path(tempfile.mkdtemp(prefix="verify-"))
    template = api.make_templates(part, period, out_dir=out_dir)[0].read_bytes()
    shutil.rmtree(out_dir, ignore_errors=True)
    values, register = report_for(v, period, variant_of(0, len(villages)))
    name = f"{v.name}{period.month}月报表.xlsx"
    fresh, cached = (check_bytes(data, name, ctx.programme, ctx.registry, ctx.secret, ctx.workspace.limits) for data in (
        fill_template(template, values, register, register_columns=cols), (root / "inbox" / name).read_bytes()))
    if (fresh.status, stored_record(fresh, ctx.programme), [p.code for p in fresh.problems]) != (
            cached.status, stored_record(cached, ctx.programme), [p.code for p in cached.problems]):
        return f"the 2026-10 template of {v.code}"
    inbox = sorted(ctx.workspace.inbox.iterdir())
    samples = [inbox[0]] + [root / "inbox" / name for name in list(meta["invalid"])[:1]]
    for path in samples:
        check = check_bytes(path.read_bytes(), path.name, ctx.programme, ctx.registry, ctx.secret, ctx.workspace.limits)
        wanted = "退回" if path.name in meta["invalid"] else ACCEPTED
        if check.status != wanted:
            return f"{path.name}: {check.status}, prepared as {wanted}"
    return ""


def _check_fast_fill(ctx: api.Context, blanks: dict[str, bytes]) -> None:
    """The history filler must give ``check_bytes`` exactly what ``fill_template`` gives it."""
    cols = [c.id for c in ctx.programme.register.columns]
    villages = ctx.registry.villages
    for i, month_text in ((0, "2026-01"), (len(villages) // 2, "2026-05"), (len(villages) - 1, "2026-09")):
        month = Month.parse(month_text)
        values, register = report_for(villages[i], month)
        records = []
        for data in (fast_fill(blanks[month_text], values, register, cols),
                     fill_template(blanks[month_text], values, register, register_columns=cols)):
            check = check_bytes(data, "x.xlsx", ctx.programme, None, None, ctx.workspace.limits)
            records.append((check.status, stored_record(check, ctx.programme), [p.code for p in check.problems]))
        if records[0] != records[1]:
            raise RuntimeError(f"fast_fill differs from fill_template for {villages[i].code} {month_text}")


def _stamp_arrivals(inbox: Path, names: list[str], period: Month) -> None:
    """Arrival times spread over the office hours of the 1st–4th of the next month, in village order."""
    due = period.shift(1)
    start = datetime(due.year, due.month, 1, 8, 30).timestamp()
    span = 3 * 86400 + 9 * 3600
    for k, name in enumerate(names):
        when = start + span * k / max(1, len(names))
        os.utime(inbox / name, (when, when))


def _write_layout(folder: Path, template: bytes, prog: Any) -> None:
    """Where the values sit in a report (from a template's defined names), for the floor's reader."""
    info = read_ooxml_info(template)
    names = info.names
    reg = names[prog.register.name]
    layout = {
        "main_sheet": names[prog.fields[0].id].sheet,
        "inputs": {f.id: list(names[f.id].first) for f in prog.all_inputs},
        "header": {k: list(names[k].first) for k in ("village_name", "report_period", "village_code", "template_version") if k in names},
        "meta_sheet": names[META_KEYS[0][0]].sheet,
        "meta": {k: list(names[k].first) for k, _ in META_KEYS},
        "register_sheet": reg.sheet,
        "register_first_row": reg.first[0],
        "register_first_col": REGISTER_FIRST_COL,
        "register_columns": [c.id for c in prog.register.columns],
    }
    (folder / "layout.json").write_text(json.dumps(layout, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":  # prepare (or check) the inputs for some N ahead of a run: python benchmarks/prepare.py 5000 20000
    import argparse

    ap = argparse.ArgumentParser(description="build the cached inputs for these N (or find them current)")
    ap.add_argument("n", type=int, nargs="+")
    ap.add_argument("--cache", type=Path, default=HERE / ".cache")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    for n in args.n:
        t0 = time.perf_counter()
        log(f"N={n}: {prepare(n, args.cache.resolve(), args.workers)} ({time.perf_counter() - t0:.0f} s)")
