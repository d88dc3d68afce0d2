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


def xls_cells(data: bytes, max_cells: int) -> dict[str, CellFlags]:
    """Each sheet's error and percentage cells and extent; a sheet over ``max_cells`` is left to the reader's
    own limit (it is refused as too long, F011), a file over ``MAX_BYTES`` is read without flags, as before."""
    if len(data) > MAX_BYTES:
        return {}
    try:
        import xlrd
    except ImportError:  # an installation without it reads .xls values as before
        return {}
    try:
        book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True, logfile=_Quiet())
    except Exception:  # noqa: BLE001 — any failure of a second reader leaves the first reader's verdict
        return {}
    out: dict[str, CellFlags] = {}
    try:
        percent_xf = {i for i, xf in enumerate(book.xf_list) if _is_percent(book.format_map.get(xf.format_key))}
        for index, name in enumerate(book.sheet_names()):
            sheet = book.sheet_by_index(index)
            if sheet.nrows * sheet.ncols <= max_cells:
                out[name] = _flags(xlrd, sheet, percent_xf)
            book.unload_sheet(index)
    except Exception:  # noqa: BLE001
        return out
    return out


def _flags(xlrd: Any, sheet: Any, percent_xf: set[int]) -> CellFlags:
    flags = CellFlags(max_row=sheet.nrows, max_col=sheet.ncols)
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
