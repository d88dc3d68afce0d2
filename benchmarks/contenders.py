"""One contender (or one side measurement) per process: ``python benchmarks/contenders.py WHAT …``.

Each prints one JSON object as the last line of its stdout: seconds of work (imports excluded,
reported apart), CPU seconds, peak memory (see ``common.peak_rss_mb`` and ``TreeRss``), and what it made.
Modules are imported inside each function so the floor never loads pandas and so on.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from common import PERIOD, ROOT, Stages, TreeRss, cpu_seconds, emit, peak_rss_mb

T_START = time.perf_counter()


def measured(work: Any) -> tuple[Any, dict[str, Any]]:
    """``work()`` with its CPU seconds (this process and its children) and peak memory."""
    cpu = cpu_seconds()
    with TreeRss() as tree:
        result = work()
    own = peak_rss_mb()
    return result, {"cpu_s": round(cpu_seconds() - cpu, 3), "peak_rss_mb": max(own, tree.peak_mb), "peak_rss_self_mb": own,
                    "peak_rss_tree_mb": tree.peak_mb if tree.available else None}


def huizong(args: argparse.Namespace) -> dict[str, Any]:
    from monthly import disable_pool, instrument, monthly_run

    import pipeline.api  # noqa: F401  (imports before the clock, like the other contenders)

    single = disable_pool() if args.no_pool else False
    stages = Stages()
    missing = [] if args.bare else instrument(stages)
    imported = time.perf_counter() - T_START
    out, metrics = measured(lambda: monthly_run(Path(args.workspace), Path(args.progress) if args.progress else None))
    out.update(metrics, import_s=imported, stages=stages.as_dict(), stages_not_found=missing, pool_disabled=single)
    return out


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """The monthly run under cProfile: the top functions by cumulative and by own time."""
    import cProfile
    import pstats

    from monthly import disable_pool, monthly_run

    import pipeline.api  # noqa: F401

    single = disable_pool()  # cProfile sees one process only
    prof = cProfile.Profile()
    prof.enable()
    out = monthly_run(Path(args.workspace))
    prof.disable()
    prof.dump_stats(args.out)
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = file.replace(str(ROOT) + "/", "")
        if "site-packages/" in where:
            where = where.split("site-packages/", 1)[1]
        rows.append({"function": f"{where}:{line}({func})", "ncalls": nc, "primitive": cc, "tottime": round(tt, 4), "cumtime": round(ct, 4)})
    top = sorted(rows, key=lambda r: -r["cumtime"])[: args.top]
    own = sorted(rows, key=lambda r: -r["tottime"])[: args.top]
    return {"seconds": out["seconds"], "pool_disabled": single, "profiled_total_s": round(sum(r["tottime"] for r in rows), 3), "top_cumulative": top, "top_tottime": own}


def peer(args: argparse.Namespace) -> dict[str, Any]:
    import peer as naive

    prepared = Path(args.prepared)
    imported = time.perf_counter() - T_START
    seconds: dict[str, float] = {}

    def work() -> dict[str, Any]:
        t = time.perf_counter()
        out = naive.run(prepared / "workspace" / "inbox", prepared / "workspace", prepared / "peer_history.csv",
                        ROOT / "templates" / "qianfen" / "programme.yaml", Path(args.out), args.cells)
        seconds["total"] = time.perf_counter() - t
        return out

    out, metrics = measured(work)
    return {"seconds": seconds, "import_s": imported, **metrics, **out}


def floor(args: argparse.Namespace) -> dict[str, Any]:
    import floor as io_floor

    prepared = Path(args.prepared)
    layout = json.loads((prepared / "layout.json").read_text(encoding="utf-8"))
    grids = io_floor.load_grids(Path(args.grids))  # huizong's summary values, loaded before the clock
    imported = time.perf_counter() - T_START
    seconds: dict[str, float] = {}

    def work() -> tuple[list[dict[str, Any]], int]:
        t = time.perf_counter()
        records = io_floor.read_all(prepared / "workspace" / "inbox", layout)
        t_read = time.perf_counter()
        written = io_floor.write_all(Path(args.out), grids, styled=args.styled)
        t_end = time.perf_counter()
        seconds.update(read=t_read - t, write=t_end - t_read, total=t_end - t)
        return records, written

    (records, written), metrics = measured(work)
    return {"seconds": seconds, "import_s": imported, **metrics, "files": len(records),
            "register_rows": sum(len(r["register"]) for r in records), "cells_written": written}


def scoring(args: argparse.Namespace) -> dict[str, Any]:
    """``run_plan`` alone for N villages × the programme's items, inputs built as Scorer.score builds them."""
    import numpy as np

    from pipeline.programme.calendar import months_elapsed, periods_so_far
    from pipeline.programme.config import load_programme
    from pipeline.programme.periods import Month
    from pipeline.score.plan import build_plan, run_plan

    p = load_programme("qianfen")
    period = Month(*PERIOD)
    register_fields = {f["id"] for f in p.raw["assessment_register"]["fields"]}
    t = time.perf_counter()
    plan = build_plan(p, register_fields, [ps.index for ps in periods_so_far(p, period)])
    t_plan = time.perf_counter() - t
    rng = np.random.default_rng(0)
    n = args.villages
    inputs = {}
    for name, scope in plan.inputs:
        key = name if scope is None else f"{name}@{scope}"
        if name == "months_elapsed":
            inputs[key] = np.full(n, float(months_elapsed(p, period)))
        elif name == "population":
            inputs[key] = rng.integers(2000, 4000, n).astype(float)
        else:  # counts, amounts, targets: zeros included, so every IF branch is taken
            inputs[key] = rng.integers(0, 40, n).astype(float)
    runs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        env = run_plan(plan, inputs)
        runs.append(time.perf_counter() - t)
    assert all(np.isfinite(env[c.key]).all() for c in plan.computations)
    return {"villages": n, "items": len(plan.items), "computations": len(plan.computations), "inputs": len(plan.inputs),
            "build_plan_s": t_plan, "run_plan_s": runs, "best_s": min(runs), "median_s": sorted(runs)[len(runs) // 2],
            "peak_rss_mb": peak_rss_mb()}


def months(args: argparse.Namespace) -> dict[str, Any]:
    """How scoring grows with the months in the ledger: a fresh Scorer for months 1, 4, 7, 10."""
    from pipeline import api
    from pipeline.programme.periods import Month

    ctx = api.load_context(Path(args.workspace))
    out = {}
    for m in (1, 4, 7, 10):
        t = time.perf_counter()
        sc = api.scorer(ctx)
        t_load = time.perf_counter()
        sc.score(Month(PERIOD[0], m))
        t_end = time.perf_counter()
        out[f"{PERIOD[0]}-{m:02d}"] = {"ledger_rows": len(sc.reports.submission_ids), "load_s": t_load - t, "score_s": t_end - t_load}
    return {"by_month": out, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="what", required=True)
    s = sub.add_parser("huizong")
    s.add_argument("--workspace", required=True)
    s.add_argument("--bare", action="store_true", help="no stage timers")
    s.add_argument("--progress", help="write the seconds of each finished step here")
    s.add_argument("--no-pool", action="store_true", help="check every file in this process (no process pool)")
    s = sub.add_parser("profile")
    s.add_argument("--workspace", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--top", type=int, default=30)
    s = sub.add_parser("peer")
    s.add_argument("--prepared", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--cells", type=int, required=True)
    s = sub.add_parser("floor")
    s.add_argument("--prepared", required=True)
    s.add_argument("--grids", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--styled", action="store_true", help="give every written cell a format (a reference point, not the floor)")
    s = sub.add_parser("scoring")
    s.add_argument("--villages", type=int, default=10_000)
    s.add_argument("--repeat", type=int, default=7)
    s = sub.add_parser("months")
    s.add_argument("--workspace", required=True)
    args = ap.parse_args()
    emit({"huizong": huizong, "profile": profile, "peer": peer, "floor": floor, "scoring": scoring, "months": months}[args.what](args))


if __name__ == "__main__":
    main()
