"""What the console's buttons run through xlwings' RunPython, and what the macro-free console's
``main()`` runs: find the console workbook, read its period, run the action from
:mod:`pipeline.actions`, paint the views back, write the action's text into the status area.

Only the small part of xlwings' API below is used — ``names[...].refers_to_range.value``,
``sheets[...]``, ``sheets.add``, ``sheet.clear``, ``sheet.range((row, col))`` with ``.value``,
``.number_format``, ``.color`` and ``.font.bold``, ``book.app.books.active`` / ``.open`` and
``app.alert`` — so the tests can stand in for Excel. Errors become the text in the status area,
never a Python traceback dialog.

Every text value is written as text: the cell's number format is set to ``@`` before the value,
so a village's ``=HYPERLINK(…)`` or ``+1+1`` is shown as typed and never becomes a formula.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from .. import actions, api
from ..problems import HuizongError
from ..programme.periods import Month
from ..views import INERT_FORMAT, View
from ..workspace import STATE_DIR, log_traceback, unexpected
from .console import CONSOLE

ROUTE = "xlwings"


def _caller() -> Any:
    import xlwings as xw

    return xw.Book.caller()


def _this_month() -> Month:
    today = date.today()
    return Month(today.year, today.month)


def _has(book: Any, name: str) -> bool:
    try:
        book.names[name].refers_to_range  # noqa: B018 - the lookup is the test
        return True
    except Exception:  # xlwings raises whatever COM says for a missing name
        return False


def _raw(book: Any, name: str) -> Any:
    return book.names[name].refers_to_range.value


def _setting(book: Any, name: str) -> str:
    return str(_raw(book, name) or "").strip()


def _write(cell: Any, value: Any) -> None:
    """One cell, inert: text gets the text format first, so Excel keeps "=…" as it is."""
    if value is None:
        value = ""
    if isinstance(value, str):
        cell.number_format = INERT_FORMAT
    cell.value = value


def _say(book: Any, text: str, route: str = ROUTE) -> None:
    _write(book.names["hz_status"].refers_to_range, text)
    if _has(book, "hz_route"):
        _write(book.names["hz_route"].refers_to_range, route)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    v = int(hex_colour.lstrip("#"), 16)
    return (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF


def paint(book: Any, view: View) -> None:
    """Write a view into its sheet of ``book`` (created if missing): title, headers, rows, colours, note."""
    names = [s.name for s in book.sheets]
    sheet = book.sheets[view.sheet] if view.sheet in names else book.sheets.add(view.sheet, after=book.sheets[names[-1]])
    sheet.clear()
    _write(sheet.range((1, 1)), view.title)
    sheet.range((1, 1)).font.bold = True
    for c, header in enumerate(view.headers, start=1):
        cell = sheet.range((3, c))
        _write(cell, header)
        cell.font.bold = True
        cell.color = _rgb("#D9D9D9")
    for r, (row, colour) in enumerate(zip(view.rows, view.colours), start=4):
        for c, value in enumerate(row, start=1):
            cell = sheet.range((r, c))
            _write(cell, value)
            if colour:
                cell.color = _rgb(colour)
    if view.note:
        _write(sheet.range((len(view.rows) + 5, 1)), view.note)


def console_of(book: Any) -> Any:
    """The console the buttons act on: the calling workbook; for the add-in (.xlam) the active workbook
    when it is a console (its period counts), else this workspace's console, opened."""
    if not str(getattr(book, "name", "")).lower().endswith(".xlam"):
        return book
    active = book.app.books.active
    if active is not None and _has(active, "hz_workspace"):
        return active
    return book.app.books.open(str(Path(_setting(book, "hz_workspace")) / CONSOLE))


Ask = Callable[[str], bool]


def _log_path(book: Any) -> Path | None:
    """The workspace's .huizong/excel.log, when the book names a workspace."""
    try:
        return Path(_setting(book, "hz_workspace")) / STATE_DIR / "excel.log"
    except Exception:
        return None  # nowhere to write it: the clerk still gets the sentence


