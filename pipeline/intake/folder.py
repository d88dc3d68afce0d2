"""Collect the files dropped into inbox/: archive first, then check, then record, then tidy up.

Order matters for "nothing lost": the raw bytes are in the archive before anything parses them;
the ledger row (one transaction) is written before the file leaves inbox/. A crash anywhere
leaves either an untouched inbox file (done again on the next run) or a recorded one whose
arrival the next run recognises by its source reference (file name, size, modification time).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..check import FileCheck, failed_check, redacted_problems, stored_record
from ..filenames import MAX_NAME_BYTES, file_name, shorten
from ..ledger.archive import Archive, sha256
from ..ledger.db import ACCEPTED, DUPLICATE, PENDING, REJECTED, Arrival, Ledger, Outcome
from ..problems import HuizongError, Problem
from ..validate.plausibility import plausibility
from ..workspace import atomic_write, machine_trouble
from .checker import Checked, Checker
from .faults import crash_point
from .outliers import OutlierHistory, add_outlier_warnings

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
    resumed: list[Collected] = field(default_factory=list)  # recorded by an interrupted earlier run, only tidied now
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
        if self.resumed:
            parts.append(f"另有 {len(self.resumed)} 份在上次中断的运行中已登记")
        if self.notices:
            parts.append(f"自动邮件等未回复 {sum(1 for p in self.notices if p.code in ('M006', 'M008'))} 封")
        return "，".join(parts)


def inbox_files(inbox: Path) -> list[tuple[Path, os.stat_result]]:
    """The files waiting in inbox/, in order of arrival (a file gone meanwhile is simply not there)."""
    if not inbox.is_dir():
        return []
    files = []
    for p in inbox.iterdir():
        if p.name.startswith(IGNORED_PREFIXES) or p.name.endswith(".tmp"):
            continue
        try:
            st = p.stat()
        except OSError:
            continue
        if p.is_file():
            files.append((p, st))
    return sorted(files, key=lambda f: (f[1].st_mtime_ns, f[0].name))


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

    While the workers check one batch, this process archives the next; a batch's ledger rows go in
    one transaction, and only then do its files leave inbox/ (a crash before the commit leaves them
    all there, to be done again; archiving is idempotent).
    """
    ws = ctx.workspace
    todo = []
    for path, st in inbox_files(ws.inbox):
        ref = f"folder:{path.name}:{st.st_size}:{st.st_mtime_ns}"
        receipt = ledger.receipt_for(ref)
        if receipt is not None:  # recorded by an interrupted run: tidy up, and say what it was
            _tidy(path, ws.processed)
            row = ledger.conn.execute("SELECT * FROM submissions WHERE receipt_id = ?", (receipt["id"],)).fetchone()
            if row is not None:
                summary.resumed.append(_collected(path.name, row, row["feedback_path"]))
        else:
            todo.append((path, st, ref))
    rule = plausibility(ctx.programme).outliers
    known = OutlierHistory(ctx.programme.id, ledger, rule) if rule is not None else None
    with Checker(ctx.programme, ctx.registry, ctx.secret, ws.limits, len(todo)) as checker:
        waiting: tuple[int, list[_Arrived], Iterator[Checked]] | None = None
        for start in range(0, len(todo), BATCH):
            batch = _archive_batch(archive, todo[start:start + BATCH], summary)
            checks = checker.check([(a.data, a.path.name) for a in batch])  # already under way in the workers
            if waiting is not None:
                _record_batch(ctx, ledger, summary, *waiting, len(todo), progress, known)
            waiting = (start, batch, checks)
        if waiting is not None:
            _record_batch(ctx, ledger, summary, *waiting, len(todo), progress, known)


def _archive_batch(archive: Archive, items: list[tuple[Path, os.stat_result, str]], summary: CollectSummary) -> list[_Arrived]:
    """The raw bytes are safe in the archive before anything parses them (fsyncs overlap in threads).

    Each distinct content is stored by one thread only: a village often sends the same file twice,
    and two threads replacing the same (read-only) archive file would fail on Windows. A file that
    cannot be read (held open by another program, no permission) stays in inbox/ for the next run.
    """
    out = []
    for path, st, ref in items:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # taken away meanwhile
            continue
        except OSError as exc:
            summary.problems.append(Problem("X012", file=path.name, detail=f"inbox/{path.name}（{exc.strerror or exc}）"))
            continue
        out.append(_Arrived(path, st, ref, data, sha256(data)))
    distinct = {(a.digest, a.path.suffix.lower()): a.data for a in out}
    with ThreadPoolExecutor(4) as threads:
        list(threads.map(lambda key: archive.put(distinct[key], key[1]), distinct))
    for _ in out:
        crash_point("archived")
    return out


