"""Read a village report workbook into plain, normalised records — the only reader in huizong.

Fast path with python-calamine (.xlsx, .xlsm, .xls, .ods; macros never run). Inputs are found
by their defined names first (robust to inserted rows), then by their labels (robust to format
round trips that drop names, and to renamed sheets). Every value is normalised with its sheet
and cell; everything that was changed or could not be read becomes a Problem.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import python_calamine as pc

from ..problems import Problem, show_value
from ..programme.config import FieldSpec, Programme
from . import layout as L
from .normalise import Outcome, clean_text, label_key, normalise, normalise_text
from .safety import DEFAULT_LIMITS, Limits, sniff
from .xls_parts import XlsCells
from .xlsx_parts import CellFlags, Inflated, OoxmlInfo, Package, cell_flags, filled_extent, read_ooxml_info

Pos = tuple[int, int]
# What a damaged workbook makes the parsers raise (XML ParseError is a SyntaxError).
_BROKEN = (pc.CalamineError, ValueError, OSError, SyntaxError, KeyError, zipfile.BadZipFile, zlib.error, EOFError,
           NotImplementedError, RuntimeError)


@dataclass
class RegisterRow:
    row: int  # 1-based Excel row
    values: dict[str, Any] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadResult:
    file: str
    format: str = ""
    sheet: str = ""  # the main form sheet as found
    register_sheet: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    register: list[RegisterRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)  # field ids / "register.N.col" already reported
    header: list[str] = field(default_factory=list)  # a table's header row as written (its labels, in order)

    @property
    def readable(self) -> bool:
        """False when the file as a whole could not be read (no values at all)."""
        return not any(p.code.startswith("F") and p.is_error for p in self.problems) and not any(
            p.code == "S001" for p in self.problems
        )


class _Sheet:
    """One sheet's grid, with merged ranges and (for OOXML) formula/error flags."""

    def __init__(self, name: str, rows: list[list[Any]], merged: list[tuple[Pos, Pos]], flags: CellFlags | None):
        self.name = name
        self.rows = rows
        self.merged = merged
        self.flags = flags or CellFlags()
        self._merged_by_row: dict[int, list[tuple[Pos, Pos]]] = {}

    def get(self, pos: Pos) -> Any:
        r, c = pos
        if 0 <= r < len(self.rows) and 0 <= c < len(self.rows[r]):
            return self.rows[r][c]
        return None

    def merge_origin(self, pos: Pos) -> Pos | None:
        r, c = pos
        if not self.merged:
            return None
        if r not in self._merged_by_row:  # the ranges crossing a row, found once per row read
            self._merged_by_row[r] = [m for m in self.merged if m[0][0] <= r <= m[1][0]]
        for (r0, c0), (r1, c1) in self._merged_by_row[r]:
            if r0 <= r <= r1 and c0 <= c <= c1 and (r, c) != (r0, c0):
                return (r0, c0)
        return None

    def find_text(self, wanted: str, max_rows: int | None = None) -> Pos | None:
        key = label_key(wanted)
        for r, row in enumerate(self.rows[:max_rows]):
            for c, v in enumerate(row):
                if isinstance(v, str) and v and label_key(v) == key:
                    return (r, c)
        return None


FORM_ROWS = 400  # a form's labels are found within its first rows (the template's form has under 60)


