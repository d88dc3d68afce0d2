"""``huizong collect``: the inbox folder, then the mailbox, then the replies — under the workspace lock."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..ledger.archive import Archive
from ..ledger.db import Ledger
from ..problems import HuizongError
from ..workspace import sweep_temporaries
from .folder import CollectSummary, collect_folder
from .lock import workspace_lock
from .mailconfig import mail_settings
from .outbox import send_pending
from .outliers import recheck_without_history

if TYPE_CHECKING:
    from ..api import Context


def collect(ctx: Context, progress: Callable[[int, int, str], None] | None = None, mail: bool = True) -> CollectSummary:
    ws = ctx.workspace
    summary = CollectSummary()
    settings = mail_settings(ws.settings) if mail else None
    with workspace_lock(ws), Ledger(ws.ledger_path) as ledger:
        sweep_temporaries(ws.archive, ws.feedback, ws.state)  # a run killed mid-write left its temp files: the lock says it is over
        archive = Archive(ws.archive)
        collect_folder(ctx, ledger, archive, summary, progress)
        if settings is not None and settings.imap is not None:
            from .mail_collect import collect_mail

            try:
                collect_mail(ctx, ledger, archive, settings, summary, progress)
            except HuizongError as exc:  # the folder's files are in; say what is wrong with the mailbox
                summary.problems += exc.problems
        # whether a first month's typo is flagged must not depend on which file came first (nor on a run cut short)
        summary.notices += recheck_without_history(ctx, ledger, archive)
        if settings is not None:
            report = send_pending(ledger, settings, ws.root)
            summary.replies_sent += report.sent
            summary.problems += report.problems
        if progress:
            progress(1, 1, "")
    return summary
