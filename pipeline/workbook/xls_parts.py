"""What a legacy .xls (or WPS .et) says about its cells that python-calamine does not: error values and
percentage formats.

calamine reads an .xls cell's value only: #DIV/0! comes back as empty, "100%" typed into a count as the
number 1. xlrd reads the same BIFF records with their cell formats (``formatting_info``), so each sheet's
error cells (with their text) and numbers shown as a percentage become the same ``CellFlags`` an .xlsx
sheet's scan gives. xlrd does not keep formulas, so .xls formulas stay unflagged (their results are read).
A file xlrd cannot read gives no flags: calamine, which reads the values, decides whether it is damaged.
"""

from __future__ import annotations

from typing import Any

from .xlsx_parts import CellFlags, percent_code

MAX_BYTES = 8 * 1024 * 1024  # xlrd holds a file's every record in Python objects: a report is a few hundred KB


class XlsCells:
    """An .xls's error and percentage cells, sheet by sheet, read when the reader reads that sheet — after its
    extent passed the limits (python-calamine's, from the cells with values; xlrd's would count every
    formatted blank, and build a grid of them). The extent is not given here (``max_row`` 0). A file xlrd
    cannot open, or over ``MAX_BYTES``, gives no flags: calamine's verdict on the file stands."""

    def __init__(self, data: bytes):
        self.data = data
        self._book: Any = None
        self._tried = len(data) > MAX_BYTES
        self._percent: set[int] = set()

    def get(self, name: str) -> CellFlags | None:
        book = self._open()
        if book is None:
            return None
        import xlrd

        try:
            sheet = book.sheet_by_name(name)
            try:
                return _flags(xlrd, sheet, self._percent)
            finally:
                book.unload_sheet(name)
        except Exception:  # noqa: BLE001 — any failure of a second reader leaves the first reader's verdict
            return None

    def _open(self) -> Any:
        if self._book is None and not self._tried:
            self._tried = True
            try:
                import xlrd
            except ImportError:  # an installation without it reads .xls values as before
                return None
            try:
                book = xlrd.open_workbook(file_contents=self.data, formatting_info=True, on_demand=True,
                                          ragged_rows=True, logfile=_Quiet())
                self._percent = {i for i, xf in enumerate(book.xf_list) if _is_percent(book.format_map.get(xf.format_key))}
            except Exception:  # noqa: BLE001
                return None
            self._book = book
        return self._book


def _flags(xlrd: Any, sheet: Any, percent_xf: set[int]) -> CellFlags:
    flags = CellFlags()
    for r in range(sheet.nrows):
        types = sheet.row_types(r)
        if xlrd.XL_CELL_ERROR in types:
            for c, kind in enumerate(types):
                if kind == xlrd.XL_CELL_ERROR:
                    flags.errors[(r, c)] = xlrd.error_text_from_code.get(sheet.cell_value(r, c), "#VALUE!")
        if percent_xf and xlrd.XL_CELL_NUMBER in types:
            for c, kind in enumerate(types):
                if kind == xlrd.XL_CELL_NUMBER and sheet.cell_xf_index(r, c) in percent_xf:
                    flags.percent.add((r, c))
    return flags


def _is_percent(fmt: object) -> bool:
    text = getattr(fmt, "format_str", "")
    return isinstance(text, str) and percent_code(text)


class _Quiet:
    """xlrd writes warnings about odd records to a log file: a village's file is no reason to print."""

    def write(self, _text: str) -> int:
        return 0
