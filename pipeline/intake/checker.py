"""Check many files at once on every core, in a deterministic order.

Reading and validating are pure (bytes in, FileCheck out) and dominate a large collection, so a
process pool does them; archiving before and recording after stay in the one parent process, in
inbox order, so the ledger is the same whatever the number of cores. Small batches are checked
in-process: starting workers costs more than it saves for a handful of files.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ..check import FileCheck, check_bytes

POOL_FROM = 16  # files; below this a pool is not worth its start-up
_worker: dict[str, Any] = {}


def _init(programme: Any, registry: Any, secret: str, limits: Any) -> None:
    _worker.update(programme=programme, registry=registry, secret=secret, limits=limits)


def _check(item: tuple[bytes, str]) -> FileCheck:
    data, name = item
    return check_bytes(data, name, _worker["programme"], _worker["registry"], _worker["secret"], _worker["limits"])


class Checker:
    def __init__(self, programme: Any, registry: Any, secret: str, limits: Any, files: int):
        self.args = (programme, registry, secret, limits)
        workers = min(os.cpu_count() or 1, 8)
        # "spawn" everywhere: forking a process that runs threads (a progress bar, the local service) can deadlock
        use_pool = files >= POOL_FROM and workers > 1
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
                                        initargs=self.args) if use_pool else None

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def check(self, items: Iterable[tuple[bytes, str]]) -> Iterator[FileCheck]:
        """FileChecks in the order of ``items``."""
        if self.pool is None:
            programme, registry, secret, limits = self.args
            for data, name in items:
                yield check_bytes(data, name, programme, registry, secret, limits)
            return
        yield from self.pool.map(_check, list(items), chunksize=4)
