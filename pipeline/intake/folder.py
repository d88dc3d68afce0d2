"""Collect the files dropped into inbox/: archive first, then check, then record, then tidy up.

Order matters for "nothing lost": the raw bytes are in the archive before anything parses them;
the ledger row (one transaction) is written before the file leaves inbox/. A crash anywhere
leaves either an untouched inbox file (done again on the next run) or a recorded one whose
arrival the next run recognises by its source reference (file name, size, modification time).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..check import FileCheck, failed_check, redacted_problems, stored_record
from ..filenames import MAX_NAME_BYTES, arrival_key, file_name, readable, safe_suffix, shorten
from ..ledger.archive import Archive, sha256, sha256_file
from ..ledger.db import ACCEPTED, DUPLICATE, PENDING, REJECTED, Arrival, Ledger, Outcome
from ..problems import HuizongError, Problem
from ..validate.identity import name_month
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
    reason: str = ""  # why it was sent back (its first error) or waits for the township (待确认), as the reply says it


@dataclass
class CollectSummary:
    items: list[Collected] = field(default_factory=list)
    resumed: list[Collected] = field(default_factory=list)  # recorded by an interrupted earlier run, only tidied now
    problems: list[Problem] = field(default_factory=list)  # mailbox or SMTP trouble (the rest went on)
    notices: list[Problem] = field(default_factory=list)  # for the clerk: mail not answered (bounces, auto-replies...), numbers found out of line after the fact
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


# what Windows Explorer and macOS leave in a folder by themselves (thumbnails, folder settings): never a report,
# never the village's file — they were sent back as 退回 reports of no village
SYSTEM_FILES = frozenset(("thumbs.db", "desktop.ini", ".ds_store", "ehthumbs.db", "ehthumbs_vista.db"))


def inbox_files(inbox: Path) -> list[tuple[Path, os.stat_result]]:
    """The files waiting in inbox/, in order of arrival (a file gone meanwhile is simply not there)."""
    if not inbox.is_dir():
        return []
    files = []
    for p in inbox.iterdir():
        if p.name.startswith(IGNORED_PREFIXES) or p.name.endswith(".tmp") or p.name.lower() in SYSTEM_FILES:
            continue
        try:
            st = p.stat()
        except OSError:
            continue
        if p.is_file():
            files.append((p, st))
    return sorted(files, key=lambda f: (f[1].st_mtime_ns, f[0].name))


def inbox_notices(inbox: Path, processed: Path) -> list[Problem]:
    """What in inbox/ will not be collected, said rather than passed over: the folder itself missing (deleted,
    a file in its place, a USB stick or network drive not connected), and folders inside it."""
    if not inbox.is_dir():
        return [Problem("X039", detail=str(inbox))]
    out = []
    try:
        entries = sorted(inbox.iterdir(), key=lambda q: q.name)
    except OSError:
        return [Problem("X039", detail=str(inbox))]
    for q in entries:
        if q.name.startswith(IGNORED_PREFIXES) or q.name in (processed.name, processed.name + PROCESSED_STAND_IN):
            continue
        try:
            if q.is_dir():
                out.append(Problem("X038", value=readable(q.name)))
            elif not q.is_file():  # a shortcut to nothing, a pipe: nothing to read, said rather than passed over
                why = "快捷方式指向的文件不存在" if q.is_symlink() and not q.exists() else "不是普通文件"
                out.append(Problem("X040", value=readable(q.name), detail=why))
        except OSError:
            continue
    return out


PROCESSED_STAND_IN = "（已收取）"  # the tidy folder's name beside a plain file called 已处理

BATCH = 64  # files read into memory at once (two batches at most): bounds memory however full the inbox is


@dataclass
class _Arrived:
    path: Path
    st: os.stat_result
    ref: str
    name: str  # the file's name as shown and stored (``readable``)
    data: bytes
    digest: str
    size: int
    refused: FileCheck | None = None  # refused without being read (larger than the size limit)


def collect_folder(ctx: Context, ledger: Ledger, archive: Archive, summary: CollectSummary,
                   progress: Callable[[int, int, str], None] | None = None) -> None:
    """Archive, check, record and tidy the inbox, a batch at a time.

    While the workers check one batch, this process archives the next; a batch's ledger rows go in
    one transaction, and only then do its files leave inbox/ (a crash before the commit leaves them
    all there, to be done again; archiving is idempotent).
    """
    ws = ctx.workspace
    summary.problems += inbox_notices(ws.inbox, ws.processed)
    todo = []
    for path, st in inbox_files(ws.inbox):
        name = readable(path.name)  # a GBK name from a network share is stored, shown and moved as Chinese
        try:
            ref, receipt = _arrival(ledger, path, st)
        except OSError as exc:  # cannot be read now (held open, taken away): it stays for the next run
            summary.problems.append(Problem("X012", file=name, detail=f"inbox/{name}（{exc.strerror or exc}）"))
            continue
        if receipt is not None:  # recorded by an earlier run: tidy up, and say what it was (X037 if it cannot move yet)
            moved = _tidy_or_say(path, name, ws.processed, summary)
            row = ledger.conn.execute("SELECT * FROM submissions WHERE receipt_id = ?", (receipt["id"],)).fetchone()
            if row is not None and moved:
                summary.resumed.append(collected(name, row, row["feedback_path"]))
        else:
            todo.append((path, st, ref, name))
    rule = plausibility(ctx.programme).outliers
    known = OutlierHistory(ctx.programme.id, ledger, rule) if rule is not None else None
    with Checker(ctx.programme, ctx.registry, ctx.secret, ws.limits, len(todo), share_dir=ws.state) as checker:
        waiting: tuple[int, list[_Arrived], Iterator[Checked]] | None = None
        for start in range(0, len(todo), BATCH):
            batch = _archive_batch(archive, todo[start:start + BATCH], summary, ws.limits.max_file_bytes)
            checks = _in_order(batch, checker.check([(a.data, a.name) for a in batch if a.refused is None]))  # under way
            if waiting is not None:
                _record_batch(ctx, ledger, summary, *waiting, len(todo), progress, known)
            waiting = (start, batch, checks)
        if waiting is not None:
            _record_batch(ctx, ledger, summary, *waiting, len(todo), progress, known)


def _archive_batch(archive: Archive, items: list[tuple[Path, os.stat_result, str, str]], summary: CollectSummary,
                   max_bytes: int) -> list[_Arrived]:
    """The raw bytes are safe in the archive before anything parses them (fsyncs overlap in threads).

    Each distinct content is stored by one thread only: a village often sends the same file twice,
    and two threads replacing the same (read-only) archive file would fail on Windows. A file that
    cannot be read (held open by another program, no permission) stays in inbox/ for the next run.
    A file over the size limit is archived in pieces and refused (F010) without being read into
    memory: a 4 GB file would otherwise stop every collection on an office PC.
    """
    out = []
    for path, st, ref, name in items:
        try:
            if st.st_size > max_bytes:
                digest, size = archive.put_file(path, Path(name).suffix)
                refused = failed_check(name, "F010", f"{size / 1024 / 1024:.1f} MB，上限 {max_bytes / 1024 / 1024:.0f} MB")
                out.append(_Arrived(path, st, ref, name, b"", digest, size, refused))
                continue
            data = path.read_bytes()
        except FileNotFoundError:  # taken away meanwhile
            continue
        except OSError as exc:
            if machine_trouble(exc) is not None and exc.filename != str(path):  # the archive's disk, not this file
                raise
            summary.problems.append(Problem("X012", file=name, detail=f"inbox/{name}（{exc.strerror or exc}）"))
            continue
        out.append(_Arrived(path, st, ref, name, data, sha256(data), len(data)))
    distinct = {(a.digest, safe_suffix(Path(a.name).suffix.lower())): a.data for a in out if a.refused is None}  # one archive file, one thread
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
                progress(i, total, a.name)
            try:
                feedback, row = _record_one(ctx, ledger, db, a, check, annotated, known)
            except Exception as exc:  # a defect of ours on this one file: it is sent back as F013, the batch goes on
                if isinstance(exc, (HuizongError, sqlite3.Error)) or machine_trouble(exc) is not None:
                    raise  # the machine's trouble (disk full, read-only): nothing of this batch is kept
                feedback, row = _record_one(ctx, ledger, db, a, failed_check(a.name, "F013", exc), None, known)
            rows.append((a, feedback, row))
            crash_point("recorded")
    for a, feedback, row in rows:
        _tidy_or_say(a.path, a.name, ws.processed, summary)
        crash_point("tidied")
        summary.items.append(collected(a.name, row, feedback))


def _in_order(batch: list[_Arrived], checks: Iterator[Checked]) -> Iterator[Checked]:
    """The batch's checks in its order: the workers' results, and the refusals made without reading."""
    for a in batch:
        yield (a.refused, None) if a.refused is not None else next(checks)


def _arrival(ledger: Ledger, path: Path, st: os.stat_result) -> tuple[str, Any]:
    """The file's arrival reference, and its receipt if an earlier (interrupted) run recorded it.

    Name, size and modification time, as the file system gives the name (two names shown alike stay
    apart); where they match a receipt whose content differs — a corrected file that kept the name,
    size and time of the one before, as copy tools keep times — the content's digest as well.
    """
    ref = f"folder:{arrival_key(path.name)}:{st.st_size}:{st.st_mtime_ns}"
    receipt = ledger.receipt_for(ref)
    if receipt is not None:
        digest = sha256_file(path)
        if digest != receipt["sha256"]:
            ref = f"{ref}:{digest[:16]}"
            receipt = ledger.receipt_for(ref)
    return ref, receipt


def _record_one(ctx: Context, ledger: Ledger, db: sqlite3.Connection, a: _Arrived, check: FileCheck,
                annotated: bytes | None, known: OutlierHistory | None = None) -> tuple[str | None, sqlite3.Row]:
    """One file's feedback copy and ledger row, inside a savepoint: a failure leaves no half of it behind."""
    db.execute("SAVEPOINT one_file")
    try:
        add_outlier_warnings(ctx, ledger, check, known)
        doubt_another_month(ledger, check, a.name)
        feedback = write_feedback(ctx, check, a.data, Path(a.name), a.digest, annotated) if check.status == REJECTED else None
        arrival = Arrival("folder", a.ref, a.name, a.digest, a.size, Path(a.name).suffix.lower(), None, _arrived(a.st.st_mtime))
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


