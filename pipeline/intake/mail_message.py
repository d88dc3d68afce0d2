"""One message of the township's mailbox, from its raw bytes to the ledger and the outbox.

Its raw bytes go into the archive (.eml) first. Automatic mail (a bounce, an auto-reply, a
newsletter, spam: see ``automail``) stops there: recorded with the reason, never answered, its
attachments never taken for reports — a bounce quotes our own reminder with a village's template.
Otherwise every report attachment's bytes are archived and checked (plus: is the sender
registered for that village?), and ONE transaction records the message, every file's submission
and the reply it calls for. A crash before that commit leaves nothing half-done (the next run
does the message again); a crash after it leaves nothing to redo.

Poison isolation: a failure while handling the message (after its bytes are safe) becomes a
located problem on it (M013), recorded with the message, so the rest of the mailbox goes on and
the message is never tried again. A message that stopped two runs outright (a crash of the
process) is recorded the same way on the third, without being handled. Only trouble of this
computer (disk full, read-only folder, the ledger locked) stops the run: the next run does the
message again, and nothing is lost.
"""

from __future__ import annotations

import dataclasses
import errno
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..check import FileCheck, check_bytes
from ..ledger.archive import Archive, sha256
from ..ledger.db import ACCEPTED, DUPLICATE, REJECTED, Arrival, Ledger
from ..ledger.mail import begin_attempt, forget_attempt, queue, record_message, seen, sent_files
from ..problems import HuizongError, Problem
from ..validate.identity import check_sender
from .faults import crash_point
from .folder import CollectSummary, collected, doubt_another_month, outcome_for, write_feedback
from .mailbox import Fetched
from .mime import Ignored, Message, parse_message
from .outliers import add_outlier_warnings
from .replies import OWN_FILES, Result, message_reply

if TYPE_CHECKING:
    from ..api import Context

MAX_ATTEMPTS = 2  # runs that may die on one message before it is set aside unhandled
LOCAL_TROUBLE = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO}


@dataclass(frozen=True)
class Mailbox:
    key: str  # user@host/folder
    uidvalidity: int
    reply: bool  # queue replies (settings: reply and an SMTP server)
    domain: str  # for our Message-IDs
    checker: Any = None  # a checker.Checker: attachments read in worker processes (a crash kills a worker, not the run)


def local_trouble(exc: BaseException | None) -> bool:
    """This computer's trouble, not the message's (a full disk, a read-only or locked folder, the
    ledger busy, a workspace problem): stop, and do the message again next run."""
    if exc is None:
        return False
    if isinstance(exc, sqlite3.OperationalError) or (isinstance(exc, OSError) and exc.errno in LOCAL_TROUBLE):
        return True
    if isinstance(exc, HuizongError) and any(p.code.startswith("X") for p in exc.problems):
        return True
    return local_trouble(exc.__cause__)


def handle(ctx: Context, ledger: Ledger, archive: Archive, box: Mailbox, item: Fetched, summary: CollectSummary) -> bool:
    """Handle one fetched message. Its bytes are taken from ``item``: once archived they are let go
    and the message is parsed from the archived file, so memory never holds both. True when the
    message is a village's letter for the clerk to read: it is left in the folder as it is."""
    raw = item.take()
    digest = sha256(raw)
    received = iso(item.internal_date)  # lateness counts from the server's arrival, not the sender's clock
    if seen(ledger, box.key, box.uidvalidity, item.uid, digest):
        with ledger.transaction() as db:  # processed under an earlier UIDVALIDITY: only move on
            record_message(db, box.key, box.uidvalidity, item.uid, parse_message(raw), digest, received, 0)
        return False
    _, eml = archive.put(raw, ".eml")
    del raw
    crash_point("mail_archived")
    if begin_attempt(ledger, box.key, box.uidvalidity, item.uid) > MAX_ATTEMPTS:
        _set_aside(ledger, box, item.uid, eml, digest, received, summary, "处理它时程序两次中断", None)
        return False
    message: Message | None = None
    try:
        message = parse_message(eml)
        crash_point("mail_parsed")
        return _process(ctx, ledger, archive, box, item.uid, message, digest, received, summary)
    except Exception as exc:
        if local_trouble(exc):
            _not_an_attempt(ledger, box, item.uid)
            raise
        _set_aside(ledger, box, item.uid, eml, digest, received, summary, f"{type(exc).__name__}: {str(exc)[:160]}", message)
        return False


def _not_an_attempt(ledger: Ledger, box: Mailbox, uid: int) -> None:
    """A run stopped by this computer's trouble must not count against the message."""
    try:
        forget_attempt(ledger, box.key, box.uidvalidity, uid)
    except Exception:  # the ledger itself may be what is in trouble; the original error is what matters
        pass


