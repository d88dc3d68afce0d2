"""Shared by the benchmark's parts: constants, timers, peak memory, JSON output."""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_spec = importlib.util.find_spec("pipeline")
# the checkout whose pipeline is measured (this folder may be a copy elsewhere, so that a long run
# is not affected by edits to the benchmark made while it runs)
ROOT = Path(_spec.origin).resolve().parent.parent if _spec and _spec.origin else HERE.parent
PERIOD = (2026, 10)  # the month every contender processes
HISTORY_MONTHS = 9  # 2026-01 .. 2026-09 already in the ledger
PROGRAMME = "qianfen"


def peak_rss_mb() -> float:
    """This process's peak resident set size.

    On Linux the high-water mark of its own memory (VmHWM): ``ru_maxrss`` of a child process also
    counts what its parent had resident when it was spawned (measured: a child of a 400 MB parent
    reports 414 MB while its VmHWM is 14 MB), which would charge run.py's memory to the contenders.
    Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round((kb / 1024 / 1024 if sys.platform == "darwin" else kb / 1024), 1)


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children (e.g. a process pool)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class TreeRss:
    """Peak of the summed RSS of this process and all its descendants, sampled from /proc (Linux).

    A high-water mark sees one process at a time; a process pool's workers are alive together, so
    their memory adds up. Sampled every ``interval`` seconds in a thread: a peak shorter than
    that can be missed, so the figure reported is the larger of this and the process's own peak.
    """

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.available = os.path.isdir("/proc/self")

    def __enter__(self) -> TreeRss:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.available:
            self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_kb / 1024, 1)

    def _run(self) -> None:
        page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
        me = os.getpid()
        while not self._stop.is_set():
            parents: dict[int, int] = {}
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        with open(f"/proc/{entry}/stat", "rb") as fh:
                            parents[int(entry)] = int(fh.read().rsplit(b")", 1)[1].split()[1])
                    except (OSError, ValueError, IndexError):
                        continue
            tree, frontier = {me}, [me]
            while frontier:
                pid = frontier.pop()
                kids = [p for p, pp in parents.items() if pp == pid and p not in tree]
                tree.update(kids)
                frontier.extend(kids)
            total = 0
            for pid in tree:
                try:
                    with open(f"/proc/{pid}/statm", "rb") as fh:
                        total += int(fh.read().split()[1]) * page_kb
                except (OSError, ValueError, IndexError):
                    continue
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(self.interval)


class Stages:
    """Wall time per named stage, summed over calls; re-entrant calls of a stage count once."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.peak_after: dict[str, float] = {}  # the process's peak RSS (MB) when the stage last ended
        self._depth: dict[str, int] = {}

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        depth = self._depth.get(name, 0)
        self._depth[name] = depth + 1
        start = time.perf_counter()
        try:
            yield
        finally:
            self._depth[name] = depth
            if depth == 0:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
                self.calls[name] = self.calls.get(name, 0) + 1
                self.peak_after[name] = peak_rss_mb()

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.time(name):
                return fn(*args, **kwargs)

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        return timed

    def patch(self, owner: Any, attr: str, name: str | None = None) -> None:
        """Time every call of ``owner.attr`` (a module global or a class attribute)."""
        setattr(owner, attr, self.wrap(name or attr, getattr(owner, attr)))

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {k: {"s": round(v, 4), "calls": self.calls[k], "peak_rss_after_mb": self.peak_after[k]} for k, v in self.seconds.items()}


def emit(result: dict[str, Any]) -> None:
    """A contender's result: the last line of its stdout, one JSON object."""
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)
