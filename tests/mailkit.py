"""What the mail tests share: the servers, a mail workspace, messages as villages send them, and
the ledger's view of a collect (to show that a second collect changes nothing)."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from pipeline import api

from .conftest import filled  # noqa: F401 - for the tests
from .mailserver import PASSWORD, USER, mail_settings_yaml, start_dovecot, start_smtp  # noqa: F401 - USER for the tests

CST = timezone(timedelta(hours=8))
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
# the mail settings of most tests: a fixed start day, so that fixed arrival dates are collected
# whatever the date of the run (the default start day is tested on its own)
SINCE = "  since: 2020-01-01\n"


@pytest.fixture
def servers():
    imap = start_dovecot()
    smtp = start_smtp()
    yield imap, smtp
    imap.stop()
    smtp.controller.stop()


def use_mail(workspace, imap, smtp, monkeypatch, extra: str = SINCE, smtp_user: bool = True) -> api.Context:
    settings = workspace / "huizong.yaml"
    settings.write_text(settings.read_text(encoding="utf-8") + mail_settings_yaml(imap, smtp, extra, smtp_user), encoding="utf-8")
    monkeypatch.setenv("HUIZONG_MAIL_PASSWORD", PASSWORD)
    return api.load_context(workspace)


@pytest.fixture
def mctx(workspace, servers, monkeypatch):
    imap, smtp = servers
    return use_mail(workspace, imap, smtp, monkeypatch), imap, smtp


def message(sender: str, attachments: list[tuple[str, bytes]], subject: str = "月报", date: datetime | None = None,
            headers: dict[str, str] | None = None, body: str = "请查收本月报表。") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"村专干 <{sender}>"
    msg["To"] = "clerk@township.test"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2026, 11, 3, 9, 30, tzinfo=CST))
    key = f"{sender}|{subject}|{len(attachments)}|{sorted((headers or {}).items())}".encode()
    msg["Message-ID"] = f"<{hashlib.sha256(key).hexdigest()[:20]}@{sender.split('@')[1]}>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for name, data in attachments:
        maintype, subtype = ("image", "jpeg") if name.endswith(".jpg") else XLSX
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def report_mail(ctx: api.Context, index: int, subject: str = "", **overrides) -> bytes:
    """A village's ordinary monthly report, from its registered address."""
    v = ctx.registry.villages[index]
    return message(v.emails[0], [(f"{v.name}月报.xlsx", filled(ctx, index, **overrides))], subject=subject or f"{v.name}月报")


def ledger_rows(ctx, sql, args=()):
    con = sqlite3.connect(ctx.workspace.ledger_path)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def ledger_state(ctx):
    """Everything a collect may change: submissions, messages, outbox, mailbox state."""
    subs = ledger_rows(ctx, "SELECT r.source_ref, r.sender, s.status, s.version, s.village_code FROM submissions s"
                            " JOIN receipts r ON r.id = s.receipt_id ORDER BY r.source_ref")
    msgs = ledger_rows(ctx, "SELECT uid, attachments, code, note FROM messages ORDER BY uid")
    out = ledger_rows(ctx, "SELECT kind, dedupe_key, to_addrs, sent_at IS NOT NULL, failed_at IS NOT NULL FROM outbox ORDER BY dedupe_key")
    state = ledger_rows(ctx, "SELECT * FROM mailbox_state")
    return [tuple(r) for r in subs], [tuple(r) for r in msgs], [tuple(r) for r in out], [tuple(r) for r in state]


def collect_twice(ctx, smtp):
    """Collect; then collect again and show that the second run changes nothing and sends nothing."""
    first = api.collect(ctx)
    state, sent = ledger_state(ctx), len(smtp.received)
    second = api.collect(ctx)
    assert ledger_state(ctx) == state
    assert second.items == [] and second.notices == []
    assert len(smtp.received) == sent
    return first


def accepted_villages(ctx) -> set[str]:
    return {r["village_code"] for r in ledger_rows(ctx, "SELECT village_code FROM submissions WHERE status = '已接收'")}


def replies_to(smtp, address: str):
    return [m for m in smtp.received if address in str(m["To"])]
