"""Fault injection for the crash/re-run tests (unset in normal use, where each point costs one look-up).

- ``HUIZONG_CRASH_AT=recorded:2`` makes the process die (as abruptly as ``kill -9``: no cleanup, no
  flush) the 2nd time it reaches the point ``recorded`` (``worker_started:1``: every worker process, as
  it starts — a machine where workers cannot run);
- ``HUIZONG_STALL_AT=archived:1`` makes it stop there and wait to be killed (a test can then look at a
  collection in mid-run: its worker processes are up);
- ``HUIZONG_CRASH_READING=名称.xlsx`` makes a worker process abort (SIGABRT, as a native library does
  when it fails an allocation) when it starts checking a file of that name;
- ``HUIZONG_FAIL_READING=名称.xlsx`` makes it raise an unexpected exception there instead (a defect);
- ``HUIZONG_HANG_READING=名称.xlsx`` makes it stop there for good (a reader caught in an endless loop).
"""

from __future__ import annotations

import os
import threading

_counts: dict[str, int] = {}


def crash_point(name: str) -> None:
    for variable in ("HUIZONG_CRASH_AT", "HUIZONG_STALL_AT"):
        spec = os.environ.get(variable)
        if not spec:
            continue
        point, _, nth = spec.partition(":")
        if point != name:
            continue
        key = f"{variable}:{name}"
        _counts[key] = _counts.get(key, 0) + 1
        if _counts[key] == int(nth or 1):
            if variable == "HUIZONG_CRASH_AT":
                os._exit(137)
            threading.Event().wait()  # until killed


def crash_reading(file_name: str) -> None:
    if os.environ.get("HUIZONG_CRASH_READING") == file_name:
        os.abort()
    if os.environ.get("HUIZONG_FAIL_READING") == file_name:
        raise RuntimeError("模拟的程序错误")
    if os.environ.get("HUIZONG_HANG_READING") == file_name:
        threading.Event().wait()  # until the collection gives up on it and ends this worker
