"""At intake, a report's numbers are compared with the village's own previous months (or, with
none, the township's other reports of the month): a value far out of line is a warning that goes
into the ledger and the reply, and marks the village in the 通报 until the township confirms it."""

from __future__ import annotations

import json
from bisect import bisect_left, insort
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from ..check import FileCheck
from ..ledger.archive import Archive
from ..ledger.db import ACCEPTED, REJECTED, Ledger, record_fields
from ..problems import Problem
from ..programme.calendar import year_start_at
from ..programme.periods import Month
from ..validate.plausibility import OUTLIER, Outliers, as_number, outlier_problems, plausibility

if TYPE_CHECKING:
    from ..api import Context


class OutlierHistory:
    """The accepted values the check compares with, read from the ledger in bulk and kept up to date
    as one collection records reports (it holds the workspace lock: nothing else writes meanwhile).

    Asked file by file, the ledger was read twice per report: the village's previous months, and, for
    a village with none, every report of the month so far — over a county's first month, n² decodes.
    """

    def __init__(self, programme_id: str, ledger: Ledger, rule: Outliers):
        self.programme_id = programme_id
        self.ledger = ledger
        self.rule = rule
        self.checked = tuple(rule.fields)
        self.by_period: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # period → village code → current accepted fields
        self.asked: set[tuple[str, str]] = set()  # (village code, period) already looked up, found or not
        self.month_values: dict[str, _MonthValues] = {}  # periods read for every village → their numbers, sorted

    def before(self, period: Month) -> list[str]:
        return months_before(period, self.rule)

    def prefetch(self, checks: Iterable[FileCheck]) -> None:
        """Read, in one query, the previous months of every village in ``checks`` not read yet."""
        wanted: set[tuple[str, str]] = set()
        for c in checks:
            village, period = c.identity.village, c.identity.period
            if village is not None and period is not None and c.status != REJECTED:
                wanted |= {(village.code, m) for m in self.before(period)}
        self._read(wanted)

    def latest(self, code: str, period: Month) -> tuple[str, dict[str, Any]] | None:
        """The village's latest earlier month with a report (period, fields), among the months compared with."""
        months = self.before(period)
        self._read({(code, m) for m in months})
        return next(((m, self.by_period[m][code]) for m in months if code in self.by_period[m]), None)

    def history(self, code: str, period: Month) -> list[dict[str, Any]]:
        months = self.before(period)
        self._read({(code, m) for m in months})  # nothing to read when the batch's prefetch has it
        return [self.by_period[m][code] for m in months if code in self.by_period[m]]

    def peer_median(self, code: str, period: Month) -> Callable[[str], tuple[int, float]]:
        """For a field: how many other villages have reported a number for the month, and their median."""
        key = str(period)
        if key not in self.month_values:
            for c, p, fields in self.ledger.accepted_fields(self.programme_id, [key], skip_unreadable=True):
                self._keep(c, p, fields)
            values = self.month_values[key] = _MonthValues(self.checked)
            for c, fields in self.by_period[key].items():
                values.put(c, fields)
        values = self.month_values[key]
        return lambda fid: values.median(fid, code)

    def recorded(self, code: str | None, period: str | None, status: str, record: dict[str, Any] | None) -> None:
        """A report just recorded: an accepted one is now its village's current version for the month."""
        if code and period and record is not None and status == ACCEPTED:
            self._keep(code, period, dict(record.get("fields") or {}))

    def _read(self, wanted: set[tuple[str, str]]) -> None:
        missing = {(code, m) for code, m in wanted if (code, m) not in self.asked and m not in self.month_values}
        if not missing:
            return
        codes, periods = sorted({c for c, _ in missing}), sorted({m for _, m in missing})
        for code, month, fields in self.ledger.accepted_fields(self.programme_id, periods, codes):
            self._keep(code, month, fields)
        self.asked |= {(c, m) for c in codes for m in periods}

    def _keep(self, code: str, period: str, fields: dict[str, Any]) -> None:
        self.by_period[period][code] = fields
        if period in self.month_values:
            self.month_values[period].put(code, fields)


