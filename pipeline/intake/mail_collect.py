"""Collect from the township's mailbox: every new message, exactly once, one at a time.

Only the UIDs are listed up front; each message is fetched, handled (``mail_message``) and let go
before the next is fetched, so memory holds one message at a time however full the mailbox is.
The first collect of a mailbox fixes its start day (``since``; by default the first day of the
previous month) so that years of history in the INBOX are not replayed and answered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from ..ledger.archive import Archive
from ..ledger.db import Ledger
from ..ledger.mail import mailbox_state, note_earlier_sent_files, start_mailbox
from ..problems import Problem
from .checker import Checker
from .folder import CollectSummary
from .mail_message import Mailbox, handle
from .mailbox import IMAP_ERRORS, AfterProcessing, fetch, new_uids, open_mailbox, uidvalidity
from .mailconfig import MailSettings, default_since

if TYPE_CHECKING:
    from ..api import Context


def mailbox_key(settings: MailSettings) -> str:
    assert settings.imap is not None
    return f"{settings.imap.user}@{settings.imap.host}/{settings.folder}"


def collect_mail(ctx: Context, ledger: Ledger, archive: Archive, settings: MailSettings, summary: CollectSummary,
                 progress: Callable[[int, int, str], None] | None = None, today: date | None = None) -> None:
    key = mailbox_key(settings)
    note_earlier_sent_files(ledger, ctx.workspace.root)  # once per mail sent before files were remembered
    with open_mailbox(settings) as client:
        validity = uidvalidity(client, settings.folder)
        state = mailbox_state(ledger, key)
        if state is None or state.since is None:
            start_mailbox(ledger, key, validity, (settings.since or default_since(today or date.today())).isoformat())
            state = mailbox_state(ledger, key)
            assert state is not None
        since = settings.since or date.fromisoformat(str(state.since))
        uids = new_uids(client, state.last_uid if state.uidvalidity == validity else 0, since)
        tidy = AfterProcessing(client, settings)
        # attachments are read in a worker process, as inbox files are: a native crash kills a worker, not the run
        checker = Checker(ctx.programme, ctx.registry, ctx.secret, ctx.workspace.limits, len(uids), feedback="none",
                          share_dir=ctx.workspace.state)
        box = Mailbox(key, validity, settings.answers, settings.domain, checker)
        with checker:
            _each(ctx, ledger, archive, box, client, uids, tidy, settings, summary, progress)


def _each(ctx: Context, ledger: Ledger, archive: Archive, box: Mailbox, client: Any, uids: list[int], tidy: Any,
          settings: MailSettings, summary: CollectSummary, progress: Callable[[int, int, str], None] | None) -> None:
    for n, uid in enumerate(uids):
        if progress:
            progress(n, len(uids), f"邮件 {uid}")
        item = fetch(client, uid)
        if item is None:  # gone since it was listed (deleted or moved by someone else)
            continue
        letter = handle(ctx, ledger, archive, box, item, summary)
        del item  # before the next one is fetched: one message in memory at a time
        if letter:  # a village's words for the clerk: left unread where the clerk's mail program shows it
            continue
        try:
            tidy(uid)
        except IMAP_ERRORS as exc:  # the message is safely recorded; flagging/moving is a courtesy
            done = f"移到文件夹“{settings.move_to}”" if settings.after == "move" else "标为已读"
            summary.problems.append(Problem("M014", value=f"{done}（{exc}）", detail=str(uid)))
