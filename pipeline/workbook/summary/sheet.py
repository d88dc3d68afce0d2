"""XlsxWriter's worksheet, with two shortcuts for the summary's hundreds of thousands of cells.

1. Formula preparation: XlsxWriter runs some sixty regular-expression substitutions over every
   formula to add the ``_xlfn.`` prefix that Excel 2010+ functions need in the file. The summary's
   formulas use only functions every Excel since 2007 (and WPS) knows, which need no prefix; for
   those, the preparation is just dropping the leading ``=``. Any other formula goes through
   XlsxWriter's own preparation unchanged.
2. Whole rows: ``write_cells`` takes a row's cells at once and writes, when XlsxWriter flushes the
   row (constant_memory mode), the very XML its own write_string / write_number / write_formula /
   write_blank would have written — tested byte for byte against them — without XlsxWriter's
   per-cell bookkeeping, which costs ten times the XML itself. A row with anything unusual (a
   string to truncate, a number that is not finite, a cell without a format, an array formula)
   simply goes cell by cell through XlsxWriter's own methods.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from xlsxwriter import worksheet as _xw
from xlsxwriter.utility import xl_rowcol_to_cell_fast
from xlsxwriter.worksheet import Worksheet
from xlsxwriter.xmlwriter import XMLwriter

# Excel 2007 functions: never prefixed by XlsxWriter (nor by Excel)
CLASSIC = frozenset({"IF", "AND", "OR", "NOT", "MIN", "MAX", "ABS", "ROUND", "ROUNDUP", "ROUNDDOWN", "SUM", "IFERROR", "NA", "INT"})
_CALLS = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\(")

# A cell for write_cells: ("s", text, format) | ("n", number, format) | ("f", formula, format, value) | ("b", None, format)
# | ("F", formula, format, value): a formula already as prepared_formula gives it (checked once for a column's formulas)
Cell = tuple[Any, ...]
FAST_ROWS = True  # False: every cell through XlsxWriter's own methods (the tests compare both)
_ERRORS = frozenset(("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!"))
_NEEDS_ESCAPE = re.compile('[&<>]')
_CONTROL = re.compile(r"_x[0-9a-fA-F]{4}_|[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_EDGE_SPACE = re.compile(r"^\s|\s$")


class _Row(NamedTuple):
    """Cells of one row at consecutive columns, kept in XlsxWriter's row table until it flushes the row."""

    cells: Sequence[Cell]
    format: Any = None


