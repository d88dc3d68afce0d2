"""Collect the files dropped into inbox/: archive first, then check, then record, then tidy up.

Order matters for "nothing lost": the raw bytes are in the archive before anything parses them;
the ledger row (one transaction) is written before the file leaves inbox/. A crash anywhere
leaves either an untouched inbox file (done again on the next run) or a recorded one whose
arrival the next run recognises by its source reference (file name, size, modification time).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..check import FileCheck, redacted_problems, stored_record
from ..ledger.archive import Archive, sha256
from ..ledger.db import ACCEPTED, DUPLICATE, PENDING, REJECTED, Arrival, Ledger, Outcome
from ..problems import Problem
from ..workspace import atomic_write
from .checker import Checked, Checker
from .faults import crash_point
from .outliers import add_outlier_warnings

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
    notices: list[Problem] = field(default_factory=list)  # mail not answered (bounces, auto-replies...): for the clerk
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
        if self.notices:
            parts.append(f"自动邮件等未回复 {sum(1 for p in self.notices if p.code in ('M006', 'M008'))} 封")
        return "，".join(parts)


def inbox_files(inbox: Path) -> list[Path]:
    if not inbox.is_dir():
        return []
    files = [p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(IGNORED_PREFIXES) and not p.name.endswith(".tmp")]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))  # in order of arrival


BATCH = 64  # files read into memory at once (two batches at most): bounds memory however full the inbox is


@dataclass
class _Arrived:
    path: Path
    st: os.stat_result
    ref: str
    data: bytes
    digest: str


def collect_folder(ctx: Context, ledger: Ledger, archive: Archive, summary: CollectSummary,
                   progress: Callable[[int, int, str], None] | None = None) -> None:
    """Archive, check, record and tidy the inbox, a batch at a time.

    While the pool checks one batch, this process archives the next; a batch's ledger rows go in
    one transaction, and only then do its files leave inbox/ (a crash before the commit leaves them
    all there, to be done again; archiving is idempotent).
    """
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
    with Checker(ctx.programme, ctx.registry, ctx.secret, ws.limits, len(todo)) as checker:
        waiting: tuple[int, list[_Arrived], Iterator[Checked]] | None = None
        for start in range(0, len(todo), BATCH):
            batch = _archive_batch(archive, todo[start:start + BATCH])
            checks = checker.check([(a.data, a.path.name) for a in batch])  # with a pool: already under way
            if waiting is not None:
                _record_batch(ctx, ledger, summary, *waiting, len(todo), progress)
            waiting = (start, batch, checks)
        if waiting is not None:
            _record_batch(ctx, ledger, summary, *waiting, len(todo), progress)


def _archive_batch(archive: Archive, items: list[tuple[Path, os.stat_result, str]]) -> list[_Arrived]:
    """The raw bytes are safe in the archive before anything parses them (fsyncs overlap in threads).

    Each distinct content is stored by one thread only: a village often sends the same file twice,
    and two threads replacing the same (read-only) archive file would fail on Windows.
    """
    out = []
    for path, st, ref in items:
        data = path.read_bytes()
        out.append(_Arrived(path, st, ref, data, sha256(data)))
    distinct = {(a.digest, a.path.suffix.lower()): a.data for a in out}
    with ThreadPoolExecutor(4) as threads:
        list(threads.map(lambda key: archive.put(distinct[key], key[1]), distinct))
    for _ in out:
        crash_point("archived")
    return out


def _record_batch(ctx: Context, ledger: Ledger, summary: CollectSummary, first: int, batch: list[_Arrived],
                  checks: Iterator[Checked], total: int, progress: Callable[[int, int, str], None] | None) -> None:
    ws = ctx.workspace
    rows = []
    with ledger.transaction() as db:
        for i, (a, (check, annotated)) in enumerate(zip(batch, checks), start=first):
            if progress:
                progress(i, total, a.path.name)
            add_outlier_warnings(ctx, ledger, check)
            feedback = write_feedback(ctx, check, a.data, a.path, a.digest, annotated) if check.status == REJECTED else None
            arrival = Arrival("folder", a.ref, a.path.name, a.digest, len(a.data), a.path.suffix.lower(), None, _arrived(a.st.st_mtime))
            rows.append((a, feedback, ledger.record_in(db, arrival, outcome_for(ctx, check, feedback))))
            crash_point("recorded")
    for a, feedback, row in rows:
        _tidy(a.path, ws.processed)
        crash_point("tidied")
        summary.items.append(
            Collected(
                a.path.name, row["status"], row["village_name"] or "（未识别）", row["period"] or "", row["version"],
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


def write_feedback(ctx: Context, check: FileCheck, data: bytes, path: Path, digest: str, built: bytes | None = None) -> str:
    """Save the annotated copy of a file sent back (``built``: already made, e.g. by a worker process)."""
    v = check.identity.village
    folder = ctx.workspace.feedback / (str(check.identity.period) if check.identity.period else "未识别")
    stem = f"{v.name}_" if v else ""
    target = folder / f"{stem}{path.stem}_{digest[:8]}_校验结果.xlsx"
    if built is None:
        from ..workbook.feedback import build_feedback, feedback_heading  # openpyxl: only for files sent back

        built = build_feedback(data, check.read.format, path.name, check.problems, feedback_heading(ctx.programme))
    atomic_write(target, built)
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