def _where(uid: int, message: Message | None) -> str:
    if message is None:
        return f"（邮箱中第 {uid} 封）"
    return f"“{message.subject[:40] or '（无主题）'}”（{message.sender or '发件人不明'}，邮箱中第 {uid} 封）"


def _set_aside(ledger: Ledger, box: Mailbox, uid: int, eml: Path, digest: str, received: str, summary: CollectSummary,
               why: str, message: Message | None) -> None:
    """Record the message as handled, with the problem that stopped it: never tried again."""
    if message is None:
        try:
            message = parse_message(eml)
        except Exception:
            message = Message("sha256:" + digest, "", "", "", None)
    problem = Problem("M013", value=why, detail=_where(uid, message))
    with ledger.transaction() as db:
        record_message(db, box.key, box.uidvalidity, uid, message, digest, received, 0, problem.code, problem.message)
    summary.problems.append(problem)


def _without_our_files(ledger: Ledger, message: Message) -> Message:
    """The message without the files we mailed out that came back unchanged: they are listed, not recorded."""
    digests = [sha256(a.data) for a in message.attachments]
    ours = sent_files(ledger, digests)
    if not ours:
        return message
    kept = [a for a, d in zip(message.attachments, digests) if d not in ours]
    told = [Ignored(a.path, OWN_FILES.get(ours[d], OWN_FILES[""]), ours=True) for a, d in zip(message.attachments, digests) if d in ours]
    return dataclasses.replace(message, attachments=kept, ignored=[*message.ignored, *told])


def _add_previews(ctx: Context, ledger: Ledger, results: list[Result]) -> None:
    """What each accepted report comes to with the village's earlier months (score, subsidies, judgements), for
    the reply: a typo only the village can see (诱杀 1 typed 0) is seen before the 通报. Left out if it fails:
    the reports are recorded and the reply goes all the same."""
    from ..programme.calendar import year_months
    from ..score.preview import preview

    for k, r in enumerate(results):
        village, period = r.check.identity.village, r.check.identity.period
        if r.row["status"] != ACCEPTED or village is None or period is None:
            continue
        try:
            months = [str(m) for m in year_months(ctx.programme, period)]
            lines = preview(ctx.programme, village, period, ledger.latest_accepted(ctx.programme.id, months, village.code))
        except Exception as exc:
            if local_trouble(exc):
                raise
            continue
        results[k] = dataclasses.replace(r, preview=tuple(lines))