def _log(book: Any) -> None:
    """The current exception's traceback, appended to the workspace's .huizong/excel.log (when the book names one)."""
    exc = sys.exc_info()[1]
    if exc is not None:
        log_traceback(exc, _log_path(book))  # nowhere to write it: the clerk still gets the sentence


def run(name: str, book: Any | None = None, confirmed: bool = False, ask: Ask | None = None) -> str:
    """Run one button's action for the console of ``book`` (the calling workbook); returns the text shown.

    ``ask`` puts an action's confirmation to the clerk (the macro-free console); the VBA asks before it
    calls and passes ``confirmed``. Nothing raises out of here: the action may already have sent mail."""
    target = book
    done: actions.Outcome | None = None
    try:
        book = target = book if book is not None else _caller()
        target = console_of(book)
        ctx = api.load_context(Path(_setting(target, "hz_workspace")))
        period = actions.period_or_default(_raw(target, "hz_period"), ctx, _this_month())
        if not _setting(target, "hz_period"):
            _write(target.names["hz_period"].refers_to_range, str(period))  # the clerk sees which month was used
        action = actions.find(name)
        if action.confirm and not confirmed and ask is not None:
            if not ask(action.confirm_text(period, ctx.programme)):
                _say(target, actions.CANCELLED)
                return actions.CANCELLED
            confirmed = True
        done = actions.perform(action.name, ctx, period, confirmed=confirmed)
        for view in done.views:
            paint(target, view)
        if done.open_path:
            target.app.books.open(done.path)
        text = done.text
    except HuizongError as exc:
        text = actions.failure_text(exc.problems)
    except Exception as exc:  # the clerk sees a sentence; the details go to the workspace log
        if done is not None:  # the action did its work; only the write-back failed — say what was done
            text = done.text + f"（写回工作表时出错：{type(exc).__name__}，详情已记入 .huizong/excel.log）"
            _log(target)
        else:  # a full disk or a read-only folder is said as such, whatever the face
            text = unexpected(exc, _log_path(target)).message
    try:
        _say(target, text)
    except Exception:  # the status cell cannot be written (name deleted, Excel busy): the log still has it
        _log(target)
    return text


def act(name: str, confirmed: bool = False) -> None:
    """What the console's VBA calls through RunPython: ``g.act('collect', False)``.

    It returns normally whatever happens, so Python exits 0: xlwings reports any non-zero exit as -1,
    and the VBA would then run the action a second time on the command line — after this run may
    already have mailed the villages. Errors go to the status cell and .huizong/excel.log."""
    try:
        run(name, confirmed=confirmed)
    except BaseException:  # run() handles every Exception; not even an interrupt may turn into a second run
        traceback.print_exc()


def _confirm_in_excel(book: Any) -> Ask:
    def ask(text: str) -> bool:
        return str(book.app.alert(text, title="汇总", buttons="ok_cancel")).lower() == "ok"

    return ask


def _earlier_console(name: str) -> Callable[[], None]:
    """What consoles and add-ins made by earlier versions call: ``g.collect()``, ``g.send_templates()``…
    (one function per button, no confirmation from the VBA). Kept so an upgrade does not turn every button
    of a console already in use into a traceback box; an action that mails asks here first. Like ``act``,
    it never lets an error out."""
    def call() -> None:
        try:
            book = _caller()
            run(name, book, ask=_confirm_in_excel(book))
        except BaseException:
            traceback.print_exc()

    call.__name__ = name.replace("-", "_")
    return call


templates, send_templates, collect, validate, consolidate, remind, open_summary = (
    _earlier_console(n) for n in ("templates", "send-templates", "collect", "validate", "consolidate", "remind", "open-summary"))


def main(book: Any | None = None) -> str:
    """The macro-free console (汇总控制台.xlsx): run the action chosen in its 操作 cell, asking first
    where the action asks (xlwings' own add-in calls this through 汇总控制台.py's main())."""
    book = book if book is not None else _caller()
    choice = _setting(book, "hz_action")

    return run(choice, book, ask=_confirm_in_excel(book))
