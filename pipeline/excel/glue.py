"""What the console's buttons run (through xlwings' RunPython): read the period and workspace from
the calling workbook, call the library, paint the views back, say one line in the status area.

Only the small part of xlwings' Book API below is used — ``names[...].refers_to_range.value``,
``sheets[...]``, ``sheets.add``, ``sheet.clear``, ``sheet.range((row, col))`` with ``.value``,
``.color`` and ``.font.bold`` — so the tests can stand in for Excel. Errors become a message in
the status area, never a Python traceback dialog.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from .. import api
from ..problems import HuizongError
from ..programme.periods import Month
from ..views import View, problems_view, ranking_view, status_view
from ..workspace import STATE_DIR


def _caller() -> Any:
    import xlwings as xw

    return xw.Book.caller()


def _setting(book: Any, name: str) -> str:
    return str(book.names[name].refers_to_range.value or "").strip()


def _say(book: Any, text: str) -> None:
    book.names["hz_status"].refers_to_range.value = text


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    v = int(hex_colour.lstrip("#"), 16)
    return (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF


def paint(book: Any, view: View) -> None:
    """Write a view into its sheet of ``book`` (created if missing): title, headers, rows, colours."""
    names = [s.name for s in book.sheets]
    sheet = book.sheets[view.sheet] if view.sheet in names else book.sheets.add(view.sheet, after=book.sheets[names[-1]])
    sheet.clear()
    sheet.range((1, 1)).value = view.title
    sheet.range((1, 1)).font.bold = True
    for c, header in enumerate(view.headers, start=1):
        cell = sheet.range((3, c))
        cell.value = header
        cell.font.bold = True
        cell.color = _rgb("#D9D9D9")
    for r, (row, colour) in enumerate(zip(view.rows, view.colours), start=4):
        for c, value in enumerate(row, start=1):
            cell = sheet.range((r, c))
            cell.value = value
            if colour:
                cell.color = _rgb(colour)
    if view.note:
        sheet.range((len(view.rows) + 5, 1)).value = view.note


def _views_book(book: Any, ctx: api.Context) -> Any:
    """Where the views go: the calling workbook, or — for the add-in — the workspace's console."""
    if str(getattr(book, "name", "")).lower().endswith(".xlam"):
        import xlwings as xw

        from .console import CONSOLE

        return xw.Book(str(ctx.workspace.root / CONSOLE))
    return book


def run(action: str, book: Any | None = None) -> str:
    """Run one button's action for ``book`` (the calling workbook); returns the one-line result."""
    book = book if book is not None else _caller()
    try:
        ctx = api.load_context(Path(_setting(book, "hz_workspace")))
        period = Month.parse(_setting(book, "hz_period"))
        target = _views_book(book, ctx)
        line = _ACTIONS[action](ctx, period, target)
    except HuizongError as exc:
        line = "；".join(p.message for p in exc.problems)
    except Exception as exc:  # the clerk sees a sentence; the details go to the workspace log
        line = f"出错了：{type(exc).__name__}: {exc}（详情已记入 .huizong/excel.log）"
        try:
            log = Path(_setting(book, "hz_workspace")) / STATE_DIR / "excel.log"
            with log.open("a", encoding="utf-8") as fh:
                fh.write(traceback.format_exc())
        except OSError:
            pass
    _say(book, line)
    return line


def _templates(ctx: api.Context, period: Month, book: Any) -> str:
    paths = api.make_templates(ctx, period)
    return f"已生成 {len(paths)} 份模板：{paths[0].parent if paths else ''}"


def _send_templates(ctx: api.Context, period: Month, book: Any) -> str:
    out = api.send_templates(ctx, period)
    return f"已发送模板 {out.sent} 封" + (f"；{out.problems[0].message}" if out.problems else "")


def _collect(ctx: api.Context, period: Month, book: Any) -> str:
    summary = api.collect(ctx)
    paint(book, status_view(api.status(ctx, period), period))
    paint(book, problems_view(ctx, period))
    return summary.line + (f"；{summary.problems[0].message}" if summary.problems else "")


def _validate(ctx: api.Context, period: Month, book: Any) -> str:
    view = problems_view(ctx, period)
    paint(book, view)
    paint(book, status_view(api.status(ctx, period), period))
    return f"{period.chinese}：{view.note}"


def _consolidate(ctx: api.Context, period: Month, book: Any) -> str:
    result = api.consolidate(ctx, period)
    paint(book, ranking_view(result))
    return f"已汇总排名：{len(result.scored.index)} 个参评，汇总表 {result.path}"


def _remind(ctx: api.Context, period: Month, book: Any) -> str:
    out = api.remind(ctx, period)
    return f"已发送催报 {out.sent} 封" + (f"；{out.problems[0].message}" if out.problems else "")


def _open_summary(ctx: api.Context, period: Month, book: Any) -> str:
    import xlwings as xw

    path = ctx.workspace.summary_path(period)
    if not path.exists():
        return f"还没有 {path.name}，请先点“汇总排名”。"
    xw.Book(str(path))
    return f"已打开 {path.name}"


_ACTIONS = {
    "templates": _templates, "send_templates": _send_templates, "collect": _collect, "validate": _validate,
    "consolidate": _consolidate, "remind": _remind, "open_summary": _open_summary,
}


def templates() -> None:
    run("templates")


def send_templates() -> None:
    run("send_templates")


def collect() -> None:
    run("collect")


def validate() -> None:
    run("validate")


def consolidate() -> None:
    run("consolidate")


def remind() -> None:
    run("remind")


def open_summary() -> None:
    run("open_summary")
