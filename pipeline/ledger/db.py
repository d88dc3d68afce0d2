"""The workspace ledger (SQLite, WAL): what arrived, from where, and what became of it.

One transaction per received file. A submission is 已接收 (accepted, with a version number per
village and month), 退回 (rejected, with its problems), 待确认 (identity in doubt: never scored
until the clerk accepts it) or 重复 (the same bytes as a report already accepted or waiting; the same
bytes as a refused one are checked again).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from ..workspace import owner_only

ACCEPTED, REJECTED, PENDING, DUPLICATE = "已接收", "退回", "待确认", "重复"
CONFIRMED = "已核实"  # a decision: the township checked an accepted report's out-of-line numbers
VOID = "作废"  # a decision and a status: a file put into inbox/ by mistake, taken out of every count (its original kept)
UNVOID = "撤销作废"  # a decision: a 作废 undone (the record number was mistyped)

SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,             -- folder / mail
    source_ref TEXT NOT NULL UNIQUE,  -- identifies one physical arrival (re-runs find it again)
    original_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    ext TEXT NOT NULL,
    sender TEXT,
    message_id TEXT,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    receipt_id INTEGER NOT NULL UNIQUE REFERENCES receipts(id),
    sha256 TEXT NOT NULL,
    programme TEXT NOT NULL,
    village_code TEXT,
    village_name TEXT,
    period TEXT,
    status TEXT NOT NULL,
    version INTEGER,
    duplicate_of INTEGER REFERENCES submissions(id),
    n_errors INTEGER NOT NULL,
    n_warnings INTEGER NOT NULL,
    problems_json TEXT NOT NULL,
    record_json TEXT,
    feedback_path TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_vp ON submissions(village_code, period);
CREATE INDEX IF NOT EXISTS submissions_sha ON submissions(sha256);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    decision TEXT NOT NULL,
    village_code TEXT,
    period TEXT,
    note TEXT,
    decided_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Arrival:
    source: str
    source_ref: str
    original_name: str
    sha256: str
    size: int
    ext: str
    sender: str | None
    received_at: str
    message_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    programme: str
    village_code: str | None
    village_name: str | None
    period: str | None
    status: str  # ACCEPTED / REJECTED / PENDING (DUPLICATE is decided here)
    n_errors: int
    n_warnings: int
    problems: list[dict[str, Any]]
    record: dict[str, Any] | None
    feedback_path: str | None = None


class _Fields(msgspec.Struct):
    fields: Any = None


_FIELDS = msgspec.json.Decoder(_Fields)


# the current version of a village's month among its accepted reports (one ``?``: ACCEPTED), on ``s`` = submissions
CURRENT = ("s.version = (SELECT MAX(version) FROM submissions t"
           " WHERE t.village_code = s.village_code AND t.period = s.period AND t.status = ?)")


def record_fields(record_json: str | bytes) -> dict[str, Any]:
    """A stored record's report fields; the register rows (most of its JSON) are skipped, not built."""
    try:
        fields = _FIELDS.decode(record_json).fields
    except (msgspec.DecodeError, msgspec.ValidationError):  # e.g. NaN or Infinity, which only json reads
        fields = json.loads(record_json).get("fields")
    return fields or {}


