"""Write the township's own workbooks: 村名册, 镇考核登记, 加分扣分登记 (XlsxWriter).

Each is one sheet: a title, a line of instructions, a labelled header row (the reader finds
columns by these labels), the data, and pre-formatted empty rows with data validation.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import xlsxwriter

from ..programme.config import FieldSpec
from .layout import text_units
from .template import FIXED_TIME, FONT, INPUT_FILL, TITLE_FONT, _validate

HEADER_ROW = 2


def build_table_workbook(
    title: str,
    sheet: str,
    columns: tuple[FieldSpec, ...],
    rows: list[dict[str, Any]],
    note: str,
    organ: str,
    empty_rows: int = 100,
) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"title": title, "author": organ, "company": organ, "created": FIXED_TIME})
    base = {"font_name": FONT, "font_size": 11, "valign": "vcenter", "border": 1, "border_color": "#808080"}
    f_title = wb.add_format({"font_name": TITLE_FONT, "font_size": 16, "align": "center", "valign": "vcenter"})
    f_note = wb.add_format({"font_name": FONT, "font_size": 9, "font_color": "#595959", "text_wrap": True, "valign": "top"})
    f_head = wb.add_format({**base, "bold": True, "align": "center", "bg_color": "#D9D9D9", "text_wrap": True})
    f_text = wb.add_format({**base, "locked": False, "num_format": "@", "bg_color": INPUT_FILL})
    f_wrap = wb.add_format({**base, "locked": False, "num_format": "@", "bg_color": INPUT_FILL, "text_wrap": True})
    f_int = wb.add_format({**base, "locked": False, "num_format": "0", "bg_color": INPUT_FILL})
    f_num = wb.add_format({**base, "locked": False, "num_format": "0.##", "bg_color": INPUT_FILL})
    f_date = wb.add_format({**base, "locked": False, "num_format": 'yyyy"年"m"月"d"日"', "bg_color": INPUT_FILL})
    ws = wb.add_worksheet(sheet)
    last = len(columns) - 1
    ws.set_row(0, 30)
    ws.merge_range(0, 0, 0, last, title, f_title)
    ws.set_row(1, 42)
    ws.merge_range(1, 0, 1, last, note, f_note)
    widths = [_width(spec) for spec in columns]
    for c, spec in enumerate(columns):
        ws.write_string(HEADER_ROW, c, spec.label, f_head)
        ws.set_column(c, c, widths[c])
    ws.set_row(HEADER_ROW, LINE_HEIGHT * HEADER_LINES + 3)
    total = len(rows) + empty_rows
    wrapped = [(c, spec.id, widths[c] - 1) for c, spec in enumerate(columns) if spec.id in WRAPPED]  # (a character's margin)
    for r in range(total):
        values = rows[r] if r < len(rows) else {}
        lines = max((-(-text_units(str(values.get(fid) or "")) // room) for _, fid, room in wrapped), default=1)
        if lines > 1:  # (a row height left unset is not fitted to wrapped text by every client when the file opens)
            ws.set_row(HEADER_ROW + 1 + r, LINE_HEIGHT * lines)
        for c, spec in enumerate(columns):
            v = values.get(spec.id)
            fmt = {"integer": f_int, "number": f_num, "date": f_date}.get(spec.type, f_wrap if spec.id in WRAPPED else f_text)
            row = HEADER_ROW + 1 + r
            if v is None or v == "":
                ws.write_blank(row, c, None, fmt)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(row, c, v, fmt)
            elif isinstance(v, date):
                ws.write_datetime(row, c, v, fmt)
            else:
                ws.write_string(row, c, str(v), fmt)
    for c, spec in enumerate(columns):
        _validate(ws, HEADER_ROW + 1, c, spec, None, last_row=HEADER_ROW + total)
    ws.freeze_panes(HEADER_ROW + 1, 0)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(HEADER_ROW)
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.autofilter(HEADER_ROW, 0, HEADER_ROW + total, last)
    wb.close()
    return buf.getvalue()


HEADER_LINES = 3  # a long label wraps in the header row
LINE_HEIGHT = 15  # points: a line of the tables' 11-point type
WRAPPED = ("aliases", "emails", "note")  # long lists of names and addresses: wrapped in a narrower column


def _width(spec: FieldSpec) -> int:
    """A column's width: by its type, and wide enough for its label on the header's three lines (the 年度任务
    labels on one line made the 村名册 too wide to print at a readable size)."""
    short = spec.type == "text" and (spec.max_length or 99) <= 10  # 起始月份 2026-06
    width = 7 if spec.annotates else 26 if spec.id in WRAPPED else 10 if short else {"text": 16, "date": 15, "enum": 22}.get(spec.type, 9)
    return max(width, -(-len(spec.label) // HEADER_LINES) * 2 + 2)
