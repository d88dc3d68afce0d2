"""The mail side of the ledger: which messages of which mailbox were processed, and the outbox.

A message is recorded (with its UIDVALIDITY/UID, Message-ID, sender and raw-message hash) in the
same transaction as the submissions its attachments produced and the replies they call for; a
re-run after a crash therefore skips it exactly when its effects are already in the ledger.
A message that was not answered (automatic mail, a bounce) or could not be handled carries a
note and its problem code. Replies wait in the outbox and are marked sent only after the SMTP
server has accepted them, or failed when it refused them for good (never tried again).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .archive import sha256
from .db import ACCEPTED, Ledger, now

SCHEMA = """
CREATE TABLE IF NOT EXISTS mailbox_state (
    mailbox TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid INTEGER NOT NULL,
    since TEXT                       -- no message that arrived before this day is collected
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
    code TEXT,                       -- why it was not answered or not handled (problem code)
    note TEXT,                       -- the same, in words for the clerk
    UNIQUE (mailbox, uidvalidity, uid)
);
CREATE TABLE IF NOT EXISTS message_attempts (  -- runs that began a message (a crash leaves the count)
    mailbox TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
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
    smtp_response TEXT,
    failed_at TEXT                   -- refused for good (5xx): never sent again
);
CREATE TABLE IF NOT EXISTS sent_files (  -- every file we mailed out: a village that forwards it back is not reporting
    sha256 TEXT PRIMARY KEY,
    kind TEXT NOT NULL,              -- the outbox kind of the mail that carried it (template, reminder, rejection)
    name TEXT NOT NULL,
    outbox_id INTEGER NOT NULL
);
"""
_ADDED = (  # columns later versions added to tables an older ledger already has (mail's and the ledger's own)
    ("receipts", "message_id", "TEXT"),
    ("mailbox_state", "since", "TEXT"),
    ("messages", "code", "TEXT"),
    ("messages", "note", "TEXT"),
    ("outbox", "failed_at", "TEXT"),
    ("outbox", "files_noted", "INTEGER"),  # its attachments are in sent_files (or were gone when looked for)
)


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


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    for table, column, kind in _ADDED:
        if column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            except sqlite3.OperationalError as exc:  # another process added it a moment ago
                if "duplicate column" not in str(exc):
                    raise


@dataclass(frozen=True)
class MailboxState:
    uidvalidity: int
    last_uid: int
    since: str | None


def mailbox_state(ledger: Ledger, mailbox: str) -> MailboxState | None:
    row = ledger.conn.execute("SELECT uidvalidity, last_uid, since FROM mailbox_state WHERE mailbox = ?", (mailbox,)).fetchone()
    return MailboxState(int(row["uidvalidity"]), int(row["last_uid"]), row["since"]) if row else None


def start_mailbox(ledger: Ledger, mailbox: str, uidvalidity: int, since: str) -> None:
    """The first collect of a mailbox fixes its start day, before any message is fetched."""
    with ledger.transaction() as db:
        db.execute("INSERT OR IGNORE INTO mailbox_state(mailbox, uidvalidity, last_uid, since) VALUES (?,?,0,?)",
                   (mailbox, uidvalidity, since))
        db.execute("UPDATE mailbox_state SET since = ? WHERE mailbox = ? AND since IS NULL", (since, mailbox))


def begin_attempt(ledger: Ledger, mailbox: str, uidvalidity: int, uid: int) -> int:
    """Count one more run that began this message; returns the count including this one.

    Committed before the message is handled, so a run that dies on it (a native crash) leaves the
    count behind: the caller gives up on a message that has already stopped two runs."""
    with ledger.transaction() as db:
        db.execute(
            "INSERT INTO message_attempts(mailbox, uidvalidity, uid, attempts) VALUES (?,?,?,1)"
            " ON CONFLICT(mailbox, uidvalidity, uid) DO UPDATE SET attempts = attempts + 1",
            (mailbox, uidvalidity, uid),
        )
        row = db.execute("SELECT attempts FROM message_attempts WHERE mailbox = ? AND uidvalidity = ? AND uid = ?",
                         (mailbox, uidvalidity, uid)).fetchone()
    return int(row["attempts"])


def seen(ledger: Ledger, mailbox: str, uidvalidity: int, uid: int, sha256: str) -> bool:
    """Processed already — by its place in the mailbox, or (after a UIDVALIDITY change) by its bytes."""
    row = ledger.conn.execute(
        "SELECT 1 FROM messages WHERE (mailbox = ? AND uidvalidity = ? AND uid = ?) OR sha256 = ?",
        (mailbox, uidvalidity, uid, sha256),
    ).fetchone()
    return row is not None


def forget_attempt(ledger: Ledger, mailbox: str, uidvalidity: int, uid: int) -> None:
    with ledger.transaction() as db:
        db.execute("UPDATE message_attempts SET attempts = attempts - 1 WHERE mailbox = ? AND uidvalidity = ? AND uid = ? AND attempts > 0",
                   (mailbox, uidvalidity, uid))


def record_message(db: sqlite3.Connection, mailbox: str, uidvalidity: int, uid: int, message: Any, sha256: str,
                   received_at: str, attachments: int, code: str | None = None, note: str | None = None) -> None:
    db.execute(
        "INSERT OR IGNORE INTO messages(mailbox, uidvalidity, uid, message_id, sha256, sender, subject, received_at, attachments,"
        " ignored_json, processed_at, code, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (mailbox, uidvalidity, uid, message.message_id, sha256, message.sender, message.subject, received_at, attachments,
         json.dumps([[i.name, i.reason] for i in message.ignored], ensure_ascii=False), now(), code, note),
    )
    db.execute(
        "INSERT INTO mailbox_state(mailbox, uidvalidity, last_uid) VALUES (?,?,?)"
        " ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity,"
        " last_uid = MAX(CASE WHEN mailbox_state.uidvalidity = excluded.uidvalidity THEN mailbox_state.last_uid ELSE 0 END, excluded.last_uid)",
        (mailbox, uidvalidity, uid),
    )


_KEY_OR_SUFFIXED = "(dedupe_key = ? OR substr(dedupe_key, 1, ?) = ?)"  # a key, or the key of a mail to corrected addresses


def _key_args(key: str) -> tuple[str, int, str]:
    return key, len(key) + 1, key + ":"


def outbox_standing(db: sqlite3.Connection, reply: Reply) -> str:
    """How the outbox stands with ``reply`` (by its key): ``new``; ``queued`` (waiting to go); ``done`` (sent, or
    refused for good at these same addresses: never again); ``again`` (refused for good, and the addresses
    have been corrected since: a mail of its own). Addresses compare as a set, whatever their case or order."""
    last = db.execute(f"SELECT to_addrs, sent_at, failed_at FROM outbox WHERE {_KEY_OR_SUFFIXED} ORDER BY id DESC LIMIT 1",
                      _key_args(reply.dedupe_key)).fetchone()
    if last is None:
        return "new"
    if last["sent_at"]:
        return "done"
    if last["failed_at"]:
        return "again" if {a.lower() for a in json.loads(last["to_addrs"])} != {a.lower() for a in reply.to} else "done"
    return "queued"


def queue(db: sqlite3.Connection, reply: Reply) -> None:
    """Queue a reply once. The same key again: a reply still waiting goes to the addresses given now (a 村名册
    address corrected meanwhile); one sent is not sent again; one refused for good goes again only to
    corrected addresses. A reminder replaces an earlier day's reminder still unsent (never two at once)."""
    if reply.kind == "reminder":
        db.execute("DELETE FROM outbox WHERE kind = 'reminder' AND village_code IS ? AND period IS ? AND dedupe_key != ?"
                   " AND sent_at IS NULL AND failed_at IS NULL", (reply.village_code, reply.period, reply.dedupe_key))
    standing = outbox_standing(db, reply)
    if standing == "done":
        return
    if standing == "queued":
        db.execute(f"UPDATE outbox SET to_addrs = ? WHERE sent_at IS NULL AND failed_at IS NULL AND {_KEY_OR_SUFFIXED}",
                   (json.dumps(reply.to), *_key_args(reply.dedupe_key)))
        return
    if standing == "again":
        suffix = hashlib.sha256(json.dumps(sorted(a.lower() for a in reply.to)).encode()).hexdigest()[:8]
        local, at, host = reply.message_id.partition("@")
        reply = replace(reply, dedupe_key=f"{reply.dedupe_key}:{suffix}", message_id=f"{local}.{suffix}{at}{host}")
    db.execute(
        "INSERT OR IGNORE INTO outbox(kind, dedupe_key, to_addrs, subject, body, attachments_json, message_id, in_reply_to,"
        " village_code, period, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (reply.kind, reply.dedupe_key, json.dumps(reply.to), reply.subject, reply.body,
         json.dumps(reply.attachments, ensure_ascii=False), reply.message_id, reply.in_reply_to, reply.village_code,
         reply.period, now()),
    )


