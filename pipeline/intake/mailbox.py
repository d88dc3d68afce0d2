"""The township's IMAP mailbox (imap-tools): log in, say who we are, open the folder, list the new
messages by UID and fetch them ONE AT A TIME, never changing them unless the settings say so.
Raw bytes out — parsing is ``mime``'s job. Every server refusal becomes a Chinese problem.
"""

from __future__ import annotations

import imaplib
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from imap_tools import A, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError, MailboxFolderSelectError, MailboxLoginError

from .. import __version__
from ..problems import HuizongError, Problem
from .mailconfig import MailSettings, Server

IMAP_ERRORS = (OSError, imaplib.IMAP4.error, ImapToolsError)  # a dropped connection, a refusal, a timeout
# RFC 2971: 163/126/yeah.net answer "NO SELECT Unsafe Login" to a client that has not said who it is
CLIENT_ID = f'("name" "huizong" "version" "{__version__}" "vendor" "huizong")'
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))


@dataclass
class Fetched:
    uid: int
    raw: bytes
    internal_date: datetime | None  # when the server received it (not the sender's clock)

    def take(self) -> bytes:
        """The bytes, handed over: this object keeps none, so they are freed as soon as the
        taker is done with them (a large message is not held twice)."""
        raw, self.raw = self.raw, b""
        return raw


def _client(server: Server, timeout: float) -> BaseMailBox:
    if server.security == "ssl":
        return MailBox(server.host, server.port, timeout=timeout, ssl_context=ssl.create_default_context())
    if server.security == "starttls":
        return MailBoxStartTls(server.host, server.port, timeout=timeout, ssl_context=ssl.create_default_context())
    return MailBoxUnencrypted(server.host, server.port, timeout=timeout)


def _text(exc: ImapToolsError) -> str:
    """What the server said, e.g. ``Unsafe Login. Please contact kefu@188.com for help``."""
    data: list[object] = list(getattr(exc, "command_result", (None, []))[1] or [])
    said = " ".join(d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in data if d)
    return said.strip() or str(exc)


@contextmanager
def open_mailbox(settings: MailSettings) -> Iterator[BaseMailBox]:
    """Connect, log in, send ID where the server offers it, then SELECT the folder."""
    server = settings.imap
    assert server is not None
    where = f"{server.host}:{server.port}"
    try:
        box = _client(server, settings.timeout)
    except (TimeoutError, OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
        raise HuizongError(Problem("M002", detail=f"{where}（{type(exc).__name__}: {exc}）")) from exc
    try:
        _ready(box, settings, where)
        yield box
    finally:
        try:
            box.logout()
        except IMAP_ERRORS:
            pass


def _ready(box: BaseMailBox, settings: MailSettings, where: str) -> None:
    server = settings.imap
    assert server is not None
    try:
        box.login(server.user, settings.password(server), initial_folder=None)
    except MailboxLoginError as exc:
        raise HuizongError(Problem("M003", detail=f"{server.user}@{where}")) from exc
    except IMAP_ERRORS as exc:  # the connection broke while logging in
        raise HuizongError(Problem("M002", detail=f"{where}（{type(exc).__name__}: {exc}）")) from exc
    try:
        send_id(box)
        select(box, settings.folder)
    except IMAP_ERRORS as exc:
        raise HuizongError(Problem("M002", detail=f"{where}（{type(exc).__name__}: {exc}）")) from exc


def capabilities(box: BaseMailBox) -> set[str]:
    """What the server offers, asked again after login (servers may offer more once logged in)."""
    caps = {str(c).upper() for c in box.client.capabilities}
    typ, data = box.client.capability()
    if typ == "OK" and data and isinstance(data[-1], bytes):
        caps |= {c.upper() for c in data[-1].decode("ascii", "replace").split()}
    return caps


def send_id(box: BaseMailBox) -> bool:
    """RFC 2971 ``ID`` where the server offers it; whatever it answers, collection goes on."""
    if "ID" not in capabilities(box):
        return False
    box.client.xatom("ID", CLIENT_ID)
    box.client.untagged_responses.pop("ID", None)
    return True


def select(box: BaseMailBox, folder: str) -> None:
    try:
        box.folder.set(folder)
    except MailboxFolderSelectError as exc:
        said = _text(exc)
        names = [f.name for f in box.folder.list()]
        if not any(n == folder or n.upper() == folder.upper() == "INBOX" for n in names):
            raise HuizongError(Problem("M011", value=folder, detail="、".join(names) or "（无）")) from exc
        raise HuizongError(Problem("M010", value=folder, detail=said)) from exc


def uidvalidity(box: BaseMailBox, folder: str) -> int:
    try:
        return int(box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])
    except IMAP_ERRORS as exc:
        raise HuizongError(Problem("M002", detail=f"读取文件夹“{folder}”状态时出错（{exc}）")) from exc


def new_uids(box: BaseMailBox, after_uid: int, since: date) -> list[int]:
    """UIDs above ``after_uid`` of messages the server received on or after ``since``, oldest first."""
    try:
        found = box.uids(A(uid=f"{after_uid + 1}:*", date_gte=since))
    except IMAP_ERRORS as exc:
        raise HuizongError(Problem("M002", detail=f"查找新邮件时出错（{exc}）")) from exc
    return sorted(u for u in (int(x) for x in found) if u > after_uid)  # "n:*" also matches the last UID


def fetch(box: BaseMailBox, uid: int) -> Fetched | None:
    """One message's exact bytes, with BODY.PEEK[] so that collecting never marks it as read.
    None when it is gone (deleted or moved by someone else since it was listed)."""
    try:
        typ, data = box.client.uid("FETCH", str(uid), "(BODY.PEEK[] INTERNALDATE)")
    except IMAP_ERRORS as exc:
        raise HuizongError(Problem("M002", detail=f"下载邮件 {uid} 时出错（{exc}）")) from exc
    if typ != "OK":
        return None
    for part in data:
        if isinstance(part, tuple) and len(part) == 2:
            head, raw = part
            return Fetched(uid, bytes(raw), _internal_date(head))
    return None


def _internal_date(head: bytes) -> datetime | None:
    parsed = imaplib.Internaldate2tuple(head)  # local time tuple, as imaplib documents
    return datetime.fromtimestamp(time.mktime(parsed)).astimezone() if parsed else None


class AfterProcessing:
    """What the settings ask for once a message is safely in the ledger: nothing, \\Seen, or a
    move to ``move_to`` (the folder is created the first time it is missing)."""

    def __init__(self, box: BaseMailBox, settings: MailSettings):
        self.box, self.settings = box, settings
        self.folder_ready = False

    def __call__(self, uid: int) -> None:
        if self.settings.after == "seen":
            self.box.flag(str(uid), "\\Seen", True)
        elif self.settings.after == "move" and self.settings.move_to:
            if not self.folder_ready:
                if not self.box.folder.exists(self.settings.move_to):
                    self.box.folder.create(self.settings.move_to)
                self.folder_ready = True
            self.box.move(str(uid), self.settings.move_to)
