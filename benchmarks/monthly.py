"""huizong's monthly run, as a township clerk runs it: load the workspace, collect the inbox,
consolidate the month (score, rank, write the summary workbook).

The stage times come from wrappers put around pipeline functions in this process only (module
globals and class attributes, looked up at call time) — the pipeline's code is not changed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from common import PERIOD, Stages, peak_rss_mb

_STAGES = (  # (module, class or "", attribute names tried in turn, stage name)
    # checking: seen here only when it runs in this process (--no-pool; otherwise it runs in worker processes)
    ("pipeline.intake.checker", "", ("check_bytes",), "collect.check_bytes"),
    ("pipeline.check", "", ("read_report",), "collect.check_bytes.read"),
    ("pipeline.workbook.reader", "", ("sniff",), "collect.check_bytes.read.sniff"),
    ("pipeline.workbook.reader", "", ("read_ooxml_info",), "collect.check_bytes.read.defined_names"),
    ("pipeline.workbook.reader", "", ("cell_flags",), "collect.check_bytes.read.formula_scan"),
    ("pipeline.check", "", ("identify",), "collect.check_bytes.identify"),
    ("pipeline.check", "", ("validate_report",), "collect.check_bytes.validate"),
    ("pipeline.ledger.archive", "Archive", ("put",), "collect.archive"),
    ("pipeline.intake.folder", "", ("outcome_for", "_outcome"), "collect.record_json"),
    ("pipeline.ledger.db", "Ledger", ("record",), "collect.ledger"),
    ("pipeline.intake.folder", "", ("write_feedback", "_write_feedback"), "collect.feedback"),
    ("pipeline.intake.folder", "", ("_tidy",), "collect.tidy"),
    ("pipeline.api", "", ("scorer",), "consolidate.load_ledger"),  # api.scorer: ledger rows (and registers if not given)
    ("pipeline.api", "", ("load_registers",), "consolidate.load_registers"),
    ("pipeline.score.scorer", "Scorer", ("score",), "consolidate.score"),
    ("pipeline.score.scorer", "", ("consolidate",), "consolidate.score.consolidate_data"),
    ("pipeline.score.scorer", "", ("run_plan",), "consolidate.score.run_plan"),
    ("pipeline.api", "", ("status",), "consolidate.status"),
    ("pipeline.api", "", ("period_warnings",), "consolidate.period_warnings"),
    ("pipeline.api", "", ("build_summary",), "consolidate.build_summary"),
    ("pipeline.api", "", ("atomic_write",), "consolidate.write_file"),
    ("pipeline.api", "", ("scored_table",), "consolidate.scored_table"),
)


def instrument(stages: Stages) -> list[str]:
    """Time the stages of collect and consolidate (a few µs per call; nested names overlap).

    The pipeline is edited by others: a function that is no longer there is skipped and named.
    """
    import importlib

    missing = []
    for module, cls, attrs, name in _STAGES:
        try:
            owner = importlib.import_module(module)
        except ImportError:
            owner = None
        owner = getattr(owner, cls, None) if cls and owner is not None else owner
        attr = next((a for a in attrs if owner is not None and callable(getattr(owner, a, None))), None)
        if attr is None:
            missing.append(f"{module}.{cls + '.' if cls else ''}{attrs[0]}")
            continue
        stages.patch(owner, attr, name)
    return missing


def disable_pool() -> bool:
    """Check every file in this process (as before the process pool; lets cProfile see the work)."""
    try:
        from pipeline.intake import checker
    except ImportError:
        return False
    if not hasattr(checker, "POOL_FROM"):
        return False
    checker.POOL_FROM = 10**9
    checker.IN_PROCESS = True  # since checks run in worker processes even for few files (crash isolation)
    return True


def monthly_run(workspace: Path, progress: Path | None = None) -> dict[str, Any]:
    """The timed work. Returns seconds per top-level step and what came out.

    With ``progress``, the seconds of each finished step are also written there as they finish
    (so a run stopped by a time limit still tells how far it got).
    """
    from pipeline import api
    from pipeline.programme.periods import Month

    out: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    peaks: dict[str, float] = {}  # the process's peak RSS (MB) at the end of each step
    started = time.time()
    t0 = time.perf_counter()

    def done(step: str, since: float) -> float:
        now = time.perf_counter()
        if step:
            seconds[step] = now - since
            peaks[step] = peak_rss_mb()
        if progress is not None:
            progress.write_text(json.dumps({"seconds": seconds, "started_epoch": started}), encoding="utf-8")
        return now

    done("", t0)
    ctx = api.load_context(workspace)
    t1 = done("load_context", t0)
    collected = api.collect(ctx)
    t2 = done("collect", t1)
    result = api.consolidate(ctx, Month(*PERIOD))
    t3 = done("consolidate", t2)
    out["seconds"] = seconds | {"total": t3 - t0}
    out["peak_rss_after_step_mb"] = peaks
    out["collected"] = {"files": len(collected.items), "accepted": collected.count("已接收"), "rejected": collected.count("退回"),
                        "pending": collected.count("待确认")}
    scored = result.scored
    items = scored.base_total + scored.bonus_total
    out["scored_villages"] = len(scored.index)
    out["item_totals"] = dict(zip(scored.codes, [round(float(x), 6) for x in items]))
    out["summary"] = str(result.path)
    out["summary_bytes"] = result.path.stat().st_size
    return out
