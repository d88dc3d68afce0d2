"""The copy a village gets back: its own workbook, problem cells filled red with a Chinese comment
on each, and a first sheet 校验结果 listing every problem. Everything written is inert text.
"""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..problems import Problem
from .layout import parse_a1
from .template import FONT, TITLE_FONT
from .xlsx_parts import as_transitional

RESULT_SHEET = "校验结果"
ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
WARNING_FILL = PatternFill("solid", fgColor="FFEB9C")
HEAD_FILL = PatternFill("solid", fgColor="D9D9D9")
THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


def inert(value: Any) -> Any:
    """A value safe to write with openpyxl: never a formula, never an illegal control character."""
    if value is None or isinstance(value, (int, float)):
        return value
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def put_text(ws: Worksheet, row: int, col: int, value: Any) -> Any:
    cell = ws.cell(row=row, column=col)
    cell.value = inert(value)
    if isinstance(cell.value, str):
        cell.data_type = "s"  # a village's "=..." stays text
    return cell


def feedback_heading(programme: Any) -> str:
    return f"{programme.title}校验结果"


def build_feedback(data: bytes, fmt: str, file_label: str, problems: list[Problem], heading: str) -> bytes:
    """The annotated copy as .xlsx bytes. Non-OOXML originals get the result sheet only."""
    annotated = fmt in ("xlsx", "xlsm")
    wb = None
    if annotated:
        try:
            wb = openpyxl.load_workbook(io.BytesIO(as_transitional(data)), keep_vba=False, keep_links=False, rich_text=False)
        except Exception:  # openpyxl cannot load every file python-calamine can; the list alone still helps
            wb = None
            annotated = False
    if wb is None:
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
    if annotated:
        _mark_cells(wb, problems)
    _result_sheet(wb, file_label, problems, heading, annotated)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def feedback_copy(data: bytes, fmt: str, file_label: str, problems: list[Problem], heading: str) -> tuple[bytes, Problem | None]:
    """The annotated copy; if marking the village's own workbook fails in any way, the list of problems
    alone, with an F015 note saying so (returned, to be recorded with the file's other problems)."""
    try:
        return build_feedback(data, fmt, file_label, problems, heading), None
    except Exception as exc:  # whatever the workbook holds, the village still gets its list of problems
        why = f"{type(exc).__name__}: {str(exc)[:80]}".rstrip(": ")
        note = Problem("F015", file=file_label, detail=why)
        return build_feedback(b"", "", file_label, [*problems, note], heading), note


def _mark_cells(wb: Any, problems: list[Problem]) -> None:
    """Fill and comment each problem's cell; a cell inside a merged range is marked on the range's
    top-left cell (the only one Excel shows and openpyxl lets us write), its own address in the text."""
    by_cell: dict[tuple[str, str], list[Problem]] = defaultdict(list)
    for p in problems:
        if p.sheet and p.cell and p.sheet in wb.sheetnames:
            anchor = _anchor(wb[p.sheet], p.cell)
            if anchor is not None:
                by_cell[(p.sheet, anchor)].append(p)
    for (sheet, ref), items in by_cell.items():
        cell = wb[sheet][ref]
        cell.fill = ERROR_FILL if any(p.is_error for p in items) else WARNING_FILL
        text = "\n".join(f"【{p.severity.value} {p.code}】" + (f"（单元格 {p.cell}）" if p.cell != ref else "") + p.message for p in items)
        comment = Comment(inert(text)[:2000], "汇总校验")
        comment.width, comment.height = 320, 40 + 40 * len(items)
        cell.comment = comment


def _anchor(ws: Worksheet, ref: str) -> str | None:
    """The cell to mark for ``ref``: itself, or the top-left cell of the merged range it lies in."""
    try:
        row, col = parse_a1(ref)
    except ValueError:
        return None
    for rng in ws.merged_cells.ranges:
        if rng.min_row <= row + 1 <= rng.max_row and rng.min_col <= col + 1 <= rng.max_col:
            return f"{get_column_letter(rng.min_col)}{rng.min_row}"
    return f"{get_column_letter(col + 1)}{row + 1}"


def _result_sheet(wb: Any, file_label: str, problems: list[Problem], heading: str, annotated: bool) -> None:
    ws = wb.create_sheet(RESULT_SHEET, 0)
    wb.active = 0
    for other in wb.worksheets[1:]:
        other.sheet_view.tabSelected = False
    errors = [p for p in problems if p.is_error]
    warnings = [p for p in problems if not p.is_error]
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=7)
    put_text(ws, 1, 1, heading).font = Font(name=TITLE_FONT, size=16)
    ws.row_dimensions[1].height = 30
    summary = f"文件：{file_label}。发现错误 {len(errors)} 处、提示 {len(warnings)} 处。"
    summary += "请按下表逐项修改（红色单元格为错误，黄色为提示，鼠标移到单元格上可看说明），改好后重新发送整个文件。" if annotated else (
        "原文件不是 .xlsx 格式，无法在原表上标注，请对照下表修改，最好改用下发的 .xlsx 模板。"
    )
    if not errors:
        summary = f"文件：{file_label}。校验通过，另有提示 {len(warnings)} 处，请核对。"
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=7)
    c = put_text(ws, 2, 1, summary)
    c.alignment = Alignment(wrap_text=True, vertical="top")
    c.font = Font(name=FONT, size=11)
    ws.row_dimensions[2].height = 45
    headers = ("序号", "类别", "工作表", "单元格", "项目", "填写的值", "问题说明与修改方法")
    widths = (6, 8, 12, 9, 24, 18, 70)
    for i, (h, w) in enumerate(zip(headers, widths), 1):
        cell = put_text(ws, 4, i, h)
        cell.font = Font(name=FONT, size=11, bold=True)
        cell.fill = HEAD_FILL
        cell.border = BOX
        cell.alignment = Alignment(horizontal="center", vertical="center")
        ws.column_dimensions[cell.column_letter].width = w
    for n, p in enumerate(sorted(problems, key=lambda p: (not p.is_error, p.sheet, _row_of(p.cell), p.cell)), 1):
        row = 4 + n
        values = (n, p.severity.value, p.sheet, p.cell, p.label or p.field, "" if p.value is None else p.value, p.message)
        for i, v in enumerate(values, 1):
            cell = put_text(ws, row, i, v if i != 6 else str(v))
            cell.font = Font(name=FONT, size=10, color="9C0006" if (i == 2 and p.is_error) else None)
            cell.border = BOX
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[row].height = max(18, 15 * (1 + len(p.message) // 34))
    ws.freeze_panes = "A5"
    ws.print_title_rows = "4:4"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _row_of(cell: str) -> int:
    digits = "".join(ch for ch in cell if ch.isdigit())
    return int(digits) if digits else 0
