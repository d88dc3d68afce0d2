"""Check many files at once on every core, in a deterministic order.

Reading and validating are pure (bytes in, FileCheck out) and dominate a large collection, so a
process pool does them; archiving before and recording after stay in the one parent process, in
inbox order, so the ledger is the same whatever the number of cores. Small batches are checked
in-process: starting workers costs more than it saves for a handful of files.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ..check import FileCheck, check_bytes
from ..ledger.db import REJECTED

# files; below this a pool costs more than it saves. Starting a worker (spawn: a new Python that imports
# huizong) takes about 0.35 s of CPU; on 2 cores a collection of 120 files took 1.46 s with the pool and
# 0.86–1.30 s without, 500 files 3.4 s with and 4.3 s without (docs/benchmark.md).
POOL_FROM = 200
_worker: dict[str, Any] = {}

Checked = tuple[FileCheck, "bytes | None"]  # the check, and the annotated copy of a file sent back


def check_and_annotate(data: bytes, name: str, programme: Any, registry: Any, secret: str, limits: Any) -> Checked:
    """Check a file; for a file sent back, also build its annotated copy (both pure: bytes in, bytes out)."""
    check = check_bytes(data, name, programme, registry, secret, limits)
    if check.status != REJECTED:
        return check, None
    from ..workbook.feedback import build_feedback, feedback_heading  # openpyxl: only for files sent back

    return check, build_feedback(data, check.read.format, name, check.problems, feedback_heading(programme))


def _init(programme: Any, registry: Any, secret: str, limits: Any) -> None:
    _worker.update(programme=programme, registry=registry, secret=secret, limits=limits)


def _ready() -> None:
    pass


def _check(item: tuple[bytes, str]) -> Checked:
    data, name = item
    return check_and_annotate(data, name, _worker["programme"], _worker["registry"], _worker["secret"], _worker["limits"])


class Checker:
    def __init__(self, programme: Any, registry: Any, secret: str, limits: Any, files: int):
        self.args = (programme, registry, secret, limits)
        workers = min(os.cpu_count() or 1, 8)
        # "spawn" everywhere: forking a process that runs threads (a progress bar, the local service) can deadlock
        use_pool = files >= POOL_FROM and workers > 1
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
                                        initargs=self.args) if use_pool else None
        if self.pool is not None:  # start the workers now: they import huizong while the first batch is archived
            for _ in range(workers):
                self.pool.submit(_ready)

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def check(self, items: list[tuple[bytes, str]]) -> Iterator[Checked]:
        """(FileCheck, annotated copy) in the order of ``items``.

        With a pool the work starts at once (the caller can do other things meanwhile) and results
        are taken as they come; without, each file is checked when its result is asked for.
        """
        if self.pool is None:
            return (check_and_annotate(data, name, *self.args) for data, name in items)
        return self.pool.map(_check, items, chunksize=4)
