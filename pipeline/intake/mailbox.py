"""Fetch new messages from the township's IMAP mailbox (imap-tools), by UID, never changing them
unless the settings say so. Raw bytes out — parsing is ``mime``'s job."""

from __future__ import annotations

import imaplib
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from imap_tools import A, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import MailboxLoginError

from ..problems import HuizongError, Problem
from .mailconfig import MailSettings, Server


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    internal_date: datetime | None


def _client(server: Server, timeout: float) -> BaseMailBox:
    if server.security == "ssl":
        return MailBox(server.host, server.port, timeout=timeout, ssl_context=ssl.create_default_context())
    if server.security == "starttls":
        return MailBoxStartTls(server.host, server.port, timeout=timeout, ssl_context=ssl.create_default_context())
    return MailBoxUnencrypted(server.host, server.port, timeout=timeout)


@contextmanager
def open_mailbox(settings: MailSettings) -> Iterator[BaseMailBox]:
    server = settings.imap
    assert server is not None
    where = f"{server.host}:{server.port}"
    try:
        box = _client(server, settings.timeout)
    except (TimeoutError, OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
        raise HuizongError(Problem("M002", detail=f"{where}（{type(exc).__name__}: {exc}）")) from exc
    try:
        box.login(server.user, settings.password(server), initial_folder=settings.folder)
    except MailboxLoginError as exc:
        raise HuizongError(Problem("M003", detail=f"{server.user}@{where}")) from exc
    except (OSError, imaplib.IMAP4.error) as exc:
        raise HuizongError(Problem("M002", detail=f"{where}（{exc}）")) from exc
    try:
        yield box
    finally:
        try:
            box.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


def uidvalidity(box: BaseMailBox, folder: str) -> int:
    status = box.folder.status(folder, ["UIDVALIDITY"])
    return int(status["UIDVALIDITY"])


def new_messages(box: BaseMailBox, after_uid: int) -> Iterator[Fetched]:
    """Messages with a UID above ``after_uid``, oldest first: their exact bytes, fetched with
    BODY.PEEK[] so that collecting never marks a message as read."""
    criteria = A(uid=f"{after_uid + 1}:*")
    uids = sorted(int(u) for u in box.uids(criteria) if int(u) > after_uid)  # "n:*" also matches the last UID
    for uid in uids:
        typ, data = box.client.uid("FETCH", str(uid), "(BODY.PEEK[] INTERNALDATE)")
        if typ != "OK":
            continue
        for part in data:
            if isinstance(part, tuple) and len(part) == 2:
                head, raw = part
                yield Fetched(uid, bytes(raw), _internal_date(head))
                break


def _internal_date(head: bytes) -> datetime | None:
    parsed = imaplib.Internaldate2tuple(head)  # local time tuple, as imaplib documents
    return datetime.fromtimestamp(time.mktime(parsed)).astimezone() if parsed else None


def after_processing(box: BaseMailBox, settings: MailSettings, uid: int) -> None:
    """What the settings ask for once a message is safely in the ledger: nothing, \\Seen, or a move."""
    if settings.after == "seen":
        box.flag(str(uid), "\\Seen", True)
    elif settings.after == "move" and settings.move_to:
        box.move(str(uid), settings.move_to)
