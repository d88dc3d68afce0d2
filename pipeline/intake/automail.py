"""Is a message automatic — a bounce, an auto-reply, a newsletter, a system notice, spam?

RFC 3834 asks never to answer mail marked ``Auto-Submitted`` (anything but ``no``); mailing lists
and bulk senders mark theirs with ``Precedence``, ``List-Id`` or ``List-Unsubscribe``; delivery
reports (RFC 3464) come as ``multipart/report`` from an empty ``Return-Path`` and often quote the
whole message they return — for us, our own reminder with a village's template attached, which
must never become that village's submission. Chinese providers do not all follow the RFCs (163's
退信 is plain multipart/mixed from postmaster, QQ's notices come from 10000@qq.com), so the sender
and the subject count too. Nothing here raises: an unreadable header is simply not a signal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message as _Part
from email.policy import compat32
from email.utils import getaddresses

from .mimetext import UNFOLD, decode_header_text, header_bytes, params_of

BOUNCE, AUTO_REPLY, AUTOMATIC, BULK, SPAM, NOTICE, RECEIPT = (
    "退信", "自动回复", "自动发送的邮件", "群发邮件或邮件列表", "垃圾邮件", "系统通知", "已读回执")
DAEMONS = {"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mdaemon"}
NO_REPLY = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|notifications?|newsletters?)([-+_.].*)?$")
SYSTEM_SENDERS = {"10000@qq.com"}  # QQ邮箱团队: security notices, capacity warnings
BOUNCE_SUBJECT = re.compile(
    r"^\s*(系统退信|退信|undeliver(ed|able)|delivery (status notification|failure)|mail delivery (failed|failure|system)"
    r"|returned mail|failure notice|non[- ]?delivery)", re.I)
AUTO_SUBJECT = re.compile(r"^\s*(自动回复|自動回覆|auto(matic)?[- ]?(reply|response)|auto:|out of (the )?office|休假自动回复)", re.I)


@dataclass(frozen=True)
class Automatic:
    reason: str  # one of the names above, for the clerk
    signal: str  # the header that says so, e.g. "Auto-Submitted: auto-replied"
    bounced: tuple[str, ...] = ()  # for a bounce: the addresses our mail did not reach
    diagnostic: str = ""  # for a bounce: what the receiving server said


def _text(msg: _Part, name: str) -> str | None:
    raw = header_bytes(msg, name)
    return None if raw is None else UNFOLD.sub(b"", raw).decode("utf-8", "replace").strip()


def _address(msg: _Part) -> str:
    found = getaddresses([_text(msg, "from") or ""])
    return (found[0][1] if found else "").strip().lower()


def automatic(msg: _Part) -> Automatic | None:
    """Why ``msg`` must not be answered nor taken as a report, or None for mail a person wrote."""
    try:
        found = _signal(msg)
    except Exception:  # a header too broken to read is no signal; the message is handled as usual
        return None
    if found is None:
        return None
    reason, signal = found
    if reason == BOUNCE:
        bounced, diagnostic = _bounced(msg)
        return Automatic(reason, signal, bounced, diagnostic)
    return Automatic(reason, signal)


def _signal(msg: _Part) -> tuple[str, str] | None:
    ctype, params = params_of(header_bytes(msg, "content-type"))
    report = params.get("report-type", b"").decode("ascii", "replace").strip().lower()
    if ctype == "multipart/report":
        return (RECEIPT if report == "disposition-notification" else BOUNCE), f"Content-Type: multipart/report; report-type={report}"
    if _has_part(msg, ("message/delivery-status", "message/global-delivery-status")):
        return BOUNCE, "message/delivery-status"
    if (_text(msg, "return-path") or "").replace(" ", "") == "<>":
        return BOUNCE, "Return-Path: <>"
    sender = _address(msg)
    local = sender.rpartition("@")[0]
    if local in DAEMONS:
        return BOUNCE, f"From: {sender}"
    auto = (_text(msg, "auto-submitted") or "").split(";")[0].split("(")[0].strip().lower()
    if auto and auto != "no":
        return (AUTO_REPLY if auto == "auto-replied" else AUTOMATIC), f"Auto-Submitted: {auto}"
    if _text(msg, "x-autoreply") is not None or _text(msg, "x-autorespond") is not None:
        return AUTO_REPLY, "X-Autoreply"
    precedence = (_text(msg, "precedence") or "").lower()
    if precedence in ("bulk", "list", "junk"):
        return (SPAM if precedence == "junk" else BULK), f"Precedence: {precedence}"
    for name in ("list-id", "list-unsubscribe"):
        if _text(msg, name) is not None:
            return BULK, name.title()
    for name in ("x-spam-flag", "x-spam-status", "x-spam"):
        if (_text(msg, name) or "").lower().startswith("yes"):
            return SPAM, f"{name.title()}: yes"
    if sender in SYSTEM_SENDERS or NO_REPLY.match(local):
        return NOTICE, f"From: {sender}"
    subject = decode_header_text(header_bytes(msg, "subject") or b"")
    if BOUNCE_SUBJECT.match(subject):
        return BOUNCE, f"Subject: {subject[:40]}"
    if AUTO_SUBJECT.match(subject):
        return AUTO_REPLY, f"Subject: {subject[:40]}"
    return None


def _children(part: _Part) -> list[_Part]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, _Part)] if isinstance(payload, list) else []


def _has_part(msg: _Part, types: tuple[str, ...], depth: int = 0) -> bool:
    """A delivery-status part near the top (not inside a forwarded message a person quotes)."""
    if depth > 2:
        return False
    for child in _children(msg):
        ctype = params_of(header_bytes(child, "content-type"))[0]
        if ctype in types or (ctype.startswith("multipart/") and _has_part(child, types, depth + 1)):
            return True
    return False


def _headers(part: _Part) -> _Part:
    payload = part.get_payload(decode=True)
    return message_from_bytes(payload if isinstance(payload, bytes) else b"", policy=compat32)


def _bounced(msg: _Part) -> tuple[tuple[str, ...], str]:
    """The recipients a bounce reports (Final-Recipient of the delivery status, else the To of the
    returned message) and the receiving server's words."""
    recipients: list[str] = []
    diagnostic = ""
    returned: list[str] = []
    stack, seen = [msg], 0
    while stack and seen < 50:
        part = stack.pop()
        seen += 1
        ctype = params_of(header_bytes(part, "content-type"))[0]
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            for block in _children(part):
                for name in ("final-recipient", "original-recipient"):
                    value = _text(block, name)
                    if value and "@" in value:
                        address = value.split(";", 1)[-1].strip().strip("<>").lower()
                        if address not in recipients:
                            recipients.append(address)
                        break
                diagnostic = diagnostic or (_text(block, "diagnostic-code") or "").split(";", 1)[-1].strip()
            continue
        if ctype in ("message/rfc822", "text/rfc822-headers"):
            inner = _children(part)[:1] if ctype == "message/rfc822" else [_headers(part)]
            returned += [a.lower() for p in inner for _, a in getaddresses([_text(p, "to") or ""]) if "@" in a]
            continue
        stack.extend(reversed(_children(part)))
    found = recipients or list(dict.fromkeys(returned))
    return tuple(found), diagnostic[:200]
