"""The floor: the input and output any implementation of the monthly run must do, and nothing else.

Read the N new files with python-calamine — the form, its identity sheet and the birth register,
the same cells and rows huizong reads — and write the summary's cells (taken from huizong's own
summary before the clock starts) as plain values with XlsxWriter. No checks, no scoring, no
styles, formulas, merges or charts.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import python_calamine as pc
import xlsxwriter


def summary_grids(path: Path) -> list[tuple[str, list[list[Any]]]]:
    """Every sheet of a workbook as rows of values (what the floor writes)."""
    wb = pc.CalamineWorkbook.from_path(str(path))
    return [(name, wb.get_sheet_by_name(name).to_python(skip_empty_area=False)) for name in wb.sheet_names]


def count_cells(grids: list[tuple[str, list[list[Any]]]]) -> dict[str, int]:
    return {name: sum(1 for row in rows for v in row if v not in (None, "")) for name, rows in grids}


def load_grids(path: Path) -> list[tuple[str, list[list[Any]]]]:
    with open(path, "rb") as fh:
        return pickle.load(fh)


def read_all(inbox: Path, layout: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = layout["inputs"].items()
    meta = list(layout["meta"].items()) + [(k, v) for k, v in layout["header"].items()]
    first, col, width = layout["register_first_row"], layout["register_first_col"], len(layout["register_columns"])
    out = []

    def at(rows: list[list[Any]], r: int, c: int) -> Any:
        return rows[r][c] if r < len(rows) and c < len(rows[r]) else None

    for path in sorted(inbox.iterdir()):
        wb = pc.CalamineWorkbook.from_path(str(path))
        sheets = {name: wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
                  for name in (layout["main_sheet"], layout["meta_sheet"], layout["register_sheet"])}
        main = sheets[layout["main_sheet"]]
        record: dict[str, Any] = {fid: at(main, r, c) for fid, (r, c) in inputs}
        record.update({k: at(sheets[layout["meta_sheet"]] if k.startswith("hz_") else main, r, c) for k, (r, c) in meta})
        rows = [row[col:col + width] for row in sheets[layout["register_sheet"]][first:]]
        record["register"] = [r for r in rows if any(v not in (None, "") for v in r)]
        out.append(record)
    return out


def write_all(path: Path, grids: list[tuple[str, list[list[Any]]]], styled: bool = False) -> int:
    """The cells as plain values; ``styled``: each with one bordered, wrapped cell format — what a
    printable summary needs at least (a reference point to explain the summary's cost, not the floor)."""
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    fmt = wb.add_format({"font_name": "宋体", "border": 1, "text_wrap": True}) if styled else None
    written = 0
    for name, rows in grids:
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v is None or v == "":
                    continue
                if isinstance(v, str):
                    ws.write_string(r, c, v, fmt)
                elif isinstance(v, bool):
                    ws.write_boolean(r, c, v, fmt)
                elif isinstance(v, (int, float)):
                    ws.write_number(r, c, v, fmt)
                else:
                    ws.write_string(r, c, str(v), fmt)
                written += 1
    wb.close()
    return written
