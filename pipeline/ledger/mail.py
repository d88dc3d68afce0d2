"""The mail side of the ledger: which messages of which mailbox were processed, and the outbox.

A message is recorded (with its UIDVALIDITY/UID, Message-ID, sender and raw-message hash) in the
same transaction as the submissions its attachments produced and the replies they call for; a
re-run after a crash therefore skips it exactly when its effects are already in the ledger.
Replies wait in the outbox and are marked sent only after the SMTP server has accepted them.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import Ledger, now

SCHEMA = """
CREATE TABLE IF NOT EXISTS mailbox_state (
    mailbox TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    mailbox TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    sender TEXT NOT NULL,
    subject TEXT,
    received_at TEXT NOT NULL,
    attachments INTEGER NOT NULL,
    ignored_json TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    UNIQUE (mailbox, uidvalidity, uid)
);
CREATE INDEX IF NOT EXISTS messages_sha ON messages(sha256);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,              -- receipt / rejection / pending / no_report / reminder / template
    dedupe_key TEXT NOT NULL UNIQUE, -- the same reply is never queued twice
    to_addrs TEXT NOT NULL,          -- JSON list
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    attachments_json TEXT NOT NULL,  -- JSON list of [display name, workspace-relative path]
    message_id TEXT NOT NULL,        -- our Message-ID, fixed when queued
    in_reply_to TEXT,
    village_code TEXT,
    period TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    smtp_response TEXT
);
"""


@dataclass(frozen=True)
class Reply:
    kind: str
    dedupe_key: str
    to: list[str]
    subject: str
    body: str
    attachments: list[tuple[str, str]]
    message_id: str
    in_reply_to: str | None = None
    village_code: str | None = None
    period: str | None = None


def ensure(ledger: Ledger) -> None:
    ledger.conn.executescript(SCHEMA)


def mailbox_state(ledger: Ledger, mailbox: str) -> tuple[int, int] | None:
    row = ledger.conn.execute("SELECT uidvalidity, last_uid FROM mailbox_state WHERE mailbox = ?", (mailbox,)).fetchone()
    return (int(row["uidvalidity"]), int(row["last_uid"])) if row else None


def seen(ledger: Ledger, mailbox: str, uidvalidity: int, uid: int, sha256: str) -> bool:
    """Processed already — by its place in the mailbox, or (after a UIDVALIDITY change) by its bytes."""
    row = ledger.conn.execute(
        "SELECT 1 FROM messages WHERE (mailbox = ? AND uidvalidity = ? AND uid = ?) OR sha256 = ?",
        (mailbox, uidvalidity, uid, sha256),
    ).fetchone()
    return row is not None


def record_message(db: sqlite3.Connection, mailbox: str, uidvalidity: int, uid: int, message: Any, sha256: str,
                   received_at: str, attachments: int) -> None:
    db.execute(
        "INSERT OR IGNORE INTO messages(mailbox, uidvalidity, uid, message_id, sha256, sender, subject, received_at, attachments,"
        " ignored_json, processed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (mailbox, uidvalidity, uid, message.message_id, sha256, message.sender, message.subject, received_at, attachments,
         json.dumps([[i.name, i.reason] for i in message.ignored], ensure_ascii=False), now()),
    )
    db.execute(
        "INSERT INTO mailbox_state(mailbox, uidvalidity, last_uid) VALUES (?,?,?)"
        " ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity,"
        " last_uid = MAX(CASE WHEN mailbox_state.uidvalidity = excluded.uidvalidity THEN mailbox_state.last_uid ELSE 0 END, excluded.last_uid)",
        (mailbox, uidvalidity, uid),
    )


def queue(db: sqlite3.Connection, reply: Reply) -> None:
    db.execute(
        "INSERT OR IGNORE INTO outbox(kind, dedupe_key, to_addrs, subject, body, attachments_json, message_id, in_reply_to,"
        " village_code, period, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (reply.kind, reply.dedupe_key, json.dumps(reply.to), reply.subject, reply.body,
         json.dumps(reply.attachments, ensure_ascii=False), reply.message_id, reply.in_reply_to, reply.village_code,
         reply.period, now()),
    )


def pending_replies(ledger: Ledger) -> list[sqlite3.Row]:
    return ledger.conn.execute("SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY id").fetchall()


def mark_sent(ledger: Ledger, outbox_id: int, response: str) -> None:
    with ledger.transaction() as db:
        db.execute("UPDATE outbox SET sent_at = ?, smtp_response = ? WHERE id = ?", (now(), response, outbox_id))
