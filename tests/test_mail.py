"""Mail intake against a real IMAP server (Dovecot) and a real SMTP server (aiosmtpd), on loopback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from pipeline import api

from . import mailkit
from .conftest import PERIOD, filled
from .mailkit import ledger_rows, message

servers, mctx = mailkit.servers, mailkit.mctx  # fixtures


def test_collect_from_the_mailbox_records_checks_and_replies(mctx):
    ctx, imap, smtp = mctx
    v0, v1, v2 = ctx.registry.villages[:3]
    imap.append(message(v0.emails[0], [(f"{v0.name}2026年10月报表.xlsx", filled(ctx, 0))], subject="青龙村10月报表"))
    imap.append(message(v1.emails[0], [(f"{v1.name}月报.xlsx", filled(ctx, 1, births_total="十二"))]))
    imap.append(message("stranger@example.com", [(f"{v2.name}月报.xlsx", filled(ctx, 2))]))
    imap.append(message(v0.emails[0], [("报表照片.jpg", b"\xff\xd8\xff\xe0fake-jpeg")], subject="照片"))
    summary = api.collect(ctx)
    assert summary.problems == []
    subs = ledger_rows(ctx, "SELECT s.status, s.village_code, r.sender, r.message_id, r.source FROM submissions s JOIN receipts r ON r.id = s.receipt_id ORDER BY s.id")
    assert [(r["status"], r["village_code"]) for r in subs] == [("已接收", v0.code), ("退回", v1.code), ("待确认", v2.code)]
    assert subs[0]["sender"] == v0.emails[0] and subs[0]["source"] == "mail" and subs[0]["message_id"]
    msgs = ledger_rows(ctx, "SELECT uid, uidvalidity, sender, attachments FROM messages ORDER BY uid")
    assert [m["uid"] for m in msgs] == [1, 2, 3, 4] and msgs[3]["attachments"] == 0
    archived = list(ctx.workspace.archive.rglob("*.eml"))
    assert len(archived) == 4  # the raw messages are kept too
    replies = smtp.wait_for(4)
    assert len(replies) == 4
    by_to = {}
    for r in replies:
        by_to.setdefault(r["To"], []).append(r)
    receipt = next(r for r in by_to[v0.emails[0]] if "已收到" in r["Subject"])
    body = receipt.get_body(("plain",)).get_content()
    assert "校验通过" in body and "本月出生数" in body
    rejection = by_to[v1.emails[0]][0]
    assert "请修改后重发" in rejection["Subject"]
    text = rejection.get_body(("plain",)).get_content()
    assert "单元格 D8" in text and "十二" in text
    (attachment,) = list(rejection.iter_attachments())
    assert attachment.get_filename() == f"{v1.name}月报_校验结果.xlsx"
    assert attachment.get_content()[:2] == b"PK"
    pending = by_to["stranger@example.com"][0]
    assert "待核实" in pending["Subject"]
    photo = next(r for r in by_to[v0.emails[0]] if "未找到报表" in r["Subject"])
    assert "报表照片.jpg" in photo.get_body(("plain",)).get_content()
    # collecting never marks mail as read unless the settings say so
    assert all("\\Seen" not in flags for flags in imap.flags().values())
    states = {s.code: s for s in api.status(ctx, PERIOD)}
    assert states[v0.code].sender == v0.emails[0]


def test_each_message_is_processed_exactly_once(mctx):
    ctx, imap, smtp = mctx
    v0 = ctx.registry.villages[0]
    imap.append(message(v0.emails[0], [("a.xlsx", filled(ctx, 0))]))
    api.collect(ctx)
    api.collect(ctx)
    assert len(ledger_rows(ctx, "SELECT id FROM submissions")) == 1
    assert len(smtp.wait_for(1)) == 1
    imap.append(message(v0.emails[0], [("b.xlsx", filled(ctx, 0, special_family_visits=7))], subject="更正"))
    api.collect(ctx)
    rows = ledger_rows(ctx, "SELECT status, version FROM submissions ORDER BY id")
    assert [(r["status"], r["version"]) for r in rows] == [("已接收", 1), ("已接收", 2)]
    assert len(smtp.wait_for(2)) == 2
    # a mailbox whose UIDVALIDITY changed (rebuilt by the provider) is not processed twice
    con = sqlite3.connect(ctx.workspace.ledger_path)
    con.execute("UPDATE mailbox_state SET uidvalidity = uidvalidity + 1, last_uid = 0")
    con.commit()
    con.close()
    api.collect(ctx)
    assert len(ledger_rows(ctx, "SELECT id FROM submissions")) == 2
    assert len(smtp.received) == 2


def test_lateness_counts_from_the_servers_arrival_time_not_the_senders_clock(mctx):
    """The deadline is the 5th: a report the server received on the 7th is late, whatever the
    village PC's clock wrote into Date; one received on the 4th is on time, even if Date says later."""
    ctx, imap, smtp = mctx
    v0, v1, v2 = ctx.registry.villages[:3]
    cst = timezone(timedelta(hours=8))
    on_time, late = datetime(2026, 11, 4, 9, 0, tzinfo=cst), datetime(2026, 11, 7, 18, 0, tzinfo=cst)
    imap.append(message(v0.emails[0], [("a.xlsx", filled(ctx, 0))], date=on_time), when=late)
    imap.append(message(v1.emails[0], [("b.xlsx", filled(ctx, 1))], date=late), when=on_time)
    imap.append(message(v2.emails[0], [("c.xlsx", filled(ctx, 2))], date=on_time), when=on_time)
    mailkit.collect_twice(ctx, smtp)
    states = {s.code: s for s in api.status(ctx, PERIOD)}
    assert [(states[v.code].state, states[v.code].late) for v in (v0, v1, v2)] == [("已报", True), ("已报", False), ("已报", False)]
    assert datetime.fromisoformat(states[v0.code].received_at) == late