class _MonthValues:
    """One month's reported numbers per checked field, sorted: the township median without sorting for
    every file (a county's first month has no history, so every file is compared with the others)."""

    def __init__(self, fields: tuple[str, ...]):
        self.sorted: dict[str, list[float]] = {f: [] for f in fields}
        self.own: dict[str, dict[str, float]] = {}  # village code → its numbers in the lists

    def put(self, code: str, fields: Mapping[str, Any]) -> None:
        for fid, old in self.own.pop(code, {}).items():
            column = self.sorted[fid]
            del column[bisect_left(column, old)]
        mine: dict[str, float] = {}
        for fid in self.sorted:
            number = as_number(fields.get(fid))
            if number is not None:
                mine[fid] = number
                insort(self.sorted[fid], number)
        self.own[code] = mine

    def median(self, fid: str, code: str) -> tuple[int, float]:
        """(count, median) of the other villages' numbers: this village's own, if any, left out."""
        column = self.sorted[fid]
        mine = self.own.get(code, {}).get(fid)
        skip = bisect_left(column, mine) if mine is not None else len(column)
        n = len(column) - (1 if mine is not None else 0)
        if n == 0:
            return 0, 0.0

        def at(k: int) -> float:
            return column[k + 1] if k >= skip else column[k]

        mid = n // 2
        return n, (at(mid) if n % 2 else (at(mid - 1) + at(mid)) / 2)


def add_outlier_warnings(ctx: Context, ledger: Ledger, check: FileCheck, known: OutlierHistory | None = None) -> None:
    """Append the outlier warnings of a report that will be recorded (the ledger as it stands, this batch
    included; ``known``: the values a collection has already read and recorded, instead of asking the ledger)."""
    rule = plausibility(ctx.programme).outliers
    village, period = check.identity.village, check.identity.period
    if village is None or period is None or check.status == REJECTED:
        return
    if rule is None:  # nothing to compare with, but the reply still sets last month's figures beside this month's
        last = str(period.shift(-1))
        check.previous = next(((m, fields) for _, m, fields in ledger.accepted_fields(ctx.programme.id, [last], village.code,
                                                                                     skip_unreadable=True)), None)
        return
    median: Callable[[str], tuple[int, float]] | None = None
    if known is not None:
        history: list[dict[str, Any]] = known.history(village.code, period)
        peers: list[dict[str, Any]] = []
        check.previous = known.latest(village.code, period)
        if len(history) < rule.min_months:  # too few months of its own: compared with the township's
            median = known.peer_median(village.code, period)
    else:
        before = months_before(period, rule)
        own = ledger.accepted_fields(ctx.programme.id, before, village.code)
        history = [fields for _, _, fields in own]
        check.previous = max(((m, fields) for _, m, fields in own), default=None, key=lambda x: x[0])
        peers = [] if len(history) >= rule.min_months else [
            f for code, _, f in ledger.accepted_fields(ctx.programme.id, [str(period)], skip_unreadable=True) if code != village.code]
    found = outlier_problems(check.read.values, check.read.cells, ctx.programme, history, peers, check.file, check.read.sheet, median)
    if found:
        check.problems.extend(found)


def recheck_without_history(ctx: Context, ledger: Ledger, archive: Archive) -> list[Problem]:
    """Check again, against the whole month, the reports of villages with no earlier month.

    At arrival such a report is compared with the month's reports so far — none, or too few, for the first
    to arrive — so whether "150 typed for 15" is flagged depended on the order the files came in. At the end
    of every collection, each month that has such reports (the first month of use, a village that joined)
    is looked at whole: a value now out of line gets its outlier warning (R006, the ※ in the 通报) after
    the fact (a confirmation given before it was found does not cover it: ``Ledger.add_warnings_in``).
    Returns the warnings added; a report keeps those it had, and one whose stored record cannot be read
    is passed over (its own check at arrival stands).
    """
    rule = plausibility(ctx.programme).outliers
    if rule is None:
        return []
    reported: dict[str, set[str]] = defaultdict(set)  # period → villages with an accepted report
    for code, period in ledger.reported_pairs(ctx.programme.id):
        reported[period].add(code)
    months = {period: m for period in reported if (m := Month.try_parse(period)) is not None}
    recent = max(months.values()).shift(-rule.months) if months else None  # older months no 通报 of the year shows
    added: list[Problem] = []
    for period, month in sorted(months.items()):
        if recent is None or month < recent or len(reported[period]) <= rule.min_peers:
            continue
        # villages compared with their own months: those with at least ``min_months`` of them
        months_of = Counter(code for m in months_before(month, rule) for code in reported.get(m, set()))
        seen = {code for code, k in months_of.items() if k >= rule.min_months}
        if reported[period] <= seen:  # every village has history: nothing to do (the usual month)
            continue
        added += _recheck_month(ctx, ledger, archive, rule, period, seen)
    return added