def now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class Ledger:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        owner_only(path.parent, directory=True)
        if not path.exists():  # created readable by the owner only; SQLite gives its -wal and -shm the same mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            owner_only(part)  # a ledger made by an earlier version
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA)
        from .editions import SCHEMA as EDITIONS
        from .mail import ensure_schema  # noqa: PLC0415 - mail.py imports this module

        ensure_schema(self.conn)
        self.conn.executescript(EDITIONS)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def receipt_for(self, source_ref: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM receipts WHERE source_ref = ?", (source_ref,)).fetchone()

    def record(self, arrival: Arrival, outcome: Outcome) -> sqlite3.Row:
        """Record one arrival and its outcome atomically; decides 重复 and the version number."""
        with self.transaction() as db:
            return self.record_in(db, arrival, outcome)

    def record_in(self, db: sqlite3.Connection, arrival: Arrival, outcome: Outcome) -> sqlite3.Row:
        """The same, inside a transaction the caller holds (a mail message records all its files at once)."""
        existing = db.execute("SELECT id FROM receipts WHERE source_ref = ?", (arrival.source_ref,)).fetchone()
        if existing:
            return db.execute("SELECT * FROM submissions WHERE receipt_id = ?", (existing["id"],)).fetchone()
        cur = db.execute(
            "INSERT INTO receipts(source, source_ref, original_name, sha256, size, ext, sender, message_id, received_at)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (arrival.source, arrival.source_ref, arrival.original_name, arrival.sha256, arrival.size, arrival.ext,
             arrival.sender, arrival.message_id, arrival.received_at),
        )
        receipt_id = cur.lastrowid
        first = self._same_bytes(db, arrival.sha256)
        status, version, duplicate_of = outcome.status, None, None
        if first is not None:
            status, duplicate_of = DUPLICATE, first["id"]
        elif status == ACCEPTED:
            version = self._next_version(db, outcome.village_code, outcome.period)
        cur = db.execute(
            "INSERT INTO submissions(receipt_id, sha256, programme, village_code, village_name, period, status, version,"
            " duplicate_of, n_errors, n_warnings, problems_json, record_json, feedback_path, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (receipt_id, arrival.sha256, outcome.programme, outcome.village_code, outcome.village_name, outcome.period,
             status, version, duplicate_of, outcome.n_errors, outcome.n_warnings,
             json.dumps(outcome.problems, ensure_ascii=False),
             json.dumps(outcome.record, ensure_ascii=False) if outcome.record is not None else None,
             outcome.feedback_path, now()),
        )
        return db.execute("SELECT * FROM submissions WHERE id = ?", (cur.lastrowid,)).fetchone()

    @staticmethod
    def _same_bytes(db: sqlite3.Connection, digest: str) -> sqlite3.Row | None:
        """The submission a file with these bytes is a 重复 of, or None when it is to be counted on its own.

        The same bytes as a report accepted or waiting: 重复. The same bytes as a refused one are checked
        again (what refused them, a 村名册 typo or a limit, may have been put right since) — unless the
        village has had a good report of that month accepted after the refusal: then it is an old file sent
        again (a mail forwarded), 重复, and never a newer version over the correction."""
        kept = db.execute("SELECT id FROM submissions WHERE sha256 = ? AND status IN (?, ?) ORDER BY id LIMIT 1",
                          (digest, ACCEPTED, PENDING)).fetchone()
        if kept is not None:
            return kept
        return db.execute(
            "SELECT r.id FROM submissions r WHERE r.sha256 = ? AND r.status = ? AND EXISTS (SELECT 1 FROM submissions a"
            " WHERE a.village_code = r.village_code AND a.period = r.period AND a.status = ? AND a.id > r.id)"
            " ORDER BY r.id LIMIT 1", (digest, REJECTED, ACCEPTED)).fetchone()

    @staticmethod
    def _next_version(db: sqlite3.Connection, village: str | None, period: str | None) -> int:
        """After the highest version given, a voided one included: a version number names one file, ever."""
        row = db.execute(
            "SELECT COALESCE(MAX(version), 0) AS v FROM submissions WHERE village_code IS ? AND period IS ? AND status IN (?, ?)",
            (village, period, ACCEPTED, VOID),
        ).fetchone()
        return int(row["v"]) + 1

    def accept(self, submission_id: int, note: str, village_code: str | None = None, period: str | None = None) -> sqlite3.Row:
        """The clerk's explicit decision to accept a 待确认 submission (recorded, with the reason)."""
        with self.transaction() as db:
            sub = db.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()
            if sub is None or sub["status"] != PENDING:
                raise LookupError(submission_id)
            village = village_code or sub["village_code"]
            per = period or sub["period"]
            version = self._next_version(db, village, per)
            db.execute(
                "UPDATE submissions SET status = ?, version = ?, village_code = ?, period = ? WHERE id = ?",
                (ACCEPTED, version, village, per, submission_id),
            )
            db.execute(
                "INSERT INTO decisions(submission_id, decision, village_code, period, note, decided_at) VALUES (?,?,?,?,?,?)",
                (submission_id, ACCEPTED, village, per, note, now()),
            )
            return db.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()

    def later_accepted(self, submission_id: int, village_code: str, period: str) -> sqlite3.Row | None:
        """The current report of a village's month when it arrived after ``submission_id`` (else None)."""
        return self.conn.execute(
            f"""SELECT s.id, s.version, r.received_at FROM submissions s JOIN receipts r ON r.id = s.receipt_id
                WHERE s.village_code = ? AND s.period = ? AND s.status = ? AND s.id > ? AND {CURRENT}""",
            (village_code, period, ACCEPTED, submission_id, ACCEPTED),
        ).fetchone()

    def void(self, submission_id: int, note: str) -> sqlite3.Row:
        """The clerk's decision that a file was recorded by mistake: it counts for nothing from now on (an accepted
        one's earlier version counts again); the row, the decision and the archived original stay."""
        with self.transaction() as db:
            sub = db.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()
            if sub is None or sub["status"] == VOID:
                raise LookupError(submission_id)
            db.execute("UPDATE submissions SET status = ? WHERE id = ?", (VOID, submission_id))
            db.execute(
                "INSERT INTO decisions(submission_id, decision, village_code, period, note, decided_at) VALUES (?,?,?,?,?,?)",
                (submission_id, VOID, sub["village_code"], sub["period"], note, now()),
            )
            return sub

    def unvoid(self, submission_id: int, note: str, status: str) -> sqlite3.Row:
        """Undo a 作废 (a record number mistyped): the submission takes ``status`` again, what it was before
        (the caller derives it from the row); the decision is recorded beside the first."""
        with self.transaction() as db:
            sub = db.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()
            if sub is None or sub["status"] != VOID:
                raise LookupError(submission_id)
            db.execute("UPDATE submissions SET status = ? WHERE id = ?", (status, submission_id))
            db.execute(
                "INSERT INTO decisions(submission_id, decision, village_code, period, note, decided_at) VALUES (?,?,?,?,?,?)",
                (submission_id, UNVOID, sub["village_code"], sub["period"], note, now()),
            )
            return db.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()

    def confirm(self, submission_id: int, note: str) -> sqlite3.Row:
        """The clerk's decision that an accepted report's out-of-line numbers are right (recorded, with the reason)."""
        with self.transaction() as db:
            sub = db.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()
            if sub is None or sub["status"] != ACCEPTED:
                raise LookupError(submission_id)
            db.execute(
                "INSERT INTO decisions(submission_id, decision, village_code, period, note, decided_at) VALUES (?,?,?,?,?,?)",
                (submission_id, CONFIRMED, sub["village_code"], sub["period"], note, now()),
            )
            return sub

    def flagged(self, programme: str, periods: list[str], code: str) -> list[sqlite3.Row]:
        """The current accepted versions whose problems include ``code`` (e.g. an outlier warning), each with
        ``confirmed`` = 1 when the township has decided on that submission (accepted it or confirmed its numbers),
        and ``decision``: the last such decision's number (a warning found after it is not covered by it)."""
        if not periods:
            return []
        marks = ",".join("?" * len(periods))
        return self.conn.execute(
            f"""SELECT s.id, s.village_code, s.village_name, s.period, s.problems_json,
                       EXISTS(SELECT 1 FROM decisions d WHERE d.submission_id = s.id) AS confirmed,
                       (SELECT MAX(d.id) FROM decisions d WHERE d.submission_id = s.id) AS decision
                FROM submissions s
                WHERE s.programme = ? AND s.status = ? AND s.period IN ({marks}) AND s.problems_json LIKE ?
                  AND {CURRENT}
                ORDER BY s.village_code, s.period""",
            (programme, ACCEPTED, *periods, f'%"{code}"%', ACCEPTED),
        ).fetchall()

    def submissions(self, period: str | None = None) -> list[sqlite3.Row]:
        sql = (
            "SELECT s.*, r.original_name, r.received_at, r.source, r.sender FROM submissions s"
            " JOIN receipts r ON r.id = s.receipt_id"
        )
        if period is None:
            return self.conn.execute(sql + " ORDER BY s.id").fetchall()
        return self.conn.execute(sql + " WHERE s.period = ? ORDER BY s.id", (period,)).fetchall()

    def submission(self, submission_id: int) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT s.*, r.original_name, r.received_at, r.source, r.sender FROM submissions s"
            " JOIN receipts r ON r.id = s.receipt_id WHERE s.id = ?",
            (submission_id,),
        ).fetchone()

    def accepted_fields(self, programme: str, periods: list[str], village_code: str | list[str] | None = None,
                        skip_unreadable: bool = False) -> list[tuple[str, str, dict[str, Any]]]:
        """(village code, period, report fields) of the current accepted version per village and month;
        ``village_code``: that village (or those villages) only (history, for the plausibility check).
        ``skip_unreadable``: a stored record that cannot be read is left out (other villages' reports, to
        compare with: one damaged record must not refuse every village's file) instead of raising."""
        if not periods:
            return []
        marks = ",".join("?" * len(periods))
        codes = [village_code] if isinstance(village_code, str) else village_code
        where, args = (f"AND s.village_code IN ({','.join('?' * len(codes))})", codes) if codes is not None else ("", [])
        rows = self.conn.execute(
            f"""SELECT s.village_code, s.period, CAST(s.record_json AS BLOB) AS record_json FROM submissions s
                WHERE s.programme = ? AND s.status = ? AND s.period IN ({marks}) {where}
                  AND {CURRENT}""",
            (programme, ACCEPTED, *periods, *args, ACCEPTED),
        ).fetchall()
        out = []
        for r in rows:
            try:
                out.append((r["village_code"], r["period"], record_fields(r["record_json"] or "{}")))
            except (ValueError, AttributeError, TypeError):
                if not skip_unreadable:
                    raise
        return out

    def reported_pairs(self, programme: str) -> list[tuple[str, str]]:
        """(village code, period) of every accepted report, in one pass that reads no record."""
        rows = self.conn.execute("SELECT DISTINCT village_code, period FROM submissions WHERE programme = ? AND status = ?"
                                 " AND village_code IS NOT NULL AND period IS NOT NULL", (programme, ACCEPTED))
        return [(r[0], r[1]) for r in rows]

    def accepted_periods(self, programme: str) -> set[str]:
        """The months with an accepted report of ``programme``."""
        rows = self.conn.execute("SELECT DISTINCT period FROM submissions WHERE programme = ? AND status = ? AND period IS NOT NULL",
                                 (programme, ACCEPTED))
        return {r[0] for r in rows}

    def all_periods(self) -> set[str]:
        """Every month any record names, whatever its programme or status."""
        return {r[0] for r in self.conn.execute("SELECT DISTINCT period FROM submissions WHERE period IS NOT NULL")}

    def reporters(self, programme: str, first: str, last: str) -> list[sqlite3.Row]:
        """Every village code with an accepted report between ``first`` and ``last`` (months): a name it was
        recorded under and its months (comma-separated), by code."""
        return self.conn.execute(
            "SELECT village_code, MAX(village_name) AS name, GROUP_CONCAT(DISTINCT period) AS periods FROM submissions"
            " WHERE programme = ? AND status = ? AND village_code IS NOT NULL AND period >= ? AND period <= ?"
            " GROUP BY village_code ORDER BY village_code", (programme, ACCEPTED, first, last)).fetchall()

    def current_reports(self, programme: str, period: str) -> list[sqlite3.Row]:
        """The current accepted version of every village's report for ``period``: its id, stored record and
        problems, and where its original is (the receipt's name, digest and extension)."""
        return self.conn.execute(
            f"""SELECT s.id, s.village_code, s.village_name, s.period, CAST(s.record_json AS BLOB) AS record_json, s.problems_json,
                      r.original_name, r.sha256, r.ext, r.source, r.sender, r.message_id
               FROM submissions s JOIN receipts r ON r.id = s.receipt_id
               WHERE s.programme = ? AND s.status = ? AND s.period = ?
                 AND {CURRENT}""",
            (programme, ACCEPTED, period, ACCEPTED),
        ).fetchall()

    def add_warnings_in(self, db: sqlite3.Connection, submission_id: int, problems: list[dict[str, Any]]) -> None:
        """Warnings found after a report was recorded (its problems and warning count grow; nothing else changes),
        inside a transaction the caller holds (with the mail that tells the village).

        Each carries ``after_decision``: the last decision recorded so far. A confirmation made before the
        warning was found does not cover it (``flagged``'s ``decision`` must be later).
        """
        row = db.execute("SELECT problems_json FROM submissions WHERE id = ?", (submission_id,)).fetchone()
        last = db.execute("SELECT COALESCE(MAX(id), 0) FROM decisions").fetchone()[0]
        stored = json.loads(row["problems_json"]) + [{**p, "after_decision": last} for p in problems]
        db.execute("UPDATE submissions SET problems_json = ?, n_warnings = n_warnings + ? WHERE id = ?",
                   (json.dumps(stored, ensure_ascii=False), len(problems), submission_id))

    def latest_accepted(self, programme: str, periods: list[str], village_code: str | None = None) -> Iterator[sqlite3.Row]:
        """The current (highest) accepted version per village and month, with its stored record (of one village:
        ``village_code``).

        A cursor: rows come one at a time (a county's year of records need not be in memory at once).
        """
        if not periods:
            return iter(())
        marks = ",".join("?" * len(periods))
        one = " AND s.village_code = ?" if village_code is not None else ""
        return self.conn.execute(
            f"""SELECT s.id, s.village_code, s.period, s.version, CAST(s.record_json AS BLOB) AS record_json, s.n_warnings,
                       r.received_at, r.sender, r.source
                FROM submissions s JOIN receipts r ON r.id = s.receipt_id
                WHERE s.programme = ? AND s.status = ? AND s.period IN ({marks}){one}
                  AND {CURRENT}
                ORDER BY s.village_code, s.period""",
            (programme, ACCEPTED, *periods, *([village_code] if village_code is not None else []), ACCEPTED),
        )