def test_missing_password_is_a_clear_problem_and_the_folder_still_works(mctx, monkeypatch):
    ctx, imap, smtp = mctx
    monkeypatch.delenv("HUIZONG_MAIL_PASSWORD")
    monkeypatch.setattr("keyring.get_password", lambda *a: None)
    (ctx.workspace.inbox / "a.xlsx").write_bytes(filled(ctx, 0))
    summary = api.collect(ctx)
    assert summary.count("已接收") == 1
    assert [p.code for p in summary.problems][:1] == ["M001"]


def test_remind_and_send_templates(mctx):
    ctx, imap, smtp = mctx
    (ctx.workspace.inbox / "a.xlsx").write_bytes(filled(ctx, 0))
    api.collect(ctx)
    preview = api.remind(ctx, PERIOD, dry_run=True)
    assert len(preview.replies) == len(ctx.registry.villages) - 1 and preview.sent == 0
    assert smtp.received == []
    sent = api.remind(ctx, PERIOD)
    assert sent.sent == len(ctx.registry.villages) - 1
    again = api.remind(ctx, PERIOD)  # the same day: nothing is sent twice
    assert again.sent == 0
    mails = smtp.wait_for(sent.sent)
    first = next(m for m in mails if m["To"] == ", ".join(ctx.registry.villages[1].emails))
    assert "催报" in first["Subject"]
    (att,) = list(first.iter_attachments())
    assert att.get_filename() == f"{ctx.programme.form_no}_{ctx.registry.villages[1].name}_{PERIOD.chinese}.xlsx"
    raw = next(r for r in smtp.raw if r"催报".encode() in r or b"filename*=" in r)
    assert b"filename*=utf-8''" in raw  # RFC 2231 names, as QQ Mail and Outlook read them
    result = api.send_templates(ctx, PERIOD)
    assert result.sent == len(ctx.registry.villages)


