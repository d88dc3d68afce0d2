"""What an OpenDocument spreadsheet's content.xml says about its cells that python-calamine does not.

calamine gives an .ods cell's value only: an error value (#DIV/0!) reads as empty, "100%" typed into a count
as the number 1, a formula as its result. LibreOffice and WPS write all three in the cell's attributes
(ODF 1.2, 19.385 office:value-type; LibreOffice's calcext:value-type for errors), so one pass of an XML
parser over content.xml gives each table's formula, error and percentage cells, and its extent, the same
``CellFlags`` an .xlsx sheet's scan gives.

The extent counts repeats (one cell repeated 16,384 columns in a row repeated 5,000 times is 600 bytes of
file and 82 million cells once read) but not empty repeated cells, which LibreOffice ends every sheet with.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.parsers import expat

from .xlsx_parts import CellFlags

_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0 "
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0 "
_CALCEXT = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0 "
_TEXT_P = "urn:oasis:names:tc:opendocument:xmlns:text:1.0 p"
_NOTE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0 annotation"  # a cell's comment: not what the cell shows
ERRORS = frozenset(("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "Err:502", "Err:504", "Err:522"))
MAX_FLAGGED = 100_000  # positions kept in all (a formula filled down a county's register is no bomb; 10⁶ percentages are)


class _TooBig(Exception):
    pass


def ods_cells(content: bytes, too_long: Callable[[int, int], bool] | None = None) -> dict[str, CellFlags] | None:
    """Each table of a content.xml: its flags and extent (``max_row``/``max_col``, 1-based, cells with a value).
    None when the part does not parse (the reader then says the file is damaged). With ``too_long`` (rows,
    columns: ``Limits.exceeded``), the scan stops at the first table it says so of (it is refused for that, F011)."""
    out: dict[str, CellFlags] = {}
    flags = CellFlags()
    row, rows_rep, col = 0, 1, 0
    pending: tuple[int, int, bool] | None = None  # (column, repeats, said to be an error) of a cell whose text decides
    text: list[str] = []
    room = MAX_FLAGGED
    in_note = 0

    def mark(kind: set[tuple[int, int]] | dict[tuple[int, int], str], first: int, cols: int, value: str = "") -> None:
        nonlocal room
        for r in range(row, row + rows_rep):
            for c in range(first, first + cols):
                if room <= 0:
                    return
                room -= 1
                if isinstance(kind, dict):
                    kind[(r, c)] = value
                else:
                    kind.add((r, c))

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal flags, row, rows_rep, col, pending, in_note
        if tag == _TABLE + "table":
            flags = out.setdefault(attrs.get(_TABLE + "name", ""), CellFlags())
            row = 0
        elif tag == _TABLE + "table-row":
            rows_rep, col = _count(attrs.get(_TABLE + "number-rows-repeated")), 0
        elif tag in (_TABLE + "table-cell", _TABLE + "covered-table-cell"):
            reps = _count(attrs.get(_TABLE + "number-columns-repeated"))
            kind = attrs.get(_OFFICE + "value-type")
            if kind is not None:
                flags.max_row = max(flags.max_row, row + rows_rep)
                flags.max_col = max(flags.max_col, col + reps)
                if too_long is not None and too_long(flags.max_row, flags.max_col):
                    raise _TooBig
                error = attrs.get(_CALCEXT + "value-type") == "error"
                formula = _TABLE + "formula" in attrs
                if error or (formula and kind == "string"):  # WPS writes no calcext: an error shows as its text
                    pending = (col, reps, error)
                    text.clear()
                elif formula:
                    mark(flags.formulas, col, reps)
                elif kind == "percentage":
                    mark(flags.percent, col, reps)
            col += reps
        elif tag == _NOTE:
            in_note += 1

    def end(tag: str) -> None:
        nonlocal row, pending, in_note
        if tag == _TABLE + "table-row":
            row += rows_rep
        elif tag == _NOTE:
            in_note -= 1
        elif tag == _TEXT_P and pending is not None and not in_note:
            text.append("\n")
        elif tag in (_TABLE + "table-cell", _TABLE + "covered-table-cell") and pending is not None:
            first, reps, error = pending
            shown = "".join(text).strip()
            if shown in ERRORS or error:
                mark(flags.errors, first, reps, shown if shown in ERRORS else "#VALUE!")
            else:
                mark(flags.formulas, first, reps)
            pending = None

    def chars(data: str) -> None:
        if pending is not None and not in_note:
            text.append(data)

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(content, True)
    except _TooBig:
        return out
    except expat.ExpatError:
        return None
    return out


def _count(text: str | None) -> int:
    try:
        return max(1, int(text)) if text else 1
    except ValueError:
        return 1
