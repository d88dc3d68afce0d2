"""A STAND-IN for the part of xlwings' API that pipeline/excel/glue.py uses, backed by openpyxl
workbooks saved to real files — desktop Excel (and so xlwings' COM connection to it) cannot run
here. Its cells behave like Excel's where it matters for the write-back: a text starting with
= + - @ written into a cell whose number format is not text (@) becomes a formula, exactly as
Excel turns such a value into one; so a saved workbook shows a formula wherever the glue would
have made one.
"""

from __future__ import annotations

from typing import Any

import openpyxl
from openpyxl.styles import Font, PatternFill


def excel_assign(cell: Any, value: Any) -> None:
    """What Excel does with ``Range.Value = value`` for the cell's current number format."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and cell.number_format != "@":
        cell.value = "=" + value.lstrip("=@") if value[0] != "=" else value  # Excel: "+1+1" → =+1+1, "@SUM(…)" → =SUM(…)
        return
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # text stays text, even "=…", in a text-formatted cell


class Range:
    def __init__(self, ws: Any, cell: Any):
        self.ws, self.cell = ws, cell
        self.font = self

    @property
    def value(self) -> Any:
        return self.cell.value

    @value.setter
    def value(self, v: Any) -> None:
        excel_assign(self.cell, v)

    @property
    def number_format(self) -> str:
        return self.cell.number_format

    @number_format.setter
    def number_format(self, fmt: str) -> None:
        self.cell.number_format = fmt

    @property
    def bold(self) -> bool:
        return bool(self.cell.font.b)

    @bold.setter
    def bold(self, flag: bool) -> None:
        self.cell.font = Font(bold=flag)

    @property
    def color(self) -> Any:
        return self.cell.fill.fgColor.rgb

    @color.setter
    def color(self, rgb: tuple[int, int, int]) -> None:
        self.cell.fill = PatternFill("solid", fgColor="".join(f"{x:02X}" for x in rgb))


class Sheet:
    def __init__(self, ws: Any):
        self.ws = ws
        self.name = ws.title

    def clear(self) -> None:  # xlwings' Sheet.clear(): contents and formats
        for row in self.ws.iter_rows():
            for c in row:
                c.value = None
                c.number_format = "General"

    def range(self, rc: tuple[int, int]) -> Range:
        return Range(self.ws, self.ws.cell(row=rc[0], column=rc[1]))


class Sheets:
    def __init__(self, wb: Any):
        self.wb = wb

    def __iter__(self) -> Any:
        return iter(Sheet(ws) for ws in self.wb.worksheets)

    def __getitem__(self, name: str) -> Sheet:
        return Sheet(self.wb[name])

    def add(self, name: str, after: Any = None) -> Sheet:
        return Sheet(self.wb.create_sheet(name))


class Name:
    def __init__(self, wb: Any, name: str):
        sheet, ref = next(iter(wb.defined_names[name].destinations))
        self.refers_to_range = Range(wb[sheet], wb[sheet][ref.replace("$", "")])


class Names:
    def __init__(self, wb: Any):
        self.wb = wb

    def __getitem__(self, name: str) -> Name:
        if name not in self.wb.defined_names:
            raise KeyError(name)
        return Name(self.wb, name)


class Books:
    def __init__(self, app: App):
        self.app = app
        self.active: Book | None = None
        self.opened: list[str] = []

    def open(self, path: str) -> Any:
        self.opened.append(str(path))
        for book in self.app.known:
            if book.fullname == str(path):
                self.active = book
                return book
        return None


class App:
    def __init__(self, answer: str = "ok"):
        self.known: list[Book] = []
        self.books = Books(self)
        self.answer = answer
        self.alerts: list[str] = []

    def alert(self, prompt: str, title: str | None = None, buttons: str = "ok", **_: Any) -> str:
        self.alerts.append(prompt)
        return self.answer


class Book:
    """What glue.py uses of xlwings.Book, backed by an openpyxl workbook (saved to a real file by the tests)."""

    def __init__(self, wb: Any, name: str = "汇总控制台.xlsm", app: App | None = None, fullname: str = ""):
        self.wb, self.name, self.fullname = wb, name, fullname or name
        self.sheets = Sheets(wb)
        self.names = Names(wb)
        self.app = app or App()
        self.app.known.append(self)


def load(data_or_path: Any, **kw: Any) -> Book:
    import io

    src = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    return Book(openpyxl.load_workbook(src, keep_vba=True), **kw)


def formulas(path: Any) -> list[str]:
    """Every <f> element in the saved workbook's sheets."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as z:
        return [m for n in z.namelist() if n.startswith("xl/worksheets/") for m in re.findall(r"<f[ >][^<]*", z.read(n).decode("utf-8"))]