def _state(ctx):
    subs = ledger_rows(ctx, "SELECT r.original_name, s.status, s.version, s.village_code FROM submissions s JOIN receipts r ON r.id = s.receipt_id ORDER BY r.source_ref")
    msgs = ledger_rows(ctx, "SELECT uid, attachments FROM messages ORDER BY uid")
    out = ledger_rows(ctx, "SELECT kind, dedupe_key, sent_at IS NOT NULL AS sent FROM outbox ORDER BY dedupe_key")
    return [tuple(r) for r in subs], [tuple(r) for r in msgs], [tuple(r) for r in out]


@pytest.mark.parametrize("point", ["mail_archived:2", "mail_recorded:1", "mail_recorded:3"])
def test_kill_during_mail_collect_then_rerun(mctx, point):
    ctx, imap, smtp = mctx
    for i in range(4):
        v = ctx.registry.villages[i]
        data = filled(ctx, i) if i != 2 else filled(ctx, i, births_total="约3")
        imap.append(message(v.emails[0], [(f"{v.name}.xlsx", data)], subject=f"报表{i}"))
    env = dict(os.environ, HUIZONG_CRASH_AT=point)
    cmd = [sys.executable, "-m", "pipeline", "collect", "-w", str(ctx.workspace.root)]
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=120).returncode == 137
    env.pop("HUIZONG_CRASH_AT")
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=120).returncode == 0
    subs, msgs, out = _state(ctx)
    assert len(subs) == 4 and len(msgs) == 4
    assert all(sent for _, _, sent in out) and len(out) == 4
    received = smtp.wait_for(4)
    assert len(received) == 4  # every message answered, none twice
    assert sorted(m["Subject"] for m in received) == sorted(set(m["Subject"] for m in received)) or len({m["Message-ID"] for m in received}) == 4


def test_a_ledger_of_the_previous_version_gains_the_new_mail_columns(tmp_path):
    """Ledgers already in use lack since/code/note/failed_at: opening one adds them, and an old
    unsent reply is still sent."""
    from pipeline.ledger.db import Ledger
    from pipeline.ledger.mail import mailbox_state, pending_replies

    path = tmp_path / "ledger.sqlite"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE mailbox_state (mailbox TEXT PRIMARY KEY, uidvalidity INTEGER NOT NULL, last_uid INTEGER NOT NULL);
        CREATE TABLE messages (id INTEGER PRIMARY KEY, mailbox TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,
            message_id TEXT NOT NULL, sha256 TEXT NOT NULL, sender TEXT NOT NULL, subject TEXT, received_at TEXT NOT NULL,
            attachments INTEGER NOT NULL, ignored_json TEXT NOT NULL, processed_at TEXT NOT NULL, UNIQUE (mailbox, uidvalidity, uid));
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, dedupe_key TEXT NOT NULL UNIQUE, to_addrs TEXT NOT NULL,
            subject TEXT NOT NULL, body TEXT NOT NULL, attachments_json TEXT NOT NULL, message_id TEXT NOT NULL, in_reply_to TEXT,
            village_code TEXT, period TEXT, created_at TEXT NOT NULL, sent_at TEXT, smtp_response TEXT);
        INSERT INTO mailbox_state VALUES ('clerk@imap/INBOX', 7, 42);
        INSERT INTO outbox(kind, dedupe_key, to_addrs, subject, body, attachments_json, message_id, created_at)
            VALUES ('receipt', 'reply:x', '["a@b.c"]', 's', 'b', '[]', '<m@b.c>', '2026-11-01T00:00:00+08:00');
    """)
    con.close()
    with Ledger(path) as ledger:
        columns = {t: {r[1] for r in ledger.conn.execute(f"PRAGMA table_info({t})")} for t in ("mailbox_state", "messages", "outbox")}
        assert "since" in columns["mailbox_state"] and {"code", "note"} <= columns["messages"] and "failed_at" in columns["outbox"]
        state = mailbox_state(ledger, "clerk@imap/INBOX")
        assert state is not None and (state.uidvalidity, state.last_uid, state.since) == (7, 42, None)
        assert [r["dedupe_key"] for r in pending_replies(ledger)] == ["reply:x"]
    with Ledger(path):  # and a second opening finds them there
        pass