def pending_replies(ledger: Ledger) -> list[sqlite3.Row]:
    """The replies still to send. A reminder left unsent (the server was away) whose village has a report
    accepted since is dropped first: it would have gone out beside the receipt of that very report. (A report
    waiting to be confirmed may be a stranger's: the reminder stands.)"""
    with ledger.transaction() as db:
        db.execute("DELETE FROM outbox WHERE kind = 'reminder' AND sent_at IS NULL AND failed_at IS NULL AND EXISTS"
                   " (SELECT 1 FROM submissions s WHERE s.village_code = outbox.village_code AND s.period = outbox.period"
                   " AND s.status = ?)", (ACCEPTED,))
    return ledger.conn.execute("SELECT * FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL ORDER BY id").fetchall()


def mark_sent(ledger: Ledger, outbox_id: int, response: str, files: Sequence[tuple[str, str]] = ()) -> None:
    """The mail went; ``files`` (name, sha256) are its attachments, remembered so that one forwarded back is known."""
    with ledger.transaction() as db:
        db.execute("UPDATE outbox SET sent_at = ?, smtp_response = ?, files_noted = 1 WHERE id = ?", (now(), response, outbox_id))
        db.executemany(_NOTE_SENT_FILE, [(digest, name, outbox_id) for name, digest in files])


