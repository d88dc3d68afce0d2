"""计算说明 written by a helper process while this one writes the other sheets — for a county's summary.

At 5,000 villages 计算说明 holds over half of the summary's cells (about 4 of its 10 seconds), and the
office PC has a second core doing nothing. With XlsxWriter's constant_memory a sheet's rows go to a file of
their own before the workbook is put together: the helper writes the 计算说明 rows into such files and the
main workbook takes them as those sheets' rows. The rest of each sheet — columns, page setup, printed
titles — the main process sets with the same calls (``start_explanations``); the rows, their merged ranges,
page breaks and extent come from the helper. A cell names its format by its number in the workbook's list:
the formats 计算说明 uses are numbered first, whoever writes (``Styles.numbered``), and the helper is told
their numbers. The file is the same, byte for byte, as one written in a single process (tested).

Anything that goes wrong with the helper (it cannot start, it fails, it takes far too long) and the lines
are written here after all: the summary never depends on it.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from ...processes import bare_main
from ...score.scorer import Scored
from . import explain
from .explain import start_explanations, write_village_lines
from .sheet import SummarySheet
from .styles import Key, Styles

# villages from which a helper is used: measured on two cores, a consolidation of 500 villages 1.27 → 1.03 s and
# of 5,000 13.1 → 10.5 s with the helper started as the consolidation begins; a township's few dozen gain nothing
PARALLEL_FROM = 300
WAIT_SECONDS = (60.0, 0.02)  # a helper later than this (plus this per village) is stuck: the lines are written here


@dataclass(frozen=True)
class Written:
    """One sheet's rows as the helper wrote them, and what XlsxWriter keeps about them besides."""

    path: str  # the rows' XML (XlsxWriter's constant_memory row file)
    dims: tuple[Any, Any, Any, Any]  # first and last row, first and last column
    merge: list[list[int]]
    hbreaks: list[int]


def start() -> ProcessPoolExecutor | None:
    """A helper process, started now so that it has imported what it needs by the time the summary is written
    (a consolidation starts it before it reads the ledger); None on a single core, or where no process can be made."""
    if (os.cpu_count() or 1) < 2:
        return None
    try:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        with bare_main():
            pool.submit(_ready)
    except Exception:  # noqa: BLE001 — the lines are then written here
        return None
    return pool


def _ready() -> None:
    """Run first in the helper: unpickling this function imported the summary's modules."""


class Helper:
    """The 计算说明 lines of ``names``, being written in another process from the moment it is made
    (``pool``: one made by ``start``, else one is started here)."""

    def __init__(self, scored: Scored, names: list[str], numbers: dict[Key, int], pool: ProcessPoolExecutor | None = None):
        self.folder = tempfile.mkdtemp(prefix="huizong-summary-")
        self.villages = len(scored.index)
        self.pool = pool or start()
        try:
            if self.pool is not None:
                self.future = self.pool.submit(write_lines, _lines_only(scored), names, numbers, self.folder, explain.VILLAGES_PER_SHEET)
        except Exception:  # noqa: BLE001 — a helper that died starting: the lines are written here
            self.close()

    def take(self, sheets: list[Any]) -> bool:
        """Make the helper's rows these sheets' rows; False (nothing changed) when there are none to take."""
        if self.pool is None:
            return False
        try:
            written = self.future.result(timeout=WAIT_SECONDS[0] + WAIT_SECONDS[1] * self.villages)
        except Exception:
            return False
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)
        if len(written) != len(sheets):
            return False
        for ws, w in zip(sheets, written):
            _install(ws, w)
        return True

    def close(self) -> None:
        """Stop the helper if it still runs and remove what it left (the rows taken are read by then)."""
        if self.pool is not None:
            for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                try:
                    process.kill()
                except (OSError, AttributeError):
                    pass
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(frozen=True)
class _Heading:
    """All of a consolidation (``Scored.data``) that 计算说明 reads: the rest — every month's inputs of every
    village, the registers' rows — would be pickled, sent and held by the helper for nothing (at 5,000
    villages 23 of its 29 MB, and the helper's memory on top of the main process's)."""

    programme: Any
    period: Any
    periods: Any
    villages: Any


def _lines_only(scored: Scored) -> Scored:
    heading: Any = _Heading(scored.data.programme, scored.data.period, scored.data.periods, scored.data.villages)
    return replace(scored, data=heading)  # (a stand-in for the Consolidated: only these are read)


def write_lines(scored: Scored, names: list[str], numbers: dict[Key, int], folder: str, per_sheet: int) -> list[Written]:
    """In the helper: the sheets' rows, title to last village, into row files in ``folder``."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(io.BytesIO(), {"constant_memory": True, "tmpdir": folder, "strings_to_formulas": False,
                                           "strings_to_urls": False})
    st = Styles(wb, numbers)
    sheets = [wb.add_worksheet(name, worksheet_class=SummarySheet) for name in names]
    start_explanations(sheets, st, scored, per_sheet)
    write_village_lines(sheets, st, scored, per_sheet)
    out = []
    for ws in sheets:
        ws._write_single_row()  # the last row, which XlsxWriter keeps until the workbook is put together
        ws._opt_close()
        out.append(Written(ws.row_data_filename, (ws.dim_rowmin, ws.dim_rowmax, ws.dim_colmin, ws.dim_colmax),
                           ws.merge, ws.hbreaks))
    wb.fileclosed = True  # never put together: its sheets' rows are the main workbook's now
    return out


def _install(ws: Any, w: Written) -> None:
    """The helper's rows in place of what this process wrote of the sheet (its title rows, the same)."""
    ws._opt_close()
    os.unlink(ws.row_data_filename)
    ws.row_data_filename = w.path
    ws.table.clear()  # the header row still held back: the helper's file has it
    ws.dim_rowmin, ws.dim_rowmax, ws.dim_colmin, ws.dim_colmax = w.dims
    ws.merge = list(w.merge)
    ws.hbreaks = list(w.hbreaks)