def collected(name: str, row: sqlite3.Row | dict[str, Any], feedback: str | None, sender: str | None = None) -> Collected:
    return Collected(name, row["status"], row["village_name"] or "（未识别）", row["period"] or "", row["version"],
                     row["n_errors"], row["n_warnings"], row["id"], feedback, sender, reason_of(row))


def reason_of(row: sqlite3.Row | dict[str, Any]) -> str:
    """The first error of a file sent back, or why one waits for the township (待确认): what the clerk is told
    beside the file (the feedback copy lists every problem)."""
    if row["status"] not in (REJECTED, PENDING):
        return ""
    try:
        problems = json.loads(row["problems_json"] or "[]")
    except (TypeError, ValueError, IndexError, KeyError):
        return ""
    errors = [p for p in problems if p.get("severity") == "错误"]
    # sent back: a problem of the form first (its identity's "已转为待确认" is not what happened to it)
    ordered = [p for p in errors if not str(p.get("code", "")).startswith("I")] + errors if row["status"] == REJECTED else errors
    return str(ordered[0].get("message", "")) if ordered else ""


def doubt_another_month(ledger: Ledger, check: FileCheck, name: str) -> None:
    """A good report whose file name speaks of another month (“柳塘村1月报表.xlsx” in the December template), about
    to replace the village's accepted report of the month: January's numbers would become December's, unsaid
    (a new version of a month is a correction). It waits for the township instead (I011, 待确认)."""
    village, period = check.identity.village, check.identity.period
    if check.status != ACCEPTED or village is None or period is None:
        return
    said = name_month(name, period)
    if not said:
        return
    row = ledger.conn.execute("SELECT MAX(version) AS v FROM submissions WHERE village_code = ? AND period = ? AND status = ?",
                              (village.code, str(period), ACCEPTED)).fetchone()
    if row is not None and row["v"]:
        check.problems.append(Problem("I011", file=name, value=said, detail=f"{period.chinese}，它会替换已接收的第 {row['v']} 版"))


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
    candidates = [target] + [target.with_name(f"{target.stem} ({n}){target.suffix}") for n in range(2, 10)]
    for candidate in candidates:  # the copy of an earlier identical file may be open in Excel: then beside it
        try:
            atomic_write(candidate, built)
            break
        except HuizongError as exc:
            if candidate == candidates[-1] or any(p.code != "X004" for p in exc.problems):
                raise
    return str(candidate.relative_to(ctx.workspace.root))


