"""The assessment year of a programme: which months count up to a period, which 考核季 have begun
or ended, and how much of the annual task is due (the 4:3:3 release of programme A)."""

from __future__ import annotations

from dataclasses import dataclass

from .config import AssessmentPeriod, Programme
from .periods import Month


@dataclass(frozen=True)
class PeriodSoFar:
    index: int
    period: AssessmentPeriod
    months: tuple[Month, ...]  # its months up to the reporting month (all of them once it has ended)
    ended: bool

    @property
    def name(self) -> str:
        return self.period.name

    @property
    def last_month(self) -> Month:
        return self.months[-1]


def year_start(p: Programme, month: Month) -> Month:
    return year_start_at(month, p.year_start_month)


def year_start_at(month: Month, start_month: int) -> Month:
    """The first month of the assessment year ``month`` is in, for a year that begins in ``start_month``."""
    return Month(month.year if month.month >= start_month else month.year - 1, start_month)


def year_months(p: Programme, month: Month) -> list[Month]:
    """The programme's reporting months from the start of the assessment year up to ``month``."""
    start = year_start(p, month)
    months = []
    m = start
    while m <= month:
        if m.month in p.report_months:
            months.append(m)
        m = m.shift(1)
    return months


def months_elapsed(p: Programme, month: Month) -> int:
    """Months from the start of the assessment year to the period, inclusive (October → 10)."""
    start = year_start(p, month)
    return (month.year - start.year) * 12 + month.month - start.month + 1


def periods_so_far(p: Programme, month: Month) -> list[PeriodSoFar]:
    """Every 考核季 that has begun by ``month``, in year order, with its months so far."""
    start = year_start(p, month)
    out = []
    for i, ap in enumerate(p.assessment_periods):
        dated = sorted(_in_year(start, m) for m in ap.months)
        so_far = tuple(m for m in dated if m <= month)
        if so_far:
            out.append(PeriodSoFar(i, ap, tuple(dated) if dated[-1] <= month else so_far, dated[-1] <= month))
    return out


def period_of(p: Programme, month: Month) -> PeriodSoFar | None:
    for ps in periods_so_far(p, month):
        if month in ps.months:
            return ps
    return None


def cumulative_weight(p: Programme, month: Month) -> float:
    """Share of the annual task due by ``month``: the weights of every 考核季 begun so far."""
    return sum(ps.period.weight or 0.0 for ps in periods_so_far(p, month))


def _in_year(start: Month, calendar_month: int) -> Month:
    year = start.year if calendar_month >= start.month else start.year + 1
    return Month(year, calendar_month)
