"""One file through the checks: read → identify → validate → decide. Bytes in, a FileCheck out.

Used alike by ``huizong validate`` (no ledger) and by ``collect`` (which archives the bytes first
and records the FileCheck). Nothing here touches the disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .ledger.db import ACCEPTED, PENDING, REJECTED
from .problems import Problem
from .programme.calendar import year_start
from .programme.config import Programme
from .programme.periods import Month
from .registry import Registry
from .validate.idcard import mask, mask_name
from .validate.identity import CONFIRM_CODES, DOUBTFUL_IDENTITY, Identity, identify
from .validate.plausibility import limit_problems
from .validate.record import to_record, validate_report
from .workbook.normalise import clean_text
from .workbook.reader import ReadResult, read_report
from .workbook.safety import DEFAULT_LIMITS, Limits

MAX_SHOWN = 50  # problems listed per file before "还有 N 处问题"


def standing(problems: Iterable[tuple[str, bool]]) -> str:
    """What a file's problems (code, is it an error) make of it: 退回 for any error but a doubt of whose or which
    month it is; 待确认 for such a doubt alone; else 已接收. The one rule, for a check and a record read back."""
    found = list(problems)
    if any(error and code not in CONFIRM_CODES for code, error in found):
        return REJECTED
    return PENDING if any(code in CONFIRM_CODES for code, _ in found) else ACCEPTED


@dataclass
class FileCheck:
    file: str
    read: ReadResult
    identity: Identity
    problems: list[Problem] = field(default_factory=list)
    previous: tuple[str, dict[str, Any]] | None = None  # the village's latest earlier month (period, fields), for the reply

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def status(self) -> str:
        """退回 for any content error; 待确认 when only the identity is in doubt; else 已接收."""
        return standing((p.code, p.is_error) for p in self.problems)

    def to_dict(self, masked_for: Programme | None = None) -> dict[str, Any]:
        """As JSON-ready data; with ``masked_for``, that programme's personal values (ID numbers, names) masked."""
        v = self.identity.village
        return {
            "file": self.file,
            "valid": self.valid,
            "status": self.status,
            "village_code": v.code if v else None,
            "village_name": v.name if v else self.read.meta.get("village_name"),
            "period": str(self.identity.period) if self.identity.period else None,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "issues": redacted_problems(self, masked_for) if masked_for else [p.to_dict() for p in self.problems],
        }


