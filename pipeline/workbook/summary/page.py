"""How the summary's narrow sheets print: a title and a note, a header row repeated on every page,
A4 landscape fitted to the page width (their columns are chosen to fit, so nothing shrinks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .styles import Styles

HEAD_ROW = 2
FOOTER = "&C&\"宋体\"&10第 &P 页，共 &N 页"


def start_sheet(ws: Any, st: Styles, title: str, note: str, headers: Sequence[str], widths: Sequence[float],
                repeat: bool = True) -> None:
    """Title, note and the first table's header (repeated on every printed page unless ``repeat`` is False:
    a sheet of several tables would print the first one's header over the others)."""
    last = len(headers) - 1
    ws.set_row(0, 28)
    ws.merge_range(0, 0, 0, last, title, st.title)
    ws.merge_range(1, 0, 1, last, note, st.note)
    ws.set_row(1, 30)
    for c, (h, w) in enumerate(zip(headers, widths)):
        ws.write_string(HEAD_ROW, c, h, st.head)
        ws.set_column(c, c, w)
    landscape(ws)
    if repeat:
        ws.repeat_rows(HEAD_ROW)
    ws.freeze_panes(HEAD_ROW + 1, 0)


def landscape(ws: Any) -> None:
    """A4 landscape, fitted to one page width, page numbers in the footer."""
    ws.set_paper(9)
    ws.set_landscape()
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.fit_to_pages(1, 0)
    ws.set_footer(FOOTER)