def _record_batch(ctx: Context, ledger: Ledger, summary: CollectSummary, first: int, batch: list[_Arrived],
                  checks: Iterator[Checked], total: int, progress: Callable[[int, int, str], None] | None,
                  known: OutlierHistory | None = None) -> None:
    ws = ctx.workspace
    rows = []
    checked = list(zip(batch, checks))  # the whole batch (the workers go on with the next one meanwhile)
    if known is not None:
        try:
            known.prefetch(check for _, (check, _) in checked)  # the villages' previous months, in one query
        except Exception as exc:  # a stored record it cannot read: each file then asks for its own, under its own guard
            if isinstance(exc, sqlite3.Error) or machine_trouble(exc) is not None:
                raise
    with ledger.transaction() as db:
        for i, (a, (check, annotated)) in enumerate(checked, start=first):
            if progress:
                progress(i, total, a.path.name)
            try:
                feedback, row = _record_one(ctx, ledger, db, a, check, annotated, known)
            except Exception as exc:  # a defect of ours on this one file: it is sent back as F013, the batch goes on
                if isinstance(exc, (HuizongError, sqlite3.Error)) or machine_trouble(exc) is not None:
                    raise  # the machine's trouble (disk full, read-only): nothing of this batch is kept
                feedback, row = _record_one(ctx, ledger, db, a, failed_check(a.path.name, "F013", exc), None, known)
            rows.append((a, feedback, row))
            crash_point("recorded")
    for a, feedback, row in rows:
        _tidy(a.path, ws.processed)
        crash_point("tidied")
        summary.items.append(_collected(a.path.name, row, feedback))


def _record_one(ctx: Context, ledger: Ledger, db: sqlite3.Connection, a: _Arrived, check: FileCheck,
                annotated: bytes | None, known: OutlierHistory | None = None) -> tuple[str | None, sqlite3.Row]:
    """One file's feedback copy and ledger row, inside a savepoint: a failure leaves no half of it behind."""
    db.execute("SAVEPOINT one_file")
    try:
        add_outlier_warnings(ctx, ledger, check, known)
        feedback = write_feedback(ctx, check, a.data, a.path, a.digest, annotated) if check.status == REJECTED else None
        arrival = Arrival("folder", a.ref, a.path.name, a.digest, len(a.data), a.path.suffix.lower(), None, _arrived(a.st.st_mtime))
        outcome = outcome_for(ctx, check, feedback)
        row = ledger.record_in(db, arrival, outcome)
    except BaseException:
        db.execute("ROLLBACK TO one_file")
        db.execute("RELEASE one_file")
        raise
    db.execute("RELEASE one_file")
    if known is not None:
        known.recorded(row["village_code"], row["period"], row["status"], outcome.record)
    return feedback, row


def _collected(name: str, row: sqlite3.Row, feedback: str | None) -> Collected:
    return Collected(name, row["status"], row["village_name"] or "（未识别）", row["period"] or "", row["version"],
                     row["n_errors"], row["n_warnings"], row["id"], feedback)


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


def feedback_name(village: str, original: str, digest: str) -> str:
    """<村名>_<原文件名>_<摘要>_校验结果.xlsx, safe and bounded however long or odd the original name."""
    return file_name(village, Path(original).stem, keep=(digest[:8], "校验结果"), suffix=".xlsx")


def write_feedback(ctx: Context, check: FileCheck, data: bytes, path: Path, digest: str, built: bytes | None = None) -> str:
    """Save the annotated copy of a file sent back (``built``: already made, e.g. by a worker process)."""
    v = check.identity.village
    folder = ctx.workspace.feedback / (str(check.identity.period) if check.identity.period else "未识别")
    target = folder / feedback_name(v.name if v else "", path.name, digest)
    if built is None:
        from ..workbook.feedback import feedback_copy, feedback_heading  # openpyxl: only for files sent back

        built, note = feedback_copy(data, check.read.format, path.name, check.problems, feedback_heading(ctx.programme))
        if note is not None:
            check.problems.append(note)
    atomic_write(target, built)
    return str(target.relative_to(ctx.workspace.root))


def _arrived(mtime: float) -> str:
    """When a dropped file arrived: its modification time (never later than now)."""
    when = min(datetime.fromtimestamp(mtime).astimezone(), datetime.now().astimezone())
    return when.isoformat(timespec="seconds")


def _tidy(path: Path, processed: Path) -> None:
    """Move a recorded file out of inbox/ into inbox/已处理/<date>/ (never overwriting).

    The name is kept; a name too long for " (2)" to be added is shortened first (whole characters).
    """
    folder = processed / date.today().isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if len(path.suffix) <= 16 else ""
    stem = path.name[: len(path.name) - len(suffix)]
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8")) - len(" (99)")
    if len(path.name.encode("utf-8")) > MAX_NAME_BYTES:
        stem = shorten(stem, room)
    target = folder / f"{stem}{suffix}"
    n = 2
    while target.exists():
        target = folder / f"{shorten(stem, room)} ({n}){suffix}"
        n += 1
    os.replace(path, target)


def summary_rows(summary: CollectSummary) -> list[dict[str, Any]]:
    return [item.__dict__ for item in summary.items]
