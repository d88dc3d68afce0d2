"""Candidate xlsx writers on the summary's real content: ``python benchmarks/writers.py --n 500 [--json]``.

The summary of a prepared and collected N-village workspace is built once with a recorder in place
of XlsxWriter: every call (cells, formats, merged ranges, row heights and widths, page setup, print
titles and areas, page breaks, conditional formats, charts) is kept. The calls are then replayed,
timed, into

* XlsxWriter, cell by cell (``write_string`` …), as the summary wrote until this round;
* XlsxWriter with ``SummarySheet.write_cells`` (whole rows: what the summary does now);
* rvgsrust-xlsxwriter (Python bindings of the Rust crate rust_xlsxwriter, cell by cell);
* rustpy-xlsxwriter (Rust, records in, one call per sheet): it takes rows of values only, so it is
  given the summary's cells as values (like the floor) — its speed for reference, not the summary.

For each Rust writer the summary features it cannot express are listed, and its file is read back to
see what a viewer that does not recalculate (a phone, a preview) would show for the formulas.
Results go to benchmarks/results/<time>-writers-n<N>.json. Not part of the test suite; the Rust writers
are installed with ``.venv/bin/python -m pip install -e '.[writers]'`` (setup.sh leaves them out).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from common import HERE, PERIOD, log

Call = tuple[str, int, str, tuple[Any, ...], dict[str, Any]]  # (kind of target, target id, method, args, kwargs)


class Recorder:
    """Stands in for xlsxwriter.Workbook and what it hands out; every call is appended to ``calls``."""

    def __init__(self, *_args: Any, **_kwargs: Any):
        self.calls: list[Call] = []
        self.formats: list[dict[str, Any]] = []
        self.sheets: list[str] = []
        self.charts = 0
        RECORDED.append(self)

    def set_properties(self, props: dict[str, Any]) -> None:
        self.calls.append(("book", 0, "set_properties", (props,), {}))

    def add_format(self, props: dict[str, Any] | None = None) -> _Target:
        self.formats.append(dict(props or {}))
        return _Target(self, "format", len(self.formats) - 1)

    def add_worksheet(self, name: str, worksheet_class: Any = None) -> _Sheet:
        self.sheets.append(name)
        return _Sheet(self, len(self.sheets) - 1, name)

    def add_chart(self, options: dict[str, Any]) -> _Target:
        self.charts += 1
        target = _Target(self, "chart", self.charts - 1)
        self.calls.append(("book", 0, "add_chart", (options,), {}))
        return target

    def close(self) -> None:
        pass


RECORDED: list[Recorder] = []


class _Target:
    def __init__(self, book: Recorder, kind: str, index: int):
        self.book, self.kind, self.index = book, kind, index

    def __getattr__(self, method: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.book.calls.append((self.kind, self.index, method, args, kwargs))
        return record


class _Sheet(_Target):
    def __init__(self, book: Recorder, index: int, name: str):
        super().__init__(book, "sheet", index)
        self.name = name
        from pipeline.workbook.summary.sheet import SummarySheet

        self._real = SummarySheet()

    def prepared_formula(self, formula: str) -> str | None:
        return self._real.prepared_formula(formula)

    def write_cells(self, row: int, first_col: int, cells: list[tuple[Any, ...]]) -> None:
        self.book.calls.append(("sheet", self.index, "write_cells", (row, first_col, list(cells)), {}))


def record_summary(workspace: Path) -> tuple[Recorder, dict[str, Any]]:
    """The summary's calls for the month, and the real summary's bytes and build time (for reference)."""
    from pipeline import api
    from pipeline.programme.periods import Month
    from pipeline.workbook import summary

    ctx = api.load_context(workspace)
    period = Month(*PERIOD)
    scored = api.scorer(ctx).score(period)
    info = summary.SummaryInfo("示例镇", "示例镇人民政府", datetime(2026, 11, 5, 9, 0), "2026年11月5日", api.status(ctx, period), [])
    t = time.perf_counter()
    real = summary.build_summary(scored, info)
    built = time.perf_counter() - t
    real_module = summary.xlsxwriter
    summary.xlsxwriter = type(sys)("recording")  # type: ignore[attr-defined]
    summary.xlsxwriter.Workbook = Recorder  # type: ignore[attr-defined]
    try:
        summary.build_summary(scored, info)
    finally:
        summary.xlsxwriter = real_module  # type: ignore[attr-defined]
    return RECORDED[-1], {"build_summary_s": built, "bytes": len(real), "villages": len(scored.index)}


def expand(calls: list[Call]) -> list[Call]:
    """write_cells as the cell-by-cell calls it stands for."""
    out: list[Call] = []
    for kind, index, method, args, kwargs in calls:
        if method != "write_cells":
            out.append((kind, index, method, args, kwargs))
            continue
        row, first, cells = args
        for col, cell in enumerate(cells, start=first):
            k, value, fmt = cell[0], cell[1], cell[2]
            if k == "s":
                out.append((kind, index, "write_string", (row, col, value, fmt), {}))
            elif k == "n":
                out.append((kind, index, "write_number", (row, col, value, fmt), {}))
            elif k in ("f", "F"):
                out.append((kind, index, "write_formula", (row, col, value if k == "f" else "=" + value, fmt, cell[3]), {}))
            else:
                out.append((kind, index, "write_blank", (row, col, None, fmt), {}))
    return out


def _resolve(value: Any, formats: list[Any]) -> Any:
    if isinstance(value, _Target) and value.kind == "format":
        return formats[value.index]
    if isinstance(value, dict):
        return {k: _resolve(v, formats) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, formats) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve(v, formats) for v in value)
    return value


def replay_xlsxwriter(rec: Recorder, calls: list[Call], rows: bool) -> bytes:
    """Into XlsxWriter: with whole rows (``rows``: SummarySheet.write_cells) or cell by cell."""
    import xlsxwriter

    from pipeline.workbook.summary.sheet import SummarySheet

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    formats = [wb.add_format(p) for p in rec.formats]
    sheets = [wb.add_worksheet(name, worksheet_class=SummarySheet) for name in rec.sheets]
    charts: list[Any] = []
    for kind, index, method, args, kwargs in calls:
        args, kwargs = _resolve(args, formats), _resolve(kwargs, formats)
        if kind == "book":
            if method == "add_chart":
                charts.append(wb.add_chart(*args))
            else:
                getattr(wb, method)(*args, **kwargs)
        elif kind == "chart":
            getattr(charts[index], method)(*args, **kwargs)
        elif method == "insert_chart":
            sheets[index].insert_chart(args[0], args[1], charts[args[2].index])
        else:
            getattr(sheets[index], method)(*args, **kwargs)
    wb.close()
    return buf.getvalue()


_BORDER = {1: "thin", 2: "medium"}


def _rust_format(rx: Any, props: dict[str, Any]) -> Any:
    f = rx.Format()
    for key, value in props.items():
        if key == "font_name":
            f.set_font_name(value)
        elif key == "font_size":
            f.set_font_size(float(value))
        elif key == "bold" and value:
            f.set_bold()
        elif key == "italic" and value:
            f.set_italic()
        elif key == "align":
            f.set_align(value)
        elif key == "valign":
            f.set_vertical_align({"vcenter": "center"}.get(value, value))
        elif key == "text_wrap" and value:
            f.set_text_wrap()
        elif key == "border":
            f.set_border(_BORDER.get(value, "thin"))
        elif key == "bottom":
            f.set_bottom_border(_BORDER.get(value, "thin"))
        elif key == "border_color":
            f.set_border_color(value)
        elif key == "bg_color":
            f.set_background_color(value)
        elif key == "font_color":
            f.set_font_color(value)
        elif key == "num_format":
            f.set_num_format(value)
    return f


def _range(sheet: str, first_row: int, first_col: int, last_row: int | None = None, last_col: int | None = None) -> str:
    from xlsxwriter.utility import xl_range_abs, xl_rowcol_to_cell

    if last_row is None:
        return f"='{sheet}'!{xl_rowcol_to_cell(first_row, first_col, True, True)}"
    return f"='{sheet}'!{xl_range_abs(first_row, first_col, last_row, last_col)}"


def replay_rvgsrust(rec: Recorder, calls: list[Call]) -> tuple[bytes, dict[str, int]]:
    """Into rvgsrust-xlsxwriter, cell by cell; returns the file and what could not be carried over (counts)."""
    import rvgsrust_xlsxwriter as rx

    lost: dict[str, int] = {}

    def lose(what: str) -> None:
        lost[what] = lost.get(what, 0) + 1

    wb = rx.Workbook()
    formats = [_rust_format(rx, p) for p in rec.formats]
    sheets = [wb.add_worksheet(name, constant_memory=True) for name in rec.sheets]
    charts: list[Any] = []
    for kind, index, method, args, kwargs in calls:
        args, kwargs = _resolve(args, formats), _resolve(kwargs, formats)
        if kind == "book":
            if method == "add_chart":
                charts.append(rx.Chart(args[0]["type"]))
            elif method == "set_properties":
                p = args[0]
                wb.set_properties(title=p.get("title"), author=p.get("author"))
            continue
        if kind == "chart":
            chart = charts[index]
            if method == "add_series":
                s = args[0]
                series = rx.ChartSeries()
                series.set_categories(_range(*s["categories"]))
                series.set_values(_range(*s["values"]))
                if isinstance(s.get("name"), str):
                    series.set_name(s["name"])
                elif s.get("name"):
                    series.set_name(_range(*s["name"]))
                chart.push_series(series)
                for extra in set(s) - {"categories", "values", "name"}:
                    lose(f"chart series option {extra}")
            elif method == "set_title":
                chart.set_title_name(args[0]["name"])
                if "name_font" in args[0]:
                    lose("chart title font")
            else:
                lose(f"chart {method}")
            continue
        try:
            _sheet_call(rx, sheets[index], method, args, kwargs, formats, charts, lose)
        except ValueError as exc:  # e.g. constant_memory: nothing may touch a row once a later one is written
            lose(f"worksheet {method} ({str(exc)[:60]})")
    return wb.save_to_buffer(), lost


def _sheet_call(rx: Any, ws: Any, method: str, args: Any, kwargs: Any, formats: list[Any], charts: list[Any], lose: Any) -> None:
    if method == "write_string":
        ws.write(args[0], args[1], args[2], args[3])
    elif method == "write_number":
        ws.write(args[0], args[1], float(args[2]), args[3])
    elif method == "write_formula":
        ws.write_formula(args[0], args[1], args[2], args[3])
        lose("formula's stored value (viewers that do not recalculate show 0)")
    elif method == "write_blank":
        ws.write(args[0], args[1], None, args[3])
    elif method == "merge_range":
        ws.merge_range(*args[:5], args[5] if len(args) > 5 else None)
    elif method == "set_row":
        ws.set_row_height(args[0], float(args[1]))
    elif method == "set_column":
        ws.set_column_width(args[0], float(args[2]))
    elif method == "set_h_pagebreaks":
        if args[0]:
            ws.set_page_breaks(list(args[0]))
    elif method == "repeat_rows":
        ws.set_repeat_rows(args[0], args[1] if len(args) > 1 else args[0])
    elif method == "freeze_panes":
        ws.freeze_panes(args[0], args[1])
    elif method == "set_paper":
        ws.set_paper_size(args[0])
    elif method == "set_landscape":
        ws.set_landscape()
    elif method == "set_margins":
        m = {"left": 0.7, "right": 0.7, "top": 0.75, "bottom": 0.75, "header": 0.3, "footer": 0.3} | kwargs
        ws.set_margins(m["left"], m["right"], m["top"], m["bottom"], m["header"], m["footer"])
    elif method == "fit_to_pages":
        ws.set_print_fit_to_pages(args[0], args[1])
    elif method == "set_footer":
        ws.set_footer(args[0])
    elif method == "print_area":
        ws.set_print_area(*args)
    elif method == "center_horizontally":
        ws.set_print_center_horizontally(True)
    elif method == "activate":
        ws.set_active(True)
    elif method == "insert_chart":
        ws.insert_chart(args[0], args[1], charts[args[2].index])
    elif method == "conditional_format":
        r0, c0, r1, c1, opts = args
        cf = rx.ConditionalFormatText()
        cf.set_rule("begins_with", opts["value"])
        cf.set_format(_resolve(opts["format"], formats))
        ws.add_conditional_format(r0, c0, r1, c1, cf)
    else:
        lose(f"worksheet {method}")


def replay_rustpy(grids: list[tuple[str, list[list[Any]]]]) -> bytes:
    """rustpy-xlsxwriter takes records: the summary's cells as values, one record per row."""
    import rustpy_xlsxwriter as rp

    buf = io.BytesIO()
    sheets = []
    for name, rows in grids:
        width = max((len(r) for r in rows), default=0)
        keys = [f"c{i}" for i in range(width)]
        sheets.append((name, [dict(zip(keys, r)) for r in rows]))
    rp.write_worksheets(sheets, buf)
    return buf.getvalue()


