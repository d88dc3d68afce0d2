"""The template's geometry, shared by the writer and by the reader's structural fallback."""

from __future__ import annotations

import functools
import re

# Main form sheet: one row per input, label in B, value in D.
COL_NO, COL_LABEL, COL_UNIT, COL_VALUE, COL_HINT = 0, 1, 2, 3, 4
HEADERS = ("序号", "指标名称", "计量单位", "本月数", "填报说明")
VALUE_HEADER = HEADERS[COL_VALUE]
FIRST_ROW_MAIN = 6  # 0-based row of the first section title (row 7 in Excel)

# Header block cells (0-based row, col) and their defined names.
VILLAGE_NAME = ("village_name", 2, 1)
REPORT_PERIOD = ("report_period", 2, 4)
VILLAGE_CODE = ("village_code", 3, 1)
TEMPLATE_VERSION = ("template_version", 3, 4)
HEADER_LABELS = {"village_name": "填报单位：", "report_period": "报告期：", "village_code": "村代码：", "template_version": "模板版本："}

# Hidden sheet with the template's identity (also exposed as defined names).
META_SHEET = "_huizong"
HELP_SHEET = "填报说明"  # the template's instructions: they quote the labels, and are no form
META_KEYS = (
    ("hz_programme", "方案"),
    ("hz_version", "模板版本"),
    ("hz_village_code", "村代码"),
    ("hz_village_name", "村名称"),
    ("hz_period", "报告期"),
    ("hz_signature", "签名"),
)

# Register sheet: title, unit line, header row, then data rows from column B.
REGISTER_HEADER_ROW = 2  # 0-based
REGISTER_FIRST_COL = 1  # column A holds 序号


@functools.cache
def col_letter(col: int) -> str:
    s = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        s = chr(65 + rem) + s
    return s


def a1(row: int, col: int) -> str:
    """0-based (row, col) → 'D7'."""
    return f"{col_letter(col)}{row + 1}"


def parse_a1(ref: str) -> tuple[int, int]:
    """'$D$7' or 'D7' → 0-based (row, col)."""
    ref = ref.replace("$", "").upper()
    i = 0
    while i < len(ref) and ref[i].isalpha():
        i += 1
    letters, digits = ref[:i], ref[i:]
    if not letters or not digits.isdigit():
        raise ValueError(ref)
    col = 0
    for ch in letters:
        col = col * 26 + (ord(ch) - 64)
    return int(digits) - 1, col - 1


_WIDE = re.compile("[\u2e81-\U0010ffff]")  # CJK and everything after it: about two Latin letters wide


def text_units(text: str) -> int:
    """Printed width of a text in Latin-letter units (a CJK character counts two)."""
    return len(text) + len(_WIDE.findall(text))