def _late_mail(ctx: Context, row: Any, found: list[Problem]) -> Any | None:
    """A mailed report's reply went out saying 校验通过: the sender (its registered address) is told now, as a
    report found out of line on arrival is told in its reply. (A folder file had no reply to follow.)"""
    from .mailconfig import mail_settings
    from .replies import late_outliers

    settings = mail_settings(ctx.workspace.settings)
    village = ctx.registry.by_code(row["village_code"])
    if (row["source"] != "mail" or not row["sender"] or settings is None or not settings.answers
            or village is None or not village.sends_from(row["sender"])):
        return None
    return late_outliers(row, found, ctx.programme, ctx.workspace.organ, settings.domain)


def months_before(month: Month, rule: Outliers) -> list[str]:
    """The months a report is compared with: the ``rule.months`` before its own (of its own assessment year only,
    for a seasonal programme: June's first checks are not last December's)."""
    months = [month.shift(-i) for i in range(1, rule.months + 1)]
    if rule.within_year:
        start = year_start_at(month, rule.within_year)
        months = [m for m in months if m >= start]
    return [str(m) for m in months]


def _recheck_month(ctx: Context, ledger: Ledger, archive: Archive, rule: Outliers, period: str, seen: set[str]) -> list[Problem]:
    rows, fields = [], {}
    for row in ledger.current_reports(ctx.programme.id, period):
        try:
            fields[row["village_code"]] = record_fields(row["record_json"] or b"{}")
        except (ValueError, AttributeError, TypeError):  # a stored record that cannot be read: not compared, not a peer
            continue
        rows.append(row)
    values = _MonthValues(tuple(rule.fields))
    for code, f in fields.items():
        values.put(code, f)
    added: list[Problem] = []
    for row in rows:
        code = row["village_code"]
        if code in seen:
            continue
        flagged = {p.get("field") for p in json.loads(row["problems_json"]) if p.get("code") == OUTLIER}
        # its few months of its own (fewer than min_months): said in the warning, not compared with
        own = [f for _, _, f in ledger.accepted_fields(ctx.programme.id, months_before(Month.parse(period), rule), code,
                                                       skip_unreadable=True)]
        found = [p for p in outlier_problems(fields[code], {}, ctx.programme, own, [], row["original_name"], "",
                                             partial(_median_of, values, code)) if p.field not in flagged]
        if found:
            from ..ledger.mail import queue

            found = _located(ctx, archive, row, found)
            mail = _late_mail(ctx, row, found)
            # the warning and the mail that tells the village land together: a stop between them lost the mail
            with ledger.transaction() as db:
                ledger.add_warnings_in(db, row["id"], [p.to_dict() for p in found])
                if mail is not None:
                    queue(db, mail)
            added += found
    return added


def _median_of(values: _MonthValues, code: str, fid: str) -> tuple[int, float]:
    return values.median(fid, code)


def _located(ctx: Context, archive: Archive, row: Any, found: list[Problem]) -> list[Problem]:
    """The warnings with the sheet and cell of their field, read again from the archived original."""
    from ..workbook.reader import read_report

    try:
        res = read_report(archive.get(row["sha256"], row["ext"]), row["original_name"], ctx.programme, ctx.workspace.limits)
    except Exception:  # the warning still names the file and the item; only the cell is missing
        return found
    return [p.at(sheet=res.sheet, cell=res.cells.get(p.field, "")) for p in found]
