"""Reporting months (报告期). A month is the unit every village reports in."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from ..problems import HuizongError, Problem

_MONTH_RE = re.compile(r"^\s*(\d{4})\s*(?:[-/.年]\s*)(\d{1,2})\s*(?:月(?:份)?)?\s*$")
# a quarter names its last month: 2026年第一季度, 2026年第1季度, 2026年1季度, 2026-Q1, 2026Q1 → 2026-03
_QUARTER_RE = re.compile(r"^\s*(\d{4})\s*(?:年\s*第?\s*([1-4一二三四])\s*季度?|[-/. ]?[Qq]([1-4]))\s*$")
QUARTERS = "一二三四"


AMBIGUOUS = ("“{value}”是存成数字的年月：Excel 把 2026.10 存成 2026.1，分不清是 1 月还是 10 月。"
             "请把单元格设为“文本”后填 2026-10 这样的年月")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """'2026-10', '2026年10月', '2026.10', '2026/10'. Raises HuizongError (X005) otherwise."""
        normal = str(text).translate(_FULLWIDTH)
        q = _QUARTER_RE.match(normal)
        if q and 2000 <= int(q.group(1)) <= 2100:
            number = q.group(2) or q.group(3)
            quarter = QUARTERS.index(number) + 1 if number in QUARTERS else int(number)
            return cls(int(q.group(1)), 3 * quarter)
        m = _MONTH_RE.match(normal)
        if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
            raise HuizongError(Problem("X005", value=text))
        return cls(int(m.group(1)), int(m.group(2)))

    @staticmethod
    def lost_digit(raw: object) -> bool:
        """A month typed in a number cell that may have lost a digit: Excel keeps 2026.10 as 2026.1, which
        reads as January (October went unseen)."""
        return isinstance(raw, float) and f"{raw:g}".endswith(".1")

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
    def quarter_chinese(self) -> str:
        """The quarter this month is in: 2026年第四季度."""
        return f"{self.year}年第{QUARTERS[(self.month - 1) // 3]}季度"

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
