"""Fault injection for the crash/re-run tests: ``HUIZONG_CRASH_AT=recorded:2`` makes the process die
(as abruptly as ``kill -9``: no cleanup, no flush) the 2nd time it reaches the point ``recorded``.
Unset in normal use, where it costs one dictionary look-up per point.
"""

from __future__ import annotations

import os

_counts: dict[str, int] = {}


def crash_point(name: str) -> None:
    spec = os.environ.get("HUIZONG_CRASH_AT")
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == int(nth or 1):
        os._exit(137)
