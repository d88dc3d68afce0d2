"""Send what waits in the outbox: proper MIME (UTF-8 text, RFC 2231 attachment names that QQ Mail
and Outlook show correctly), over SMTP with SSL or STARTTLS (logging in only where the server
asks for it); each reply is marked sent only after the server has accepted it, so an interrupted
run sends the rest next time and never loses one. A permanent refusal (5xx: no such mailbox,
"554 spam") marks the mail failed instead: sending it again would only be refused again.

Every mail carries ``Auto-Submitted`` (RFC 3834): a village's auto-responder must not answer it,
and two auto-responders can then never loop."""

from __future__ import annotations

import json
import mimetypes
import smtplib
import ssl
from dataclasses import dataclass, field
from email import encoders
from email import policy as email_policy
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Any

from ..ledger.archive import sha256
from ..ledger.db import Ledger
from ..ledger.mail import attachment_paths, mark_failed, mark_sent, note_hangup, pending_replies
from ..problems import HuizongError, Problem
from .faults import crash_point
from .mailconfig import MailSettings
from .mimetext import reference

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GENERATED = ("reminder", "template")  # sent on the clerk's command; everything else answers a message
WIRE = email_policy.SMTP.clone(max_line_length=998)  # long encoded names stay on one line, unsplit


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0  # refused for good this run
    problems: list[Problem] = field(default_factory=list)


def attached(row: Any, root: Path) -> list[tuple[str, bytes]]:
    """A queued mail's attachments: display name and the bytes of the workspace file, as they are now."""
    return [(name, path.read_bytes()) for name, path in attachment_paths(row, root)]


def build_mime(row: Any, settings: MailSettings, root: Path, files: list[tuple[str, bytes]] | None = None) -> MIMEMultipart:
    """A message every Chinese client shows right: UTF-8 text; each attachment named twice — RFC 2231
    (``filename*=utf-8''…``, one segment) for standard readers and an RFC 2047 ``name`` for the others."""
    msg = MIMEMultipart()
    msg["From"] = formataddr((Header(settings.from_name, "utf-8").encode(), settings.from_addr))
    msg["To"] = ", ".join(json.loads(row["to_addrs"]))
    msg["Subject"] = Header(row["subject"], "utf-8").encode()
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = row["message_id"]
    msg["Auto-Submitted"] = "auto-generated" if row["kind"] in GENERATED else "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"  # Exchange/Outlook: no out-of-office answer to us
    if (ref := reference(str(row["in_reply_to"] or "").strip("<>"))) is not None:  # queued by an older version: checked again
        msg["In-Reply-To"] = ref
        msg["References"] = ref
    msg.attach(MIMEText(row["body"], "plain", "utf-8"))
    for name, data in attached(row, root) if files is None else files:
        ctype = XLSX if name.endswith(".xlsx") else (mimetypes.guess_type(name)[0] or "application/octet-stream")
        maintype, subtype = ctype.split("/", 1)
        part = MIMEApplication(data, subtype) if maintype == "application" else MIMEBase(maintype, subtype)
        if maintype != "application":
            part.set_payload(data)
            encoders.encode_base64(part)
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
        part.set_param("name", Header(name, "utf-8").encode(maxlinelen=10000))
        msg.attach(part)
    return msg


def as_wire_bytes(msg: MIMEMultipart) -> bytes:
    return msg.as_bytes(policy=WIRE)


def _connect(settings: MailSettings) -> smtplib.SMTP:
    server = settings.smtp
    assert server is not None
    where = f"{server.host}:{server.port}"
    try:
        if server.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=settings.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=settings.timeout)
            if server.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        raise HuizongError(Problem("M002", detail=f"{where}（{type(exc).__name__}: {exc}）")) from exc
    try:
        smtp.ehlo_or_helo_if_needed()
        if server.user and smtp.has_extn("auth"):  # a relay that takes mail without AUTH: just send
            smtp.login(server.user, settings.password(server))
    except smtplib.SMTPAuthenticationError as exc:
        smtp.close()
        raise HuizongError(Problem("M003", detail=f"{server.user}@{where}")) from exc
    except (smtplib.SMTPException, OSError) as exc:
        smtp.close()
        raise HuizongError(Problem("M002", detail=f"{where}（{type(exc).__name__}: {exc}）")) from exc
    except HuizongError:
        smtp.close()
        raise
    return smtp