def check_bytes(
    data: bytes,
    name: str,
    programme: Programme,
    registry: Registry | None = None,
    secret: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> FileCheck:
    try:
        res = read_report(data, name, programme, limits)
        if not res.readable:  # refused as a whole; whose it is still counts (状态 退回, not 未报) when it says so plainly
            return FileCheck(name, res, _plain_identity(res, programme, registry, secret), list(res.problems))
        ident = identify(res, programme, registry, secret)
        period: Month | None = ident.period
        problems = list(res.problems) + ident.problems + validate_report(res, programme, period)
        own = ident.village.for_year(year_start(programme, period).year) if ident.village and period else ident.village
        problems += limit_problems(res.values, res.cells, programme, own, res.file, res.sheet, skip=res.invalid)
        if period is not None and period.month not in programme.report_months:  # counted in no ranking: said, sent back
            problems.append(Problem("I010", file=name, value=period.chinese, detail=report_months_text(programme)))
        village = ident.village
        if village is not None and period is not None and not village.active(period):  # a typo in 起始/停止月份 hides it
            problems.append(Problem("I008", file=name, value=period.chinese, detail=f"{village.name}{village.taking_part(period)}"))
        if period is not None:  # a field added later in the year is not asked of an earlier month's report (old template)
            later = {f.id for f in programme.all_inputs if not f.asked_in(str(period))}
            problems = [q for q in problems if not (q.code in ("S003", "V001") and q.field in later)]
        return FileCheck(name, res, ident, _ordered(problems))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a defect of ours, or a library panic (pyo3: BaseException), must not stop a collection
        return failed_check(name, "F013", exc)


def report_months_text(programme: Programme) -> str:
    months = sorted(programme.report_months)
    return "每月" if len(months) == 12 else "、".join(f"{m}月" for m in months)


def _plain_identity(res: ReadResult, programme: Programme, registry: Registry | None, secret: str | None) -> Identity:
    """The village and month of a file refused as a whole, where its meta was read and nothing about them is
    in doubt (a signature that does not match, another programme: then nobody's)."""
    if not res.meta:
        return Identity()
    ident = identify(res, programme, registry, secret)
    if any(p.code in DOUBTFUL_IDENTITY for p in ident.problems):
        return Identity()
    return Identity(village=ident.village, period=ident.period)


def failed_check(name: str, code: str, why: BaseException | str) -> FileCheck:
    """A file that could not be checked at all: sent back with one problem saying why (F013, F014)."""
    detail = why if isinstance(why, str) else f"{type(why).__name__}: {str(why)[:120]}".rstrip(": ")
    return FileCheck(name, ReadResult(file=name), Identity(), [Problem(code, file=name, detail=detail)])


def _ordered(problems: list[Problem]) -> list[Problem]:
    """Identity first, then errors before warnings, each in sheet/row order; no exact repeats."""
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for p in problems:
        key = (p.code, p.sheet, p.cell, p.field, str(p.value), p.detail)
        if key not in seen:
            seen.add(key)
            unique.append(p)

    def row(cell: str) -> int:
        digits = "".join(ch for ch in cell if ch.isdigit())
        return int(digits) if digits else 0

    return sorted(unique, key=lambda p: (not p.code.startswith(("F", "I")), not p.is_error, p.sheet, row(p.cell), p.cell))


def stored_record(check: FileCheck, programme: Programme) -> dict[str, Any]:
    """The record kept in the ledger: everything scoring needs, personal data masked."""
    record = to_record(check.read)
    if programme.register:
        personal = {c.id: c.type for c in programme.register.columns if c.personal}
        for row in record.get("register", []):
            for cid, ctype in personal.items():
                if isinstance(row.get(cid), str):
                    row[cid] = mask(row[cid]) if ctype == "id_number" else mask_name(row[cid])
    return record


_ID_LIKE = re.compile(r"\d{8,17}[\dXx]?")  # an ID number (or most of one) written into a detail


def redacted_problems(check: FileCheck, programme: Programme) -> list[dict[str, Any]]:
    """Problems as stored in the ledger and shown to the township: personal values masked — in the value
    and wherever the detail repeats it (a cleaned ID number in a V010 note) — and the message written
    anew from them, never by replacing text in it (an ID typed "8" would turn "应为 18 位" into "1*")."""
    personal = {c.id: c.type for c in (programme.register.columns if programme.register else ()) if c.personal}
    out = []
    for p in check.problems:
        cid = p.field.rsplit(".", 1)[-1]
        if cid in personal and isinstance(p.value, str):
            hide = mask if personal[cid] == "id_number" else mask_name
            detail = p.detail
            cleaned = clean_text(p.value)[0]  # a V010 note repeats the value as read: "李　芳" as "李 芳"
            for shown in sorted({p.value, p.value.strip(), cleaned, cleaned.replace(" ", "")}, key=len, reverse=True):
                if len(shown) > 1:
                    detail = detail.replace(shown, hide(shown))
            if personal[cid] == "id_number":
                detail = _ID_LIKE.sub(lambda m: mask(m.group()), detail)
            p = p.at(value=hide(p.value), detail=detail)
        elif p.code == "F013":  # a program error's text may quote a cell: an ID number in it is hidden
            p = p.at(detail=_ID_LIKE.sub(lambda m: mask(m.group()), p.detail))
        out.append(p.to_dict())
    return out
