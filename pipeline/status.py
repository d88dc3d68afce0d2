"""Who has reported for a month: 已报 / 退回 / 待确认 / 未报, from the ledger's rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .ledger.db import ACCEPTED, DUPLICATE, PENDING, REJECTED, VOID
from .programme.periods import Month
from .registry import Registry

REPORTED, MISSING = "已报", "未报"


@dataclass
class VillageStatus:
    code: str
    name: str
    state: str  # 已报 / 退回 / 待确认 / 未报
    received_at: str = ""
    version: int | None = None
    errors: int = 0
    late: bool = False
    sender: str = ""
    submissions: list[int] = field(default_factory=list)
    note: str = ""
    correction: str = ""  # a later file of an accepted month, not counted: 退回 or 待确认 (the last one's state)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def deadline(period: Month, day: int) -> datetime:
    due = period.shift(1)
    return datetime(due.year, due.month, day, 23, 59, 59)


def village_statuses(registry: Registry, rows: list[Any], period: Month, deadline_day: int) -> list[VillageStatus]:
    limit = deadline(period, deadline_day)
    by_village: dict[str, list[Any]] = {}
    unknown: list[Any] = []
    for r in rows:
        if r["status"] in (DUPLICATE, VOID):  # a 作废 file was recorded by mistake: no correction, no version
            continue
        if r["village_code"]:
            by_village.setdefault(r["village_code"], []).append(r)
        else:
            unknown.append(r)
    out = []
    for v in registry.villages:
        subs = by_village.get(v.code, [])
        if not v.active(period) and not subs:  # before its 起始月份 or from its 停止月份: neither 未报 nor ranked
            continue
        st = VillageStatus(v.code, v.name, MISSING, submissions=[r["id"] for r in subs])
        if not v.active(period):
            st.note = "本期不参加考核（见村名册起始/停止月份）"
        accepted = [r for r in subs if r["status"] == ACCEPTED]
        if accepted:
            best = max(accepted, key=lambda r: r["version"])
            st.state, st.version, st.received_at = REPORTED, best["version"], best["received_at"]
            st.sender = best["sender"] or best["source"]
            # on time is when the first good report came: a correction after the deadline is not 迟报
            st.late = _after(min(accepted, key=lambda r: r["id"])["received_at"], limit)
            later = [r for r in subs if r["id"] > best["id"] and r["status"] in (REJECTED, PENDING)]
            st.correction = later[-1]["status"] if later else ""
            earlier = [r["id"] for r in subs if r["id"] < best["id"] and r["status"] == PENDING]
            notes = [f"之后又收到 {len(later)} 份（{later[-1]['status']}），仍以第 {best['version']} 版为准"] if later else []
            if earlier:
                notes.append(f"另有较早收到的待确认 {len(earlier)} 份（记录号 {'、'.join(map(str, earlier))}），以第 {best['version']} 版为准")
            st.note = "；".join([st.note, *notes] if st.note else notes)
        elif subs:
            last = subs[-1]
            st.state, st.received_at, st.errors = last["status"], last["received_at"], last["n_errors"]
            st.sender = last["sender"] or last["source"]
            st.late = _after(last["received_at"], limit)
        out.append(st)
    for r in unknown:
        out.append(
            VillageStatus("", r["village_name"] or r["original_name"], r["status"], r["received_at"], errors=r["n_errors"],
                          sender=r["sender"] or r["source"], submissions=[r["id"]], note="未能识别是哪个村")
        )
    return out


def _after(stamp: str, limit: datetime) -> bool:
    try:
        when = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return False
    return when.replace(tzinfo=None) > limit


MAIL_KINDS = {"receipt": "回执", "rejection": "退回说明", "pending": "待核实说明", "no_report": "回复", "unregistered": "回复",
              "reminder": "催报邮件", "template": "模板邮件", "outlier": "核实提醒"}


def note_undelivered(statuses: list[VillageStatus], failed: list[Any], registry: Registry) -> list[VillageStatus]:
    """Say on each village's line which mail to it the server refused for good (never resent);
    a reply that names no village (e.g. to a message without a report) counts by its address."""
    by_code = {s.code: s for s in statuses if s.code}
    for row in failed:
        code = row["village_code"] or next((v.code for a in json.loads(row["to_addrs"]) if (v := registry.by_email(a))), "")
        st = by_code.get(code)
        if st is not None:
            said = f"{MAIL_KINDS.get(row['kind'], '邮件')}未送达（{(row['smtp_response'] or '')[:60]}）"
            st.note = f"{st.note}；{said}" if st.note else said
    return statuses
