"""Collect from the township's mailbox: every new message, exactly once.

For each message (oldest first): its raw bytes go into the archive (.eml), then every report
attachment's bytes; the files are checked (plus: is the sender registered for that village?);
then ONE transaction records the message, every file's submission and the reply it calls for.
A crash before that commit leaves nothing half-done (the next run does the message again); a
crash after it leaves nothing to redo (the next run skips it). Replies go out afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..check import FileCheck, check_bytes
from ..ledger.archive import Archive, sha256
from ..ledger.db import REJECTED, Arrival, Ledger
from ..ledger.mail import mailbox_state, queue, record_message, seen
from ..problems import Problem
from ..validate.identity import check_sender
from .faults import crash_point
from .folder import Collected, CollectSummary, outcome_for, write_feedback
from .mailbox import after_processing, new_messages, open_mailbox, uidvalidity
from .mailconfig import MailSettings
from .mime import parse_message
from .outliers import add_outlier_warnings
from .replies import message_reply

if TYPE_CHECKING:
    from ..api import Context


def mailbox_key(settings: MailSettings) -> str:
    assert settings.imap is not None
    return f"{settings.imap.user}@{settings.imap.host}/{settings.folder}"


def collect_mail(ctx: Context, ledger: Ledger, archive: Archive, settings: MailSettings, summary: CollectSummary,
                 progress: Callable[[int, int, str], None] | None = None) -> None:
    key = mailbox_key(settings)
    domain = settings.from_addr.rpartition("@")[2]
    with open_mailbox(settings) as box:
        validity = uidvalidity(box, settings.folder)
        state = mailbox_state(ledger, key)
        after = state[1] if state and state[0] == validity else 0
        fetched = list(new_messages(box, after))
        for n, item in enumerate(fetched):
            if progress:
                progress(n, len(fetched), f"邮件 {item.uid}")
            digest = sha256(item.raw)
            if seen(ledger, key, validity, item.uid, digest):
                with ledger.transaction() as db:  # processed under an earlier UIDVALIDITY: only move on
                    record_message(db, key, validity, item.uid, parse_message(item.raw), digest, _iso(item.internal_date), 0)
                continue
            archive.put(item.raw, ".eml")
            crash_point("mail_archived")
            message = parse_message(item.raw)
            received = _iso(message.date or item.internal_date)
            checks: list[tuple[str, FileCheck, str, bytes]] = []
            for attachment in message.attachments:
                ext = Path(attachment.name).suffix.lower() or ".bin"
                file_digest, _ = archive.put(attachment.data, ext)
                check = check_bytes(attachment.data, attachment.name, ctx.programme, ctx.registry, ctx.secret, ctx.workspace.limits)
                problem = check_sender(check.identity, message.sender, ctx.registry, attachment.name)
                if problem is not None:
                    check.problems.append(problem)
                checks.append((attachment.name, check, file_digest, attachment.data))
            results: list[tuple[str, FileCheck, dict[str, Any], str | None]] = []
            with ledger.transaction() as db:
                for index, (name, check, file_digest, data) in enumerate(checks):
                    add_outlier_warnings(ctx, ledger, check)
                    feedback = write_feedback(ctx, check, data, Path(name), file_digest) if check.status == REJECTED else None
                    ref = f"mail:{key}:{validity}:{item.uid}:{index}:{file_digest}"
                    arrival = Arrival("mail", ref, name, file_digest, len(data), Path(name).suffix.lower(), message.sender, received,
                                      message.message_id)
                    row = ledger.record_in(db, arrival, outcome_for(ctx, check, feedback))
                    results.append((name, check, dict(row), feedback))
                if settings.reply and settings.smtp is not None:
                    queue(db, message_reply(message, results, ctx.programme, ctx.workspace.organ, domain))
                record_message(db, key, validity, item.uid, message, digest, received, len(checks))
            crash_point("mail_recorded")
            for name, _check, saved, feedback in results:
                summary.items.append(Collected(name, saved["status"], saved["village_name"] or "（未识别）", saved["period"] or "",
                                               saved["version"], saved["n_errors"], saved["n_warnings"], saved["id"], feedback, message.sender))
            if not results:
                summary.messages_without_reports += 1
            try:
                after_processing(box, settings, item.uid)
            except Exception as exc:  # the message is safely recorded; flagging/moving is a courtesy
                summary.problems.append(Problem("M002", detail=f"标记邮件 {item.uid} 时出错：{exc}"))


def _iso(when: datetime | None) -> str:
    return (when or datetime.now().astimezone()).astimezone().isoformat(timespec="seconds")
