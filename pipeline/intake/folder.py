"""Collect the files dropped into inbox/: archive first, then check, then record, then tidy up.

Order matters for "nothing lost": the raw bytes are in the archive before anything parses them;
the ledger row (one transaction) is written before the file leaves inbox/. A crash anywhere
leaves either an untouched inbox file (done again on the next run) or a recorded one whose
arrival the next run recognises by its source reference (file name, size, modification time).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..check import FileCheck, redacted_problems, stored_record
from ..ledger.archive import Archive
from ..ledger.db import ACCEPTED, DUPLICATE, PENDING, REJECTED, Arrival, Ledger, Outcome
from ..problems import Problem
from ..workbook.feedback import build_feedback
from ..workspace import atomic_write
from .checker import Checker
from .faults import crash_point

if TYPE_CHECKING:
    from ..api import Context

IGNORED_PREFIXES = ("~$", ".", "~WRL")  # Excel's lock files, hidden files, Word/Excel temp files


@dataclass
class Collected:
    name: str
    status: str
    village: str
    period: str
    version: int | None
    errors: int
    warnings: int
    submission_id: int
    feedback: str | None = None
    sender: str | None = None


@dataclass
class CollectSummary:
    items: list[Collected] = field(default_factory=list)
    resumed: int = 0  # arrivals recorded by an interrupted earlier run, only tidied now
    problems: list[Problem] = field(default_factory=list)  # mailbox or SMTP trouble (the rest went on)
    messages_without_reports: int = 0
    replies_sent: int = 0

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    @property
    def line(self) -> str:
        parts = [f"已收取 {len(self.items)} 份", f"通过 {self.count(ACCEPTED)} 份", f"退回 {self.count(REJECTED)} 份"]
        if self.count(PENDING):
            parts.append(f"待确认 {self.count(PENDING)} 份")
        if self.count(DUPLICATE):
            parts.append(f"重复 {self.count(DUPLICATE)} 份")
        if self.replies_sent:
            parts.append(f"发出回复 {self.replies_sent} 封")
        return "，".join(parts)


def inbox_files(inbox: Path) -> list[Path]:
    if not inbox.is_dir():
        return []
    files = [p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(IGNORED_PREFIXES) and not p.name.endswith(".tmp")]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))  # in order of arrival


BATCH = 64  # files read into memory at once: bounds memory however full the inbox is


def collect_folder(ctx: Context, ledger: Ledger, archive: Archive, summary: CollectSummary,
                   progress: Callable[[int, int, str], None] | None = None) -> None:
    ws = ctx.workspace
    todo = []
    for path in inbox_files(ws.inbox):
        st = path.stat()
        ref = f"folder:{path.name}:{st.st_size}:{st.st_mtime_ns}"
        if ledger.receipt_for(ref) is not None:  # recorded by an interrupted run: only tidy up
            _tidy(path, ws.processed)
            summary.resumed += 1
        else:
            todo.append((path, st, ref))
    done = 0
    with Checker(ctx.programme, ctx.registry, ctx.secret, ws.limits, len(todo)) as checker:
        for start in range(0, len(todo), BATCH):
            batch = []
            for path, st, ref in todo[start:start + BATCH]:
                data = path.read_bytes()
                digest, _ = archive.put(data, path.suffix)  # the raw bytes are safe before anything parses them
                crash_point("archived")
                batch.append((path, st, ref, data, digest))
            checks = checker.check((data, path.name) for path, _st, _ref, data, _digest in batch)
            for (path, st, ref, data, digest), check in zip(batch, checks):
                if progress:
                    progress(done, len(todo), path.name)
                feedback = write_feedback(ctx, check, data, path, digest) if check.status == REJECTED else None
                arrival = Arrival("folder", ref, path.name, digest, len(data), path.suffix.lower(), None, _arrived(st.st_mtime))
                row = ledger.record(arrival, outcome_for(ctx, check, feedback))
                crash_point("recorded")
                _tidy(path, ws.processed)
                crash_point("tidied")
                done += 1
                summary.items.append(
                    Collected(
                        path.name, row["status"], row["village_name"] or "（未识别）", row["period"] or "", row["version"],
                        row["n_errors"], row["n_warnings"], row["id"], feedback,
                    )
                )


def outcome_for(ctx: Context, check: FileCheck, feedback: str | None) -> Outcome:
    v = check.identity.village
    record = stored_record(check, ctx.programme) if check.status != REJECTED else None
    return Outcome(
        programme=ctx.programme.id,
        village_code=v.code if v else None,
        village_name=v.name if v else (check.read.meta.get("village_name") or None),
        period=str(check.identity.period) if check.identity.period else None,
        status=check.status,
        n_errors=len(check.errors),
        n_warnings=len(check.warnings),
        problems=redacted_problems(check, ctx.programme),
        record=record,
        feedback_path=feedback,
    )


def write_feedback(ctx: Context, check: FileCheck, data: bytes, path: Path, digest: str) -> str:
    v = check.identity.village
    folder = ctx.workspace.feedback / (str(check.identity.period) if check.identity.period else "未识别")
    stem = f"{v.name}_" if v else ""
    target = folder / f"{stem}{path.stem}_{digest[:8]}_校验结果.xlsx"
    heading = f"{ctx.programme.title}校验结果"
    atomic_write(target, build_feedback(data, check.read.format, path.name, check.problems, heading))
    return str(target.relative_to(ctx.workspace.root))


def _arrived(mtime: float) -> str:
    """When a dropped file arrived: its modification time (never later than now)."""
    when = min(datetime.fromtimestamp(mtime).astimezone(), datetime.now().astimezone())
    return when.isoformat(timespec="seconds")


def _tidy(path: Path, processed: Path) -> None:
    """Move a recorded file out of inbox/ into inbox/已处理/<date>/ (never overwriting)."""
    folder = processed / date.today().isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    n = 2
    while target.exists():
        target = folder / f"{path.stem} ({n}){path.suffix}"
        n += 1
    os.replace(path, target)


def summary_rows(summary: CollectSummary) -> list[dict[str, Any]]:
    return [item.__dict__ for item in summary.items]