def _arrived(mtime: float) -> str:
    """When a dropped file arrived: its modification time (never later than now)."""
    when = min(datetime.fromtimestamp(mtime).astimezone(), datetime.now().astimezone())
    return when.isoformat(timespec="seconds")


def _tidy_or_say(path: Path, name: str, processed: Path, summary: CollectSummary) -> bool:
    """``_tidy``; a recorded file that cannot be moved (open in Excel on Windows, read-only) stays in inbox/,
    said in a warning: the next run recognises it and moves it then. One such file never stops a run.
    Whether it left inbox/."""
    try:
        _tidy(path, processed, name)
    except FileNotFoundError:  # taken away meanwhile (antivirus, a sync tool): it is archived and recorded
        pass
    except OSError as exc:
        summary.problems.append(Problem("X037", file=name, value=name, detail=exc.strerror or str(exc)))
        return False
    return True


def _tidy(path: Path, processed: Path, name: str | None = None) -> None:
    """Move a recorded file out of inbox/ into inbox/已处理/<date>/ (never overwriting).

    The name is kept (as ``name``: readable); a name too long for " (2)" to be added is shortened first
    (whole characters). A file called 已处理 in the way gets the folder a name of its own beside it.
    """
    name = name or readable(path.name)
    if processed.exists() and not processed.is_dir():
        processed = processed.with_name(processed.name + PROCESSED_STAND_IN)
    folder = processed / date.today().isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    suffix = safe_suffix(Path(name).suffix)
    stem = name[: len(name) - len(suffix)]
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8")) - len(" (99)")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        stem = shorten(stem, room)
    target = folder / f"{stem}{suffix}"
    n = 2
    while target.exists():
        target = folder / f"{shorten(stem, room)} ({n}){suffix}"
        n += 1
    os.replace(path, target)


def summary_rows(summary: CollectSummary) -> list[dict[str, Any]]:
    return [item.__dict__ for item in summary.items]
