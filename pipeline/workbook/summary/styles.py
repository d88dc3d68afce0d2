"""Formats of the summary workbook: official-notice typography, colour bands, number formats."""

from __future__ import annotations

from typing import Any

BODY_FONT = "宋体"
NOTICE_FONT = "仿宋"
TITLE_FONT = "黑体"

# colour bands: share of the category's attainable maximum
BANDS = (
    (0.9, "#C6EFCE", "优（≥90%）"),
    (0.75, "#E2F0D9", "良（75%–90%）"),
    (0.6, "#FFEB9C", "中（60%–75%）"),
    (-1.0, "#FFC7CE", "差（<60%）"),
)
MISSING_FILL = "#D9D9D9"
NA_FILL = "#F2F2F2"
PRAISE_FILL = "#E2EFDA"
CRITICISE_FILL = "#FCE4D6"


def band(share: float) -> tuple[str, str]:
    for lo, colour, label in BANDS:
        if share >= lo:
            return colour, label
    return BANDS[-1][1], BANDS[-1][2]


Key = tuple[tuple[str, Any], ...]


class Styles:
    """One XlsxWriter format per look, created once per workbook.

    ``numbers``: the numbers another workbook gave these looks (``numbered``). A format is written into a
    cell as its number in the workbook's list of formats: rows written here for that workbook's sheet must
    use its numbers, and a look it has no number for cannot be used here at all (it would write a wrong one).
    """

    def __init__(self, wb: Any, numbers: dict[Key, int] | None = None):
        self.wb = wb
        self.numbers = numbers
        self._cache: dict[Key, Any] = {}
        self._keys: dict[int, Key] = {}
        self.title = self.get(font_name=TITLE_FONT, font_size=18, align="center", valign="vcenter")
        self.subtitle = self.get(font_name=NOTICE_FONT, font_size=12, align="center", valign="vcenter")
        self.meta = self.get(font_name=NOTICE_FONT, font_size=11, valign="vcenter", text_wrap=True)
        self.meta_right = self.get(font_name=NOTICE_FONT, font_size=12, align="right", valign="vcenter")
        self.head = self.cell(bold=True, bg_color="#D9D9D9", align="center", text_wrap=True)
        self.note = self.get(font_name=BODY_FONT, font_size=10, font_color="#595959", text_wrap=True, valign="top")
        self.block_title = self.get(font_name=TITLE_FONT, font_size=12, valign="vcenter", bottom=1)

    def get(self, **props: Any) -> Any:
        key = tuple(sorted(props.items()))
        if key not in self._cache:
            fmt = self._cache[key] = self.wb.add_format(props)
            self._keys[id(fmt)] = key
            if self.numbers is not None:
                if key in self.numbers:
                    fmt.xf_index = self.numbers[key]
                else:
                    fmt._get_xf_index = _unnumbered
        return self._cache[key]

    def numbered(self, formats: list[Any]) -> dict[Key, int]:
        """Give ``formats`` their numbers now, in this order (the same file whoever writes the cells)."""
        return {self._keys[id(f)]: f._get_xf_index() for f in formats}

    def cell(self, **props: Any) -> Any:
        base = {"font_name": BODY_FONT, "font_size": 11, "valign": "vcenter", "border": 1, "border_color": "#808080"}
        base.update(props)
        return self.get(**base)

    def number(self, decimals: int = 2, **props: Any) -> Any:
        fmt = "0" if decimals == 0 else "0." + "0" * decimals
        return self.cell(**{"num_format": fmt, "align": "right", **props})


def _unnumbered() -> int:
    raise LookupError("a format the workbook gave no number to")