class _Book:
    def __init__(self, data: bytes, fmt: str, limits: Limits, parts: Mapping[str, bytes] | None = None,
                 sheets: Mapping[str, CellFlags] | None = None):
        self.data = data
        # a non-OOXML workbook's formula, error and percentage cells, which calamine does not give: an .ods's from
        # its content.xml (scanned with the safety checks), an .xls's from xlrd, sheet by sheet
        self.scanned: Mapping[str, CellFlags] = sheets or {}
        self.xls = XlsCells(data) if fmt == "xls" else None
        self.package: Package = Inflated(data, parts) if parts else data  # the parts the safety scan inflated, if any
        self.fmt = fmt
        self.limits = limits
        self.wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
        self.ooxml = read_ooxml_info(self.package) if fmt in ("xlsx", "xlsm") else OoxmlInfo()
        self.sheet_names: list[str] = list(self.wb.sheet_names)
        self._cache: dict[str, _Sheet] = {}
        self.too_long: dict[str, str] = {}

    def sheet(self, name: str) -> _Sheet:
        if name not in self._cache:
            part = self.ooxml.sheet_parts.get(name)
            flags = cell_flags(self.package, part, self.ooxml.percent_styles) if part else self.scanned.get(name)
            lim = self.limits
            if flags and part:
                self._filled_only(flags, part, lim.exceeded)
            if flags and lim.exceeded(flags.max_row, flags.max_col):
                self.too_long[name] = f"{flags.max_row} 行 × {flags.max_col} 列"
                self._cache[name] = _Sheet(name, [], [], flags)  # never handed to calamine
                return self._cache[name]
            sh = self.wb.get_sheet_by_name(name)
            # rows are read from A1 (skip_empty_area=False), so the extent is the used range's end,
            # not its height: blank rows above the form must not cut rows off its bottom
            height, width = (sh.end[0] + 1, sh.end[1] + 1) if sh.end else (0, 0)
            nrows = min(height, lim.max_rows)
            if lim.exceeded(height, width):
                self.too_long[name] = f"{height} 行 × {width} 列"
                nrows = min(nrows, max(1, lim.max_cells // max(width, 1)))
            if self.xls is not None and name not in self.too_long:  # within the limits: its cells are looked at
                flags = self.xls.get(name)
            rows = sh.to_python(skip_empty_area=False, nrows=nrows) if nrows else []
            self._cache[name] = _Sheet(name, rows, list(sh.merged_cell_ranges or []), flags)
        return self._cache[name]

    def _filled_only(self, flags: CellFlags, part: str, too_big: Callable[[int, int], bool]) -> None:
        """A sheet too big by all its cells is measured again by those with something in them: borders drawn
        down to row 30,000 make cells python-calamine never reads (it sizes its grid by the values)."""
        if too_big(flags.max_row, flags.max_col):
            flags.max_row, flags.max_col = filled_extent(self.package, part)

    def peek(self, name: str, rows: int = FORM_ROWS) -> _Sheet | None:
        """The first ``rows`` of a sheet that is not itself read (looked at for the form's shape); None for one
        larger than a form could be, which is then neither loaded nor said to be too long."""
        if name in self._cache:
            return self._cache[name]
        part = self.ooxml.sheet_parts.get(name)
        flags = cell_flags(self.package, part) if part else None

        def too_big(height: int, width: int) -> bool:
            return height > 10 * rows or height * width > self.limits.max_cells

        if flags is not None and part:
            self._filled_only(flags, part, too_big)
        if flags is not None and too_big(flags.max_row, flags.max_col):
            return None  # an .xlsx sheet's extent is known before it is parsed: a big data sheet is no form
        sh = self.wb.get_sheet_by_name(name)
        height, width = (sh.end[0] + 1, sh.end[1] + 1) if sh.end else (0, 0)
        if height * width > self.limits.max_cells:
            return None
        return _Sheet(name, sh.to_python(skip_empty_area=False, nrows=min(height, rows)) if height else [], [], flags)


def read_report(data: bytes, name: str, programme: Programme, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    result = ReadResult(file=name)
    sniffed = sniff(data, name, limits)
    result.format = sniffed.format
    result.problems.extend(sniffed.problems)
    if not sniffed.ok:
        return result
    try:
        book = _Book(data, sniffed.format, limits, sniffed.parts, sniffed.sheets)
    except pc.PasswordError:
        result.problems.append(Problem("F002", file=name))
        return result
    except _BROKEN as exc:
        result.problems.append(Problem("F008", file=name, detail=_short(exc)))
        return result
    try:
        _read_into(book, programme, result)
    except _BROKEN as exc:
        result.problems.append(Problem("F008", file=name, detail=_short(exc)))
    for sheet_name, extent in book.too_long.items():
        result.problems.append(Problem("F011", file=name, sheet=sheet_name, detail=extent))
    return result


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]


def _read_into(book: _Book, p: Programme, res: ReadResult) -> None:
    main = _find_main_sheet(book, p, res)
    if main is None:
        res.problems.append(Problem("S001", file=res.file, detail=p.sheet))
        return
    res.sheet = main.name
    _read_meta(book, main, res)
    value_col = L.COL_VALUE
    header = _value_header(main)
    if header:
        value_col = header[1]
    for spec in p.all_inputs:
        pos, sheet = _locate(book, main, spec, value_col)
        if pos is None:
            if spec.required:
                res.problems.append(Problem("S003", file=res.file, sheet=main.name, field=spec.id, label=spec.label))
                res.invalid.add(spec.id)
            continue
        _take(book, sheet, pos, spec, res, res.values, res.cells, res.raw, spec.id, key=spec.id)
    if p.register:
        _read_register(book, p, res)
    _other_forms(book, p, main, res)


def _other_forms(book: _Book, p: Programme, main: _Sheet, res: ReadResult) -> None:
    """Another sheet filled like the form, with other numbers: last month's sheet kept in the workbook, or a
    copy made by 移动或复制 and filled while the names still point at the original. Reading one of them
    silently publishes whichever came first; the village is asked to keep one."""
    skip = {main.name, L.META_SHEET, L.HELP_SHEET, res.register_sheet} | ({p.register.sheet} if p.register else set())
    for name in book.sheet_names:
        if name in skip or name in book.too_long:
            continue
        sheet = book.peek(name)
        head = _value_header(sheet) if sheet is not None else None
        if sheet is None or head is None:
            continue
        at = _label_rows(sheet)
        differ = []
        for spec in p.fields:
            row = at.get(label_key(spec.label))
            theirs = sheet.get((row, head[1])) if row is not None else None
            ours = res.raw.get(spec.id)
            if theirs not in (None, "") and theirs != ours:
                differ.append(f"{spec.label}：{_shown(ours)} / {_shown(theirs)}")
        if differ:
            more = f"……共 {len(differ)} 项" if len(differ) > 3 else ""
            res.problems.append(Problem("S010", file=res.file, sheet=main.name, value=name,
                                        detail="；".join(differ[:3]) + more))


def _label_rows(sheet: _Sheet, max_rows: int = FORM_ROWS) -> dict[str, int]:
    """The first row of each text in a sheet (a form's labels), by the key labels are compared on."""
    out: dict[str, int] = {}
    for r, row in enumerate(sheet.rows[:max_rows]):
        for v in row:
            if isinstance(v, str) and v:
                out.setdefault(label_key(v), r)
    return out


def _shown(value: Any) -> str:
    return "空" if value in (None, "") else show_value(value)


def _value_header(sheet: _Sheet) -> Pos | None:
    """Where the form's value column (本月数) is headed, if this sheet has one."""
    return sheet.find_text(L.VALUE_HEADER, max_rows=40)


def _find_main_sheet(book: _Book, p: Programme, res: ReadResult) -> _Sheet | None:
    first = p.fields[0].id
    target = book.ooxml.names.get(first)
    if target and target.sheet in book.sheet_names:
        return book.sheet(target.sheet)
    if p.sheet in book.sheet_names:
        return book.sheet(p.sheet)
    labels = [f.label for f in p.fields]
    best, best_hits = None, (False, 0)
    for name in book.sheet_names:
        if name == L.META_SHEET:
            continue
        sh = book.sheet(name)
        # a sheet with the form's value column beats one that only quotes the labels (填报说明)
        hits = (_value_header(sh) is not None and name != L.HELP_SHEET,
                sum(1 for lab in labels[:12] if sh.find_text(lab, max_rows=200)))
        if hits > best_hits:
            best, best_hits = sh, hits
    if best is not None and best_hits[1] >= min(3, len(labels)):
        res.problems.append(Problem("S002", file=res.file, sheet=best.name, detail=p.sheet))
        return best
    return None


def _locate(book: _Book, main: _Sheet, spec: FieldSpec, value_col: int) -> tuple[Pos | None, _Sheet]:
    target = book.ooxml.names.get(spec.id)
    if target and target.sheet in book.sheet_names:
        return target.first, book.sheet(target.sheet)
    found = main.find_text(spec.label, max_rows=FORM_ROWS)
    if found:
        return (found[0], value_col), main
    return None, main


def _read_meta(book: _Book, main: _Sheet, res: ReadResult) -> None:
    meta: dict[str, str] = {}
    meta_sheet = book.sheet(L.META_SHEET) if L.META_SHEET in book.sheet_names else None
    for key, label in L.META_KEYS:
        value: Any = None
        target = book.ooxml.names.get(key)
        if target and target.sheet in book.sheet_names:
            value = book.sheet(target.sheet).get(target.first)
        elif meta_sheet is not None:
            at = meta_sheet.find_text(label, max_rows=20)
            value = meta_sheet.get((at[0], at[1] + 1)) if at else None
        if value not in (None, ""):
            meta[key] = clean_text(value)[0] if not isinstance(value, float) else _number_text(value)
    for key, _row, _col in (L.VILLAGE_NAME, L.REPORT_PERIOD, L.VILLAGE_CODE, L.TEMPLATE_VERSION):
        target = book.ooxml.names.get(key)
        pos: Pos | None = None
        sheet = main
        if target and target.sheet in book.sheet_names:
            pos, sheet = target.first, book.sheet(target.sheet)
        else:
            at = main.find_text(L.HEADER_LABELS[key], max_rows=12)
            if at:
                pos = (at[0], at[1] + 1)
        if pos is None:
            continue
        value = sheet.get(pos)
        if isinstance(value, date):
            meta[key] = f"{value.year}年{value.month}月"
            res.cells[key] = L.a1(*pos)
            continue
        out = normalise_text(value, FieldSpec(id=key, label=key, type="text"))
        if out.value is not None:
            meta[key] = out.value
            res.cells[key] = L.a1(*pos)
    res.meta = meta


def _number_text(value: float) -> str:
    """A number as the cell shows it: a village code 340121001001 stays whole (``:g`` gave 3.40121e+11)."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def _take(
    book: _Book,
    sheet: _Sheet,
    pos: Pos,
    spec: FieldSpec,
    res: ReadResult,
    values: dict[str, Any],
    cells: dict[str, str],
    raws: dict[str, Any],
    fid: str,
    key: str,
    memo: dict[tuple[str, type, Any], Outcome] | None = None,
) -> None:
    """Read one cell into ``values[fid]`` (when valid), with problems located at the cell.

    ``memo``: outcomes of normalising earlier cells of the same table (a column repeats its values).
    """
    origin = sheet.merge_origin(pos)
    cell = L.a1(*pos)
    cells[fid] = cell
    read_pos = pos
    if origin is not None:
        res.problems.append(_problem(res, sheet, cell, key, spec, "S006"))
        read_pos = origin
    raw = sheet.get(read_pos)
    raws[fid] = raw
    flags = sheet.flags
    if flags.errors and read_pos in flags.errors:
        res.problems.append(_problem(res, sheet, cell, key, spec, "V018", flags.errors[read_pos]))
        res.invalid.add(key)
        return
    if flags.formulas and read_pos in flags.formulas:
        if raw in (None, "") and read_pos not in flags.texts:
            res.problems.append(_problem(res, sheet, cell, key, spec, "V008"))
            res.invalid.add(key)
            return
        if raw not in (None, ""):  # (a formula whose result is empty, =IF(A5="","",…), leaves the cell blank: read as one)
            res.problems.append(_problem(res, sheet, cell, key, spec, "V009", raw))
    if (flags.percent and read_pos in flags.percent and spec.type in ("integer", "number") and isinstance(raw, (int, float))
            and raw != 0):  # (0% is 0 whichever way it is read)
        # "100%" typed into a count is the number 1 shown as 100%: never 1 person
        res.problems.append(_problem(res, sheet, cell, key, spec, "V024", f"{raw * 100:g}%",
                                     f"数字（单位：{spec.unit}）" if spec.unit else "数字"))
        res.invalid.add(key)
        return
    if memo is not None and isinstance(raw, (str, int, float)):
        mkey = (spec.id, type(raw), raw)
        out = memo.get(mkey)
        if out is None:
            out = memo[mkey] = normalise(raw, spec)
    else:
        out = normalise(raw, spec)
    _settle(res, sheet, cell, key, spec, out, out.ok, values, fid)


def _settle(res: ReadResult, sheet: _Sheet, cell: str, key: str, spec: FieldSpec, out: Outcome, ok: bool,
            values: dict[str, Any], fid: str) -> None:
    """A normalised cell's notes become located problems; its value is kept when valid."""
    for code, shown, detail in out.notes:
        res.problems.append(_problem(res, sheet, cell, key, spec, code, shown, detail))
    if out.empty:
        return  # the schema's "required" reports it, where the field is required
    if ok:
        values[fid] = out.value
    else:
        res.invalid.add(key)


def _problem(res: ReadResult, sheet: _Sheet, cell: str, key: str, spec: FieldSpec, code: str, value: Any = None, detail: str = "") -> Problem:
    return Problem(code, file=res.file, sheet=sheet.name, cell=cell, field=key, label=spec.label, value=value, detail=detail)


def _read_register(book: _Book, p: Programme, res: ReadResult) -> None:
    reg = p.register
    assert reg is not None
    sheet: _Sheet | None = None
    header_row: int | None = None
    target = book.ooxml.names.get(reg.name)
    if target and target.sheet in book.sheet_names:
        sheet = book.sheet(target.sheet)
        header_row = target.first[0] - 1
    elif reg.sheet in book.sheet_names:
        sheet = book.sheet(reg.sheet)
    else:
        for name in book.sheet_names:
            if name in (res.sheet, L.META_SHEET):
                continue
            candidate = book.sheet(name)
            if sum(1 for c in reg.columns if candidate.find_text(c.label, max_rows=30)) >= max(2, len(reg.columns) - 2):
                sheet = candidate
                res.problems.append(Problem("S002", file=res.file, sheet=name, detail=reg.sheet))
                break
    labels = "、".join(c.label for c in reg.columns)
    if sheet is None:
        res.problems.append(Problem("S005", file=res.file, detail=f"工作表“{reg.sheet}”及表头 {labels}"))
        res.invalid.add("register")
        return
    res.register_sheet = sheet.name
    if sheet.name in book.too_long:  # not read at all (F011 says why): no "header not found" on top of it
        res.invalid.add("register")
        return
    rows = _table_rows(book, sheet, reg.columns, res, header_row, reg.max_rows)
    if rows is None:
        res.invalid.add("register")
        return
    res.register = rows


def _table_rows(
    book: _Book, sheet: _Sheet, columns_spec: tuple[FieldSpec, ...], res: ReadResult, header_row: int | None, max_rows: int
) -> list[RegisterRow] | None:
    """Rows under a header row whose cells carry the column labels (columns found by label, in any order)."""
    labels = "、".join(c.label for c in columns_spec if not c.extra)
    columns: dict[str, int] = {}
    rows_to_search = [header_row] if header_row is not None and header_row >= 0 else []
    rows_to_search += list(range(min(len(sheet.rows), 30)))
    wanted = _wanted(columns_spec)
    likeliest: set[str] = set()  # the required labels of the row that has most of them: what S005 says is missing
    for r in rows_to_search:
        if r is None or r >= len(sheet.rows):
            continue
        found = _labels_in(sheet.rows[r], columns_spec)
        if all(c.id in found for c in wanted):
            header_row, columns = r, found
            break
        here = {c.label for c in wanted if c.id in found}
        likeliest = here if len(here) > len(likeliest) else likeliest
    if not columns or header_row is None:
        missing = [c.label for c in wanted if c.label not in likeliest]
        hint = f"；没有找到的是：{'、'.join(missing)}" if likeliest and missing else ""
        res.problems.append(Problem("S005", file=res.file, sheet=sheet.name, detail=labels + hint))
        return None
    label_of = {c.id: c.label for c in columns_spec}
    twice = {cid: where for cid, where in _label_columns(sheet.rows[header_row], columns_spec).items() if len(where) > 1}
    if twice:  # the last of them was read: next year's tasks typed in new columns under the same labels became this year's
        for cid, where in twice.items():
            res.problems.append(Problem("S011", file=res.file, sheet=sheet.name, cell=f"{L.col_letter(where[0])}{header_row + 1}",
                                        label=label_of[cid], detail="、".join(f"{L.col_letter(c)}{header_row + 1}" for c in where)))
        return None
    present = [c for c in columns_spec if c.id in columns]
    res.header = [v.strip() for v in sheet.rows[header_row] if isinstance(v, str) and v.strip()]
    known = {label_key(c.label) for c in columns_spec}
    strange = [v.strip() for v in sheet.rows[header_row] if isinstance(v, str) and v.strip() and label_key(v) not in known]
    absent = [c.label for c in columns_spec if c.id not in columns and not c.extra]
    if strange and absent:  # a column retitled ("起始月份" → "起始考核月份"): dropped unsaid, it changed scores and addresses
        res.problems.append(Problem("S008", file=res.file, sheet=sheet.name, cell=f"A{header_row + 1}",
                                    value="、".join(f"“{x}”" for x in strange[:5]), detail="、".join(f"“{x}”" for x in absent)))
    out: list[RegisterRow] = []
    memo: dict[tuple[str, type, Any], Outcome] = {}
    merged_rows = _plain_table(sheet, header_row, [columns[c.id] for c in present])
    fast: list[tuple[FieldSpec, int, str, dict[tuple[type, Any], tuple[Outcome, bool]]]] = (
        [(spec, columns[spec.id], L.col_letter(columns[spec.id]), {}) for spec in present] if merged_rows is not None else [])
    making = [c for c in present if not c.annotates]  # a row of only 否 in 已核实 (filled down ahead) is no row
    for offset, row in enumerate(sheet.rows[header_row + 1 :]):
        excel_row = header_row + 2 + offset
        if all(_blank(row[columns[c.id]] if columns[c.id] < len(row) else None) for c in making):
            continue
        if _is_note_row(row, columns):
            continue
        if len(out) >= max_rows:
            res.problems.append(Problem("S007", file=res.file, sheet=sheet.name, cell=f"A{excel_row}", detail=str(max_rows)))
            break
        rr = RegisterRow(row=excel_row)
        index = len(out)
        if merged_rows is not None and excel_row - 1 not in merged_rows:
            _take_plain_row(sheet, row, excel_row, index, fast, res, rr)
        else:
            for spec in present:
                pos = (excel_row - 1, columns[spec.id])
                _take(book, sheet, pos, spec, res, rr.values, rr.cells, rr.raw, spec.id, f"register.{index}.{spec.id}", memo)
        out.append(rr)
    return out


def _plain_table(sheet: _Sheet, header_row: int, cols: list[int]) -> set[int] | None:
    """None when a cell of the sheet is a formula or an error value; else the rows (0-based) under the header
    where a merged range crosses the table's columns. Every other row is plain (the township's own tables,
    every register a template makes) and is read by ``_take_plain_row``, which gives what ``_take`` gives."""
    if sheet.flags.errors or sheet.flags.formulas or sheet.flags.percent or not cols:
        return None
    first, last = min(cols), max(cols)
    rows: set[int] = set()
    for (r0, c0), (r1, c1) in sheet.merged:
        if r1 > header_row and c0 <= last and c1 >= first:
            rows.update(range(max(r0, header_row + 1), r1 + 1))
    return rows


def _take_plain_row(sheet: _Sheet, row: list[Any], excel_row: int, index: int,
                    columns: list[tuple[FieldSpec, int, str, dict[tuple[type, Any], tuple[Outcome, bool]]]],
                    res: ReadResult, rr: RegisterRow) -> None:
    """What ``_take`` does for each cell of a row of a plain table, without its per-cell look-ups (merged
    ranges, formula and error flags, the cell's name): a 镇考核登记 of 15,000 rows has 180,000 cells.
    A column's repeated values are normalised once (``columns`` holds each column's memo)."""
    values, cells, raws = rr.values, rr.cells, rr.raw
    width = len(row)
    for spec, col, letter, memo in columns:
        raw = row[col] if col < width else None
        cell = f"{letter}{excel_row}"
        fid = spec.id
        cells[fid] = cell
        raws[fid] = raw
        if isinstance(raw, (str, int, float)):
            mkey = (type(raw), raw)
            if mkey in memo:
                out, ok = memo[mkey]
            else:
                out = normalise(raw, spec)
                ok = memo.setdefault(mkey, (out, out.ok))[1]
        else:
            out = normalise(raw, spec)
            ok = out.ok
        _settle(res, sheet, cell, f"register.{index}.{fid}", spec, out, ok, values, fid)


def _wanted(columns: tuple[FieldSpec, ...]) -> list[FieldSpec]:
    """The columns a header row must have to be this table's: required or non-text ones (all, if none is)."""
    return [c for c in columns if not c.extra and (c.required or c.type != "text")] or list(columns)


def _label_columns(row: list[Any], columns: Sequence[FieldSpec]) -> dict[str, list[int]]:
    """Where each column's label is a cell of this row: column id → the indexes (none, one, or a label twice)."""
    keys = [label_key(v) if isinstance(v, str) else None for v in row]
    found = {c.id: [i for i, k in enumerate(keys) if k == label_key(c.label)] for c in columns}
    return {cid: where for cid, where in found.items() if where}


def _labels_in(row: list[Any], columns: Sequence[FieldSpec]) -> dict[str, int]:
    """The columns whose label is a cell of this row: column id → index (the last, where a label is there twice)."""
    return {cid: where[-1] for cid, where in _label_columns(row, columns).items()}


def _twins(book: _Book, names: list[str], target: str, columns: tuple[FieldSpec, ...]) -> list[str]:
    """Other sheets that carry this table's header: a copy made by 移动或复制 (put first, and edited), a backup."""
    return _with_header(book, [other for other in names if other != target], columns)


def _with_header(book: _Book, names: list[str], columns: tuple[FieldSpec, ...]) -> list[str]:
    """The sheets among ``names`` whose first rows hold this table's header."""
    wanted = _wanted(columns)
    return [other for other in names if any(len(_labels_in(row, wanted)) == len(wanted) for row in book.sheet(other).rows[:30])]


def read_table(
    data: bytes, name: str, sheet_name: str, columns: tuple[FieldSpec, ...], limits: Limits = DEFAULT_LIMITS, max_rows: int = 10000
) -> ReadResult:
    """A township-maintained table (村名册, 镇考核登记, …): rows under a labelled header, normalised.

    The rows land in ``ReadResult.register``; problems carry file, sheet and cell like a report's.
    """
    res = ReadResult(file=name)
    sniffed = sniff(data, name, limits)
    res.format = sniffed.format
    res.problems.extend(p for p in sniffed.problems if p.code != "F012")
    if not sniffed.ok:
        return res
    try:
        book = _Book(data, sniffed.format, limits, sniffed.parts, sniffed.sheets)
        names = [n for n in book.sheet_names if n != L.META_SHEET]
        # renamed (2026年), with another sheet put first (填表说明): the one carrying the table's header is the table
        carrying = [] if sheet_name in names else _with_header(book, names, columns)
        # (none carries it: one too long to look at may be it, and is said to be too long; else the first sheet)
        fallback = [n for n in names if n in book.too_long] + names
        target: str | None = sheet_name if sheet_name in names else next(iter(carrying or fallback), None)
        if carrying:
            res.problems.append(Problem("S002", file=name, sheet=carrying[0], detail=sheet_name))
        if target is None:
            res.problems.append(Problem("S001", file=name, detail=sheet_name))
            return res
        sheet = book.sheet(target)
        res.sheet = res.register_sheet = sheet.name
        if target in book.too_long:  # not read at all: say so, not "header not found"
            res.problems.append(Problem("F011", file=name, sheet=target, detail=book.too_long[target]))
            return res
        rows = _table_rows(book, sheet, columns, res, None, max_rows)
        res.register = rows or []
        twins = _twins(book, names, target, columns)
        if twins:  # only one is read: entries made in the other would drop out of the 通报 unsaid
            res.problems.append(Problem("S009", file=name, sheet=target, value="、".join(f"“{t}”" for t in twins)))
    except pc.PasswordError:
        res.problems.append(Problem("F002", file=name))
    except _BROKEN as exc:
        res.problems.append(Problem("F008", file=name, detail=_short(exc)))
    return res


def read_tables(data: bytes, name: str, tables: Mapping[str, tuple[FieldSpec, ...]],
                limits: Limits = DEFAULT_LIMITS) -> tuple[dict[str, ReadResult], list[Problem]]:
    """Several tables of one workbook (opened once), each from its own sheet; a sheet that is not
    there is simply absent from the result. Problems of the file as a whole come back apart."""
    sniffed = sniff(data, name, limits)
    problems = [p for p in sniffed.problems if p.code != "F012"]
    out: dict[str, ReadResult] = {}
    if not sniffed.ok:
        return out, problems
    try:
        book = _Book(data, sniffed.format, limits, sniffed.parts, sniffed.sheets)
        for sheet_name, columns in tables.items():
            if sheet_name not in book.sheet_names:
                continue
            res = ReadResult(file=name, format=sniffed.format, sheet=sheet_name, register_sheet=sheet_name)
            if sheet_name in book.too_long:
                res.problems.append(Problem("F011", file=name, sheet=sheet_name, detail=book.too_long[sheet_name]))
            else:
                res.register = _table_rows(book, book.sheet(sheet_name), columns, res, None, limits.max_rows) or []
            out[sheet_name] = res
    except pc.PasswordError:
        problems.append(Problem("F002", file=name))
    except _BROKEN as exc:
        problems.append(Problem("F008", file=name, detail=_short(exc)))
    return out, problems


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not clean_text(v)[0])


def _is_note_row(row: list[Any], columns: dict[str, int]) -> bool:
    """The template's footnote under the register (说明：…) is not a birth."""
    first = min(columns.values())
    texts = [v for v in row[first:] if isinstance(v, str) and v.strip()]
    return len(texts) == 1 and texts[0].strip().startswith(("说明", "注："))