def stored_formula_values(data: bytes, sheet: str, cells: list[tuple[int, int]]) -> list[Any]:
    import python_calamine as pc

    grid = pc.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    return [grid[r][c] if r < len(grid) and c < len(grid[r]) else None for r, c in cells]


def timed(fn: Any, repeat: int) -> tuple[Any, list[float]]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(round(time.perf_counter() - t, 3))
    return out, times


def main() -> None:
    from floor import summary_grids
    from prepare import prepare

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=HERE / ".cache")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from pipeline import api

    work = Path(tempfile.mkdtemp(prefix="huizong-writers-"))
    try:
        prepared = prepare(args.n, args.cache.resolve())
        ws = work / "ws"
        shutil.copytree(prepared / "workspace", ws, symlinks=True)
        log("collecting …")
        api.collect(api.load_context(ws))
        log("recording the summary's calls …")
        rec, ref = record_summary(ws)
        whole_rows = rec.calls
        by_cell = expand(whole_rows)
        counts: dict[str, int] = {}
        for _, _, method, _, _ in by_cell:
            counts[method] = counts.get(method, 0) + 1
        r: dict[str, Any] = {"n": args.n, "villages": ref["villages"], "calls": counts, "formats": len(rec.formats), "charts": rec.charts,
                             "summary_bytes": ref["bytes"]}
        log("XlsxWriter, cell by cell …")
        plain, r["xlsxwriter_cells_s"] = timed(lambda: replay_xlsxwriter(rec, by_cell, rows=False), args.repeat)
        log("XlsxWriter, whole rows …")
        rows, r["xlsxwriter_rows_s"] = timed(lambda: replay_xlsxwriter(rec, whole_rows, rows=True), args.repeat)
        log("rvgsrust-xlsxwriter …")
        (rust, lost), r["rvgsrust_s"] = timed(lambda: replay_rvgsrust(rec, by_cell), args.repeat)
        r["rvgsrust_lost"] = lost
        r["rvgsrust_bytes"] = len(rust)
        # 得分明细's first village: what a viewer that shows stored values sees for its formulas
        detail_cells = [(4, c) for c in range(2, 12)]
        r["stored_formula_values"] = {"xlsxwriter": stored_formula_values(rows, "得分明细", detail_cells),
                                      "rvgsrust": stored_formula_values(rust, "得分明细", detail_cells)}
        (work / "plain.xlsx").write_bytes(plain)
        grids = summary_grids(work / "plain.xlsx")
        log("rustpy-xlsxwriter (values only) …")
        _, r["rustpy_values_only_s"] = timed(lambda: replay_rustpy(grids), args.repeat)
        import floor

        _, r["xlsxwriter_values_only_s"] = timed(lambda: floor.write_all(work / "floor.xlsx", grids), args.repeat)
        import rustpy_xlsxwriter
        import rvgsrust_xlsxwriter
        import xlsxwriter

        r["versions"] = {"xlsxwriter": xlsxwriter.__version__, "rvgsrust-xlsxwriter": getattr(rvgsrust_xlsxwriter, "__version__", "?"),
                         "rustpy-xlsxwriter": rustpy_xlsxwriter.get_version()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = HERE / "results" / f"{datetime.now():%Y%m%d-%H%M%S}-writers-n{args.n}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps(r, ensure_ascii=False))
        return
    print(f"N = {args.n}: {sum(counts.values())} calls ({counts.get('write_string', 0)} strings, {counts.get('write_number', 0)} numbers, "
          f"{counts.get('write_formula', 0)} formulas), {r['formats']} formats, {r['charts']} charts")
    for key in ("xlsxwriter_cells_s", "xlsxwriter_rows_s", "rvgsrust_s", "rustpy_values_only_s", "xlsxwriter_values_only_s"):
        print(f"  {key:28} best {min(r[key]):.3f} s  {r[key]}")
    print(f"  rvgsrust could not carry over: {lost}")
    print(f"  stored values of formulas (得分明细 row 5): {r['stored_formula_values']}")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
