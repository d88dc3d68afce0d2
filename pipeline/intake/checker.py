"""Check files in worker processes, in a deterministic order; no single file can stop the others.

Reading and validating are pure (bytes in, FileCheck out), so worker processes do them; archiving
before and recording after stay in the one parent process, in inbox order, so the ledger is the
same whatever the number of workers. Workers are always separate processes, even for one file: a
native crash in a spreadsheet library (an abort, a segfault) then kills a worker, not the collection.
The files whose results a dying worker took with it are checked again one at a time in a fresh
worker; a file that kills that one too is refused (F014) and the rest go on.

A worker exits as soon as its parent does (a thread waits on the parent's sentinel), so killing a
collection never leaves workers behind.

The programme and the registry reach the workers through a private file, not through the start data:
on POSIX the parent writes a spawned child's start data into a pipe whose reading end it keeps open
until the write ends (CPython's popen_spawn_posix), so a child that dies before reading start data
larger than the pipe's buffer (64 KB; a registry of a few hundred villages) would block the parent for
ever. Start data kept small always fits the buffer, and a child that cannot start is noticed.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as Overdue
from concurrent.futures import wait as wait_for
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Literal

from ..check import FileCheck, check_bytes, failed_check
from ..ledger.db import REJECTED
from ..processes import bare_main
from .faults import crash_point, crash_reading

# files; from this many on, one worker per core (up to 8), below it one worker: starting a worker (spawn:
# a new Python that imports huizong) takes about 0.35 s of CPU; on 2 cores a collection of 120 files took
# 1.46 s with two workers and 0.86–1.30 s with one, 500 files 3.4 s with two and 4.3 s with one (docs/benchmark.md).
POOL_FROM = 200
# Only for profiling (benchmarks/): every file checked in this very process — no protection against a crash.
IN_PROCESS = False
# seconds a worker may spend on one file: a report takes well under a second, the largest file the limits let
# through (2 million cells) well under a minute even on an old PC; a file still being read after this has caught
# a reader in an endless loop, and the collection ends that worker and refuses the file (F016) rather than hang
FILE_SECONDS = 300.0
# seconds to wait for a new pool's first worker to be ready (it normally takes well under a second): a worker that
# is still not running after this is held up by the machine (security software asking whether python may run, a
# resource limit), not by any file — the files are then checked in this process, none is blamed for it (F016)
START_SECONDS = 120.0
_worker: dict[str, Any] = {}

Checked = tuple[FileCheck, "bytes | None"]  # the check, and the annotated copy of a file sent back
Feedback = Literal["rejected", "invalid", "none"]  # which files get an annotated copy


def wants_feedback(check: FileCheck, feedback: Feedback) -> bool:
    return check.status == REJECTED if feedback == "rejected" else (feedback == "invalid" and not check.valid)


def check_and_annotate(data: bytes, name: str, programme: Any, registry: Any, secret: str | None, limits: Any,
                       feedback: Feedback = "rejected") -> Checked:
    """Check a file and, where wanted, build its annotated copy (both pure: bytes in, bytes out).

    A copy that cannot mark the village's own workbook lists the problems alone, and says so (F015).
    """
    check = check_bytes(data, name, programme, registry, secret, limits)
    if not wants_feedback(check, feedback):
        return check, None
    from ..workbook.feedback import feedback_copy, feedback_heading  # openpyxl: only for files sent back

    built, note = feedback_copy(data, check.read.format, name, check.problems, feedback_heading(programme))
    if note is not None:
        check.problems.append(note)
    return check, built


def _init(shared: str, secret: str | None, limits: Any, feedback: Feedback) -> None:
    crash_point("worker_started")
    _exit_with_parent()
    with open(shared, "rb") as f:  # written by this worker's parent (Checker._share), readable by its user only
        programme, registry = pickle.load(f)
    _worker.update(programme=programme, registry=registry, secret=secret, limits=limits, feedback=feedback)


def _exit_with_parent() -> None:
    """End this worker when the process that started it ends (killed or not): nothing else would."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    ppid = os.getppid()

    def watch() -> None:
        while not multiprocessing.connection.wait([parent.sentinel], timeout=1.0):
            if os.name == "posix" and os.getppid() != ppid:  # re-parented: the parent is gone
                break
        os._exit(0)

    threading.Thread(target=watch, name="huizong-parent-watch", daemon=True).start()


def _ready() -> int:
    return os.getpid()


def _check(item: tuple[bytes, str]) -> Checked:
    data, name = item
    crash_reading(name)
    w = _worker
    return check_and_annotate(data, name, w["programme"], w["registry"], w["secret"], w["limits"], w["feedback"])


