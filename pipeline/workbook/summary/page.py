"""How the summary's narrow sheets print: a title and a note, a header row repeated on every page,
A4 landscape fitted to the page width (their columns are chosen to fit, so nothing shrinks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .styles import Styles

HEAD_ROW = 2
DEFAULT_ROW = 15.0  # points: XlsxWriter's default row height
_MARGIN_LR, _MARGIN_TB = 0.4, 0.6  # inches
_A4_LANDSCAPE = (841.89, 595.28)  # points
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
    ws.set_margins(left=_MARGIN_LR, right=_MARGIN_LR, top=_MARGIN_TB, bottom=_MARGIN_TB)
    ws.fit_to_pages(1, 0)
    ws.set_footer(FOOTER)


def one_page_if_short(ws: Any, widths: Sequence[float], height: float, slack: float = 1.35) -> bool:
    """Print on one page a sheet ``height`` points tall that would run over by less than ``slack`` pages
    (it is shrunk by at most about a quarter); a longer one keeps its size and prints on several."""
    px = sum(int(7 * w + 0.5) + 5 for w in widths)  # Excel's column width → pixels, as XlsxWriter computes it
    scale = min(1.0, (_A4_LANDSCAPE[0] - 144 * _MARGIN_LR) / (0.75 * px))  # fitted to the page width
    page = (_A4_LANDSCAPE[1] - 144 * _MARGIN_TB) / scale
    if height <= page * slack:
        ws.fit_to_pages(1, 1)
        return True
    return False