_NOTE_SENT_FILE = "INSERT OR IGNORE INTO sent_files(sha256, kind, name, outbox_id) SELECT ?, kind, ?, id FROM outbox WHERE id = ?"


def attachment_paths(row: Any, root: Path) -> list[tuple[str, Path]]:
    """A queued mail's attachments: display name and the workspace file."""
    return [(str(name), root / str(rel)) for name, rel in json.loads(row["attachments_json"])]


def note_earlier_sent_files(ledger: Ledger, root: Path) -> int:
    """Mail sent by a version that did not remember its attachments: their digests, from the workspace files
    they were (templates and annotated copies are kept), so that a village forwarding last month's reminder
    back is not recorded as reporting. Each such mail is looked at once; returns the files noted."""
    rows = ledger.conn.execute("SELECT id, attachments_json FROM outbox WHERE sent_at IS NOT NULL AND files_noted IS NULL").fetchall()
    if not rows:
        return 0
    found = []
    for row in rows:
        try:
            attachments = attachment_paths(row, root)
        except (ValueError, TypeError):
            continue  # a row this version cannot read: no file to note, and no reason to stop the collection
        for name, path in attachments:
            try:
                found.append((sha256(path.read_bytes()), name, row["id"]))
            except OSError:
                continue  # tidied away since: nothing to know it by
    with ledger.transaction() as db:
        db.executemany(_NOTE_SENT_FILE, found)
        db.executemany("UPDATE outbox SET files_noted = 1 WHERE id = ?", [(row["id"],) for row in rows])
    return len(found)


def sent_files(ledger: Ledger, digests: Sequence[str]) -> dict[str, str]:
    """Of these file digests, those of files we mailed out, with the kind of mail that carried them."""
    if not digests:
        return {}
    marks = ",".join("?" * len(digests))
    return {r["sha256"]: r["kind"] for r in ledger.conn.execute(f"SELECT sha256, kind FROM sent_files WHERE sha256 IN ({marks})", list(digests))}


def mark_failed(ledger: Ledger, outbox_id: int, response: str) -> None:
    """The server refused this mail for good (5xx): keep it, with the refusal, and never send it again."""
    with ledger.transaction() as db:
        db.execute("UPDATE outbox SET failed_at = ?, smtp_response = ? WHERE id = ?", (now(), response, outbox_id))


HANGUP = "断开连接："  # smtp_response of a pending reply during whose sending the server hung up


def note_hangup(ledger: Ledger, outbox_id: int, why: str) -> int:
    """The server hung up while this reply was sent (and took other mail in the same run): how many times now."""
    with ledger.transaction() as db:
        row = db.execute("SELECT smtp_response FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
        earlier = re.match(rf"{HANGUP}(\d+)次", str(row["smtp_response"] or ""))
        times = (int(earlier.group(1)) if earlier else 0) + 1
        db.execute("UPDATE outbox SET smtp_response = ? WHERE id = ?", (f"{HANGUP}{times}次（{why}）", outbox_id))
        return times


def failed_replies(ledger: Ledger, period: str | None = None) -> list[sqlite3.Row]:
    """Mail the server refused for good: those of ``period`` and those of no period (e.g. a reply
    to a message without a report), oldest first."""
    sql = "SELECT * FROM outbox WHERE failed_at IS NOT NULL"
    if period is None:
        return ledger.conn.execute(sql + " ORDER BY id").fetchall()
    return ledger.conn.execute(sql + " AND (period = ? OR period IS NULL) ORDER BY id", (period,)).fetchall()