class Checker:
    def __init__(self, programme: Any, registry: Any, secret: str | None, limits: Any, files: int,
                 feedback: Feedback = "rejected", share_dir: Path | None = None):
        self.args = (programme, registry, secret, limits, feedback)
        # where the workers' start data goes: a workspace's own folder, whose leftovers (a run killed) the next
        # collection sweeps under its lock (``sweep_temporaries``); else the system's temporary folder
        self.share_dir = share_dir
        self.workers = min(os.cpu_count() or 1, 8) if files >= POOL_FROM else 1
        # True when no worker process can be started at all (or for profiling): then files are checked in this
        # process, as they were before workers; refusing every file for a fault of the machine would be worse
        self.in_process = IN_PROCESS
        self.pool: ProcessPoolExecutor | None = None
        self.solo: ProcessPoolExecutor | None = None  # one worker, for files checked again alone
        self.shared: str | None = None  # the file the workers read the programme and the registry from
        self.started: dict[ProcessPoolExecutor, list[Future[int]]] = {}  # each pool's start-up calls (`_ready`)
        if files and not self.in_process:
            self.pool = self._start(self.workers)

    def _start(self, workers: int) -> ProcessPoolExecutor | None:
        # "spawn" everywhere: forking a process that runs threads (a progress bar, the local service) can deadlock
        try:
            shared = self._share()
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
                                       initargs=(shared, *self.args[2:]))
            with bare_main():  # start the workers now: they import huizong while the first batch is archived
                self.started[pool] = [pool.submit(_ready) for _ in range(workers)]
        except OSError:  # no process can be made (a resource limit): check here
            self.in_process = True
            return None
        return pool

    def _running(self, pool: ProcessPoolExecutor) -> bool:
        """Whether a worker of ``pool`` has started (or died trying: that is dealt with as a crash), waiting
        up to START_SECONDS. False: none is running yet, and this pool is ended and files are checked here."""
        started = self.started.get(pool)
        if not started or any(f.done() for f in started):
            return True
        done, _ = wait_for(started, timeout=START_SECONDS, return_when=FIRST_COMPLETED)
        if done:
            return True
        self._kill(pool)
        self.in_process = True
        return False

    def _share(self) -> str:
        """The programme and the registry, pickled once into a private temporary file for the workers."""
        if self.shared is None:
            fd, path = tempfile.mkstemp(prefix=".tmp-huizong-", suffix=".pickle", dir=self.share_dir)  # 0600: this user only
            try:
                with os.fdopen(fd, "wb") as f:
                    pickle.dump(self.args[:2], f, protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:
                os.unlink(path)
                raise
            self.shared = path
        return self.shared

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        for pool in (self.pool, self.solo):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        if self.shared is not None:
            try:
                os.unlink(self.shared)
            except OSError:
                pass
            self.shared = None

    def check(self, items: list[tuple[bytes, str]]) -> Iterator[Checked]:
        """(FileCheck, annotated copy) in the order of ``items``.

        The work starts at once (the caller can do other things meanwhile); results are taken as they come.
        """
        submitted = [self._submit(item) for item in items]
        return (self._result(item, *sent) for item, sent in zip(items, submitted))

    def _here(self, item: tuple[bytes, str]) -> Checked:
        return check_and_annotate(item[0], item[1], *self.args)

    def _submit(self, item: tuple[bytes, str]) -> tuple[Future[Checked] | None, ProcessPoolExecutor | None]:
        for _ in range(2):
            if self.in_process:
                return None, None
            if self.pool is None:
                self.pool = self._start(self.workers)
            pool = self.pool
            if pool is None:
                continue
            try:
                return pool.submit(_check, item), pool
            except BrokenProcessPool:  # an earlier file killed a worker: these files go to a fresh pool
                self._drop(pool)
        return None, None

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        pool.shutdown(wait=False, cancel_futures=True)
        self.started.pop(pool, None)
        if self.pool is pool:
            self.pool = None
        if self.solo is pool:
            self.solo = None

    def _result(self, item: tuple[bytes, str], future: Future[Checked] | None, pool: ProcessPoolExecutor | None) -> Checked:
        if future is None or pool is None or not self._running(pool):
            return self._alone(item)
        try:
            # the files before this one are done (results are taken in order), so a worker is on this one now
            return future.result(timeout=FILE_SECONDS)
        except Overdue:  # stuck on this file: end the pool (files in its company are checked again alone)
            self._kill(pool)
            return self._overdue(item)
        except BrokenProcessPool:  # a worker died: this file may be the cause, or only in its company
            self._drop(pool)
            return self._alone(item)
        except CancelledError:  # still waiting when its pool was ended for another file's sake: nothing is known of it
            return self._alone(item)
        except Exception as exc:  # the worker raised past check_bytes, or its result could not come back
            return failed_check(item[1], "F013", exc), None

    def _kill(self, pool: ProcessPoolExecutor) -> None:
        """End a pool whose worker is stuck: its processes are killed (shutdown alone would wait for them)."""
        for process in list(getattr(pool, "_processes", {}).values()):
            try:
                process.kill()
            except (OSError, AttributeError):
                pass
        self._drop(pool)

    @staticmethod
    def _overdue(item: tuple[bytes, str]) -> Checked:
        minutes = FILE_SECONDS / 60
        return failed_check(item[1], "F016", f"{minutes:g} 分钟" if minutes >= 1 else f"{FILE_SECONDS:g} 秒"), None

    def _alone(self, item: tuple[bytes, str]) -> Checked:
        """A file whose worker died, checked again in a worker of its own; if that one dies too, refused.

        A worker that dies before it is even ready says nothing about the file: the machine cannot run
        workers, and the file is checked in this process instead.
        """
        if self.solo is None and not self.in_process:
            solo = self._start(1)
            if solo is not None:
                try:
                    if self._running(solo):
                        self.started[solo][0].result()
                        self.solo = solo
                except BrokenProcessPool:
                    self._drop(solo)
                    self.in_process = True
        if self.solo is None:
            return self._here(item)
        solo = self.solo
        try:
            return solo.submit(_check, item).result(timeout=FILE_SECONDS)
        except Overdue:
            self._kill(solo)
            return self._overdue(item)
        except BrokenProcessPool:
            self._drop(solo)
            return failed_check(item[1], "F014", "可能是文件中有读取程序无法处理的内容"), None
        except Exception as exc:
            return failed_check(item[1], "F013", exc), None