class SummarySheet(Worksheet):
    def __init__(self) -> None:
        super().__init__()
        self._strings: dict[str, str] = {}  # a text's XML after its cell's position and format (labels repeat a lot)

    def prepared_formula(self, formula: str) -> str | None:
        """``formula`` as this sheet stores it, when writing it needs no more than dropping the ``=``
        (then the same holds for the formula with any other row numbers); None otherwise."""
        if not formula.startswith("=") or _xw.re_dynamic_function.search(formula) or formula.endswith("}"):
            return None
        body = self._prepare_formula(formula)
        return body if body == formula[1:] else None

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> Any:
        if formula.startswith("=") and not self.use_future_functions and not expand_future_functions and not formula.endswith("}"):
            body = formula[1:]
            if all(name.upper() in CLASSIC for name in _CALLS.findall(body)):
                return body
        return super()._prepare_formula(formula, expand_future_functions)

    def write_cells(self, row: int, first_col: int, cells: Sequence[Cell]) -> None:
        """Write ``cells`` to ``row`` from ``first_col`` on, one column each (nothing else in the row after them)."""
        if not cells:
            return
        prepared = self._prepared(row, first_col, cells) if FAST_ROWS and self.constant_memory else None
        if prepared is None:
            self._one_by_one(row, first_col, cells)
            return
        last_col = first_col + len(cells) - 1
        self._check_dimensions(row, first_col)
        self._check_dimensions(row, last_col)
        if row > self.previous_row:
            self._write_single_row(row)
        self.table[row][first_col] = _Row(prepared)

    def _prepared(self, row: int, first_col: int, cells: Sequence[Cell]) -> list[Cell] | None:
        """The cells as they will be written, or None where XlsxWriter's own methods must decide."""
        if row < self.previous_row or row >= self.xls_rowmax or first_col < 0 or first_col + len(cells) > self.xls_colmax:
            return None
        existing = self.table.get(row)
        if existing and max(existing) >= first_col:
            return None
        out: list[Cell] = []
        for cell in cells:
            kind, value, fmt = cell[0], cell[1], cell[2]
            if fmt is None:
                return None
            if kind == "s":
                if len(value) > self.xls_strmax // 2:
                    return None
            elif kind == "n":
                if value.__class__ not in (int, float) or not math.isfinite(value):
                    return None
            elif kind == "f":
                formula = value
                if not formula or _xw.re_dynamic_function.search(formula) or (formula.startswith("{") and formula.endswith("}")):
                    return None
                cell = ("F", self._prepare_formula(formula), fmt, cell[3])
            elif kind != "b" and kind != "F":
                return None
            out.append(cell)
        return out

    def _one_by_one(self, row: int, first_col: int, cells: Sequence[Cell]) -> None:
        for col, cell in enumerate(cells, start=first_col):
            kind, value, fmt = cell[0], cell[1], cell[2]
            if kind == "s":
                self.write_string(row, col, value, fmt)
            elif kind == "n":
                self.write_number(row, col, value, fmt)
            elif kind == "f":
                self.write_formula(row, col, value, fmt, cell[3])
            elif kind == "F":
                self.write_formula(row, col, "=" + value, fmt, cell[3])
            elif kind == "b":
                self.write_blank(row, col, None, fmt)
            else:
                raise ValueError(f"unknown cell kind {kind!r}")

    def _write_single_row(self, current_row_num: int = 0) -> None:
        """XlsxWriter's, forgetting the height of the row it wrote out: in constant_memory nothing reads it again,
        and 310,000 rows' heights were 40 MB of a county's summary (in each process that writes one)."""
        written = self.previous_row
        super()._write_single_row(current_row_num)
        if self.constant_memory and written != self.previous_row:
            self.row_info.pop(written, None)

    def _write_cell(self, row: int, col: int, cell: Any) -> None:
        if cell.__class__ is not _Row:
            super()._write_cell(row, col, cell)
            return
        out = []
        for c, item in enumerate(cell.cells, start=col):
            kind, value, fmt = item[0], item[1], item[2]
            head = f'<c r="{xl_rowcol_to_cell_fast(row, c)}" s="{fmt._get_xf_index()}"'
            if kind == "s":
                body = self._strings.get(value)
                if body is None:
                    body = _string_xml(value)
                    if len(self._strings) > 4_096:  # a village's own lines rarely repeat: keep the cache small
                        self._strings.clear()
                    self._strings[value] = body
                out.append(head + body)
            elif kind == "n":
                out.append(f"{head}><v>{value:.16G}</v></c>")
            elif kind == "F":
                result = item[3]
                if isinstance(result, bool):
                    head += ' t="b"'
                    result = 1 if result else 0
                elif isinstance(result, str):
                    if result in _ERRORS:
                        head += ' t="e"'
                    elif result != "":
                        head += ' t="str"'
                    result = self._escape_data(result)
                out.append(f"{head}><f>{self._escape_data(value)}</f><v>{result}</v></c>")
            else:
                out.append(f"{head}/>")
        self.fh.write("".join(out))


def _string_xml(value: str) -> str:
    """What XlsxWriter writes for an inline string after ``<c r=.. s=..``."""
    if _CONTROL.search(value):
        value = XMLwriter._escape_control_characters(value)
    if value.startswith("<r>") and value.endswith("</r>"):
        return f' t="inlineStr"><is>{value}</is></c>'
    space = ' xml:space="preserve"' if _EDGE_SPACE.search(value) else ""
    if _NEEDS_ESCAPE.search(value):
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f' t="inlineStr"><is><t{space}>{value}</t></is></c>'