def _said(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {words}".strip()


def _describe(exc: smtplib.SMTPException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "；".join(f"{a}：{_said(c, m)}" for a, (c, m) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return _said(exc.smtp_code, exc.smtp_error)
    return str(exc)


def _permanent(exc: Exception) -> str | None:
    """The server's words when it refused this mail for good (every reply code 5xx), else None."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [(a, c, m) for a, (c, m) in exc.recipients.items()]
        return _describe(exc) if codes and all(c >= 500 for _, c, _ in codes) else None
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(exc, smtplib.SMTPSenderRefused):
        return _describe(exc) if exc.smtp_code >= 500 else None
    return None


def send_pending(ledger: Ledger, settings: MailSettings | None, root: Path) -> SendReport:
    """Send the queued replies. One reply that cannot be sent never holds up the others:

    - one that cannot be made (its annotated copy gone, an address that cannot be written) is given up (M017);
    - one the server refuses for good (5xx) is given up (M012);
    - one during which the server hangs up (too big, judged spam) is tried again next time, after the others
      went on over a new connection; the second time the server hangs up on it while taking other mail, it
      is given up (M012). An outage — nothing goes through — leaves every reply for next time (M004).
    """
    report = SendReport()
    rows = pending_replies(ledger)
    if not rows or settings is None or settings.smtp is None or not settings.reply:
        return report
    try:
        smtp = _connect(settings)
    except HuizongError as exc:
        report.problems += exc.problems
        return report
    hung_up: list[tuple[Any, str]] = []
    try:
        for row in rows:
            try:
                to = json.loads(row["to_addrs"])
                files = attached(row, root)
                wire = as_wire_bytes(build_mime(row, settings, root, files))
            except Exception as exc:  # this reply alone cannot be made: the others go on
                why = f"{type(exc).__name__}: {str(exc)[:80]}".rstrip(": ")
                mark_failed(ledger, row["id"], why)
                # any queued mail (a template, a reminder, a reply): not "the report is recorded" words
                report.problems.append(Problem("M018", value=why, detail=row["subject"]))
                report.failed += 1
                continue
            try:
                refused = smtp.sendmail(settings.from_addr, to, wire)
            except smtplib.SMTPSenderRefused as exc:  # our own address: every other mail would fail alike
                report.problems.append(Problem("M015", value=settings.from_addr, detail=_said(exc.smtp_code, exc.smtp_error)))
                break
            except smtplib.SMTPServerDisconnected as exc:  # this message, or the connection: go on over a new one
                hung_up.append((row, str(exc) or "连接被关闭"))
                try:
                    smtp = _connect(settings)
                except HuizongError:  # the server is gone: the rest next time
                    break
                continue
            except smtplib.SMTPException as exc:  # (before OSError: SMTPException is one)
                permanent = _permanent(exc)
                if permanent is None:
                    report.problems.append(Problem("M004", detail=f"{row['subject']}：{_describe(exc)}"))
                    continue
                mark_failed(ledger, row["id"], permanent)
                report.problems.append(Problem("M012", value=permanent, detail=row["subject"]))
                report.failed += 1
                continue
            except OSError as exc:  # the network: the rest next time
                report.problems.append(Problem("M004", detail=f"{row['subject']}：{exc}"))
                break
            crash_point("smtp_accepted")
            if refused:
                shown = "；".join(f"{a}：{_said(c, m)}" for a, (c, m) in refused.items())
                report.problems.append(Problem("M012", value=shown, detail=f"{row['subject']}（其余收件人已收下）"))
            mark_sent(ledger, row["id"], "accepted" if not refused else json.dumps(refused, ensure_ascii=False, default=str),
                      [(name, sha256(data)) for name, data in files])
            report.sent += 1
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
    for row, why in hung_up:
        # the server took other mail meanwhile: it is this message it will not take
        if report.sent and note_hangup(ledger, row["id"], why) >= 2:
            mark_failed(ledger, row["id"], f"发送这封邮件时服务器两次断开连接（{why}）")
            report.problems.append(Problem("M012", value=f"服务器两次在发送时断开连接（{why}）", detail=row["subject"]))
            report.failed += 1
        else:
            report.problems.append(Problem("M004", detail=f"{row['subject']}：{why}"))
    return report
