"""Reporting months (报告期). A month is the unit every village reports in."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from ..problems import HuizongError, Problem

_MONTH_RE = re.compile(r"^\s*(\d{4})\s*(?:[-/.年]\s*)(\d{1,2})\s*(?:月(?:份)?)?\s*$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """'2026-10', '2026年10月', '2026.10', '2026/10'. Raises HuizongError (X005) otherwise."""
        m = _MONTH_RE.match(str(text).translate(_FULLWIDTH))
        if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
            raise HuizongError(Problem("X005", value=text))
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def try_parse(cls, text: object) -> Month | None:
        if isinstance(text, date):
            return cls(text.year, text.month)
        try:
            return cls.parse(str(text))
        except HuizongError:
            return None

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def chinese(self) -> str:
        return f"{self.year}年{self.month}月"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def contains(self, d: date) -> bool:
        return (d.year, d.month) == (self.year, self.month)


_FULLWIDTH = str.maketrans("０１２３４５６７８９－／．　", "0123456789-/. ")
