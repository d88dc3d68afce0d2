"""One huizong job at a time per workspace (an OS file lock: released even if the process is killed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock, Timeout

from ..problems import HuizongError, Problem
from ..workspace import Workspace


@contextmanager
def workspace_lock(ws: Workspace) -> Iterator[None]:
    ws.state.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(ws.lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout as exc:
        holder = ""
        try:
            holder = (ws.state / "lock.pid").read_text().strip()
        except OSError:
            pass
        raise HuizongError(Problem("X003", detail=f"进程 {holder}" if holder else str(ws.root))) from exc
    try:
        (ws.state / "lock.pid").write_text(str(os.getpid()))
        yield
    finally:
        lock.release()