def _process(ctx: Context, ledger: Ledger, archive: Archive, box: Mailbox, uid: int, message: Message, digest: str,
             received: str, summary: CollectSummary) -> bool:
    where = _where(uid, message)
    auto = message.automatic
    if auto is not None:
        notices = [Problem("M006", value=auto.reason, detail=f"{where}，{auto.signal}")]
        for address in auto.bounced:
            owner = ctx.registry.by_email(address)
            notices.append(Problem("M007", value=f"{address}（{owner.name}）" if owner else address,
                                   detail=auto.diagnostic or where))
        if message.attachments:
            notices.append(Problem("M009", value="、".join(a.name for a in message.attachments), detail=where))
        with ledger.transaction() as db:
            record_message(db, box.key, box.uidvalidity, uid, message, digest, received, 0, "M006", notices[0].message)
        summary.notices += notices
        return False
    message = _without_our_files(ledger, message)
    sender = ctx.registry.by_email(message.sender)
    registered = sender is not None
    if not message.attachments and not registered:  # spam-like: answering it would only confirm our address
        notice = Problem("M008", detail=where)
        with ledger.transaction() as db:
            record_message(db, box.key, box.uidvalidity, uid, message, digest, received, 0, "M008", notice.message)
        summary.notices.append(notice)
        return False
    stored = []
    for attachment in message.attachments:  # every attachment is in the archive before anything reads it
        ext = Path(attachment.name).suffix.lower() or ".bin"
        stored.append((attachment, archive.put(attachment.data, ext)[0]))
    if box.checker is not None:
        found = [check for check, _ in box.checker.check([(a.data, a.name) for a, _ in stored])]
    else:
        found = [check_bytes(a.data, a.name, ctx.programme, ctx.registry, ctx.secret, ctx.workspace.limits) for a, _ in stored]
    checks = []
    for (attachment, file_digest), check in zip(stored, found):
        problem = check_sender(check.identity, message.sender, ctx.registry, attachment.name)
        if problem is not None:
            check.problems.append(problem)
        checks.append((attachment, check, file_digest))
    results: list[Result] = []
    trouble: Problem | None = None
    with ledger.transaction() as db:
        for index, (attachment, check, file_digest) in enumerate(checks):
            name = attachment.name
            add_outlier_warnings(ctx, ledger, check)
            doubt_another_month(ledger, check, name)
            feedback = _feedback(ctx, check, attachment.data, name, file_digest, summary, where)
            ref = f"mail:{box.key}:{box.uidvalidity}:{uid}:{index}:{file_digest}"
            arrival = Arrival("mail", ref, name, file_digest, len(attachment.data), Path(name).suffix.lower(), message.sender,
                              received, message.message_id)
            row = dict(ledger.record_in(db, arrival, outcome_for(ctx, check, feedback)))
            results.append(Result(name, check, row, feedback, *_standing(db, row)))
        answer = None
        if box.reply and message.sender:  # no address to answer: the clerk sees the reports in the results
            _add_previews(ctx, ledger, results)
            try:
                answer = message_reply(message, results, ctx.programme, ctx.workspace.organ, box.domain, registered, digest)
                if answer is not None:
                    queue(db, answer)
            except Exception as exc:  # the reports are recorded all the same; the clerk answers by hand
                if local_trouble(exc):
                    raise
                trouble = Problem("M017", value=f"{type(exc).__name__}: {str(exc)[:120]}", detail=where)
        record_message(db, box.key, box.uidvalidity, uid, message, digest, received, len(checks),
                       trouble.code if trouble else None, trouble.message if trouble else None)
    crash_point("mail_recorded")
    if trouble is not None:
        summary.problems.append(trouble)
    for r in results:
        row = r.row
        summary.items.append(collected(r.name, row, r.feedback, message.sender))
    if not results:
        summary.messages_without_reports += 1
    if results and message.big_link:  # the reply asks for it as an attachment; the clerk should know one is owed
        summary.notices.append(Problem("M019", value=message.big_link, detail=f"{where}，发件人 {message.sender}"))
    if results or sender is None:
        return False
    # a village's mail with no report in it: a question, a thanks, a forgotten attachment — the clerk reads it
    words = (message.text[:60] + ("……" if len(message.text) > 60 else "")) if message.text else "（没有正文）"
    told = ("已自动回复，请对方附上报表" if answer is not None else "没有设置自动回复" if not box.reply
            else "回复没有生成（见 M017）" if trouble is not None else "没有自动回复（是对镇里邮件的回复）")
    summary.notices.append(Problem("M005", value=f"{sender.name}（{message.sender}）",
                                   detail=f"主题“{message.subject[:40] or '（无主题）'}”：{words}；{told}；这封邮件留在邮箱中未移动"))
    return True


def _feedback(ctx: Context, check: FileCheck, data: bytes, name: str, digest: str, summary: CollectSummary, where: str) -> str | None:
    """The annotated copy of a file sent back; if it cannot be made, the file is still recorded."""
    if check.status != REJECTED:
        return None
    try:
        return write_feedback(ctx, check, data, Path(name), digest)
    except Exception as exc:
        if local_trouble(exc):
            raise
        summary.problems.append(Problem("M016", value=name[:60] + ("……" if len(name) > 60 else ""),
                                        detail=f"{where}，{type(exc).__name__}: {str(exc)[:80]}"))
        return None


def _standing(db: sqlite3.Connection, row: dict[str, object]) -> tuple[dict[str, object] | None, int | None]:
    """For a resend (重复): the submission the same bytes made first, as it stands now, and the
    accepted version that counts now for its village and month — after a refusal, only a version
    accepted since it (a correction), else None: the village still has something to fix. For a file
    refused again: the refusal of the same bytes before it (checked again, refused again, unchanged)."""
    if row["status"] == REJECTED:
        first = db.execute("SELECT s.*, r.received_at FROM submissions s JOIN receipts r ON r.id = s.receipt_id"
                           " WHERE s.sha256 = ? AND s.id < ? AND s.status = ? ORDER BY s.id LIMIT 1",
                           (row["sha256"], row["id"], REJECTED)).fetchone()
    elif row["status"] == DUPLICATE and row["duplicate_of"] is not None:
        first = db.execute(
            "SELECT s.*, r.received_at FROM submissions s JOIN receipts r ON r.id = s.receipt_id WHERE s.id = ?",
            (row["duplicate_of"],),
        ).fetchone()
    else:
        return None, None
    if first is None:
        return None, None
    since = first["id"] if first["status"] == REJECTED else 0
    current = db.execute("SELECT MAX(version) AS v FROM submissions WHERE village_code IS ? AND period IS ? AND status = ? AND id > ?",
                         (first["village_code"], first["period"], ACCEPTED, since)).fetchone()
    return dict(first), (int(current["v"]) if current and current["v"] is not None else None)


def iso(when: datetime | None) -> str:
    return (when or datetime.now().astimezone()).astimezone().isoformat(timespec="seconds")
