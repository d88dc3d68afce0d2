"""Every 通报 made, remembered in the ledger: its villages' ranks and totals, and digests of what it was made
from. What a month made again says about them is ``pipeline.revision``'s business.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS editions (
    id INTEGER PRIMARY KEY,
    programme TEXT NOT NULL,
    period TEXT NOT NULL,
    made_at TEXT NOT NULL,
    standings_json TEXT NOT NULL,  -- village code → [name, rank (0: not ranked, -1: vetoed), total]
    inputs_json TEXT NOT NULL,     -- what it was made from → digest
    kept_as TEXT                   -- where the earlier file went when this one replaced it
);
CREATE INDEX IF NOT EXISTS editions_pp ON editions(programme, period);
CREATE TABLE IF NOT EXISTS marked (  -- township numbers a 通报 marked 待核实 while their row was not 已核实
    programme TEXT NOT NULL,
    place TEXT NOT NULL,          -- 村名册 / 村名册起始月份 / 镇考核登记 / 加分扣分登记 ('': the 通报 that began keeping them)
    village_code TEXT NOT NULL,
    key TEXT NOT NULL,            -- quality.Doubt.key: the number, not its row
    first_made_at TEXT NOT NULL,
    PRIMARY KEY (programme, place, village_code, key)
);
"""


@dataclass(frozen=True)
class Edition:
    made_at: str
    standings: dict[str, tuple[str, int, float]]  # village code → (name, rank (0: not ranked, −1: 一票否决), total)
    inputs: dict[str, str]  # 村名册 / 镇考核登记 / 加分扣分登记 / 报表 → a digest of what was used


def last_edition(db: sqlite3.Connection, programme: str, period: str) -> Edition | None:
    row = db.execute("SELECT made_at, standings_json, inputs_json FROM editions WHERE programme = ? AND period = ?"
                     " ORDER BY id DESC LIMIT 1", (programme, period)).fetchone()
    if row is None:
        return None
    standings = {code: (str(v[0]), int(v[1]), float(v[2])) for code, v in json.loads(row[1]).items()}
    return Edition(str(row[0]), standings, dict(json.loads(row[2])))


def remember(db: sqlite3.Connection, programme: str, period: str, edition: Edition, kept_as: str = "") -> None:
    db.execute("INSERT INTO editions(programme, period, made_at, standings_json, inputs_json, kept_as) VALUES (?,?,?,?,?,?)",
               (programme, period, edition.made_at, json.dumps(edition.standings, ensure_ascii=False),
                json.dumps(edition.inputs, ensure_ascii=False), kept_as or None))


def published_before(db: sqlite3.Connection, programme: str, period: str) -> bool:
    """Has any 通报 of a month before ``period`` been made (a year's first month: of the year before)?"""
    return db.execute("SELECT 1 FROM editions WHERE programme = ? AND period < ? LIMIT 1", (programme, period)).fetchone() is not None


def marked_before(db: sqlite3.Connection, programme: str) -> frozenset[tuple[str, str, str]] | None:
    """What earlier 通报 marked with the row not 已核实 (``quality.Seen``). None for a programme whose 通报 were
    made before they were kept (its 是 were given under the earlier rule: every one counts once more, and is
    kept); a programme new to the ledger starts with nothing confirmed, whatever its tables say."""
    rows = db.execute("SELECT place, village_code, key FROM marked WHERE programme = ?", (programme,)).fetchall()
    if rows:
        return frozenset((str(r[0]), str(r[1]), str(r[2])) for r in rows if r[0])
    made = db.execute("SELECT 1 FROM editions WHERE programme = ? LIMIT 1", (programme,)).fetchone()
    return None if made else frozenset()


def remember_marked(db: sqlite3.Connection, programme: str, made_at: str, marked: frozenset[tuple[str, str, str]]) -> None:
    db.executemany("INSERT OR IGNORE INTO marked(programme, place, village_code, key, first_made_at) VALUES (?,?,?,?,?)",
                   [(programme, place, code, key, made_at) for place, code, key in (*marked, ("", "", ""))])
