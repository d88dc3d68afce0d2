"""Validate a report record: JSON Schema (every error, never the first only) plus the rules a schema
cannot say — cross-field ≤, register-row counts, GB 11643 check digits, dates inside the period.

Records in, problems out: this module never opens a file. Locations come from the reader.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from ..problems import Problem
from ..programme.config import FieldSpec, Programme
from ..programme.periods import Month
from ..workbook.reader import ReadResult

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
from .idcard import is_valid

_ID_PATTERN = r"^\d{17}[\dX]$"


def _field_schema(spec: FieldSpec) -> dict[str, Any]:
    s: dict[str, Any]
    if spec.type == "integer":
        s = {"type": "integer"}
    elif spec.type in ("number", "percent"):
        s = {"type": "number"}
    elif spec.type == "enum":
        s = {"enum": list(spec.values)}
    elif spec.type == "date":
        s = {"type": "string", "format": "date"}
    elif spec.type == "id_number":
        s = {"type": "string", "pattern": _ID_PATTERN}
    else:
        s = {"type": "string", "minLength": 1}
    if spec.min is not None and spec.numeric:
        s["minimum"] = spec.min
    if spec.max is not None and spec.numeric:
        s["maximum"] = spec.max
    if spec.max_length:
        s["maxLength"] = spec.max_length
    s["title"] = spec.label
    return s


def record_schema(p: Programme) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a programme's report record, generated from its fields."""
    fields = {f.id: _field_schema(f) for f in p.all_inputs}
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{p.title}（{p.id} {p.version}）",
        "type": "object",
        "required": ["fields"],
        "properties": {
            "fields": {
                "type": "object",
                "properties": fields,
                "required": [f.id for f in p.all_inputs if f.required],
                "additionalProperties": False,
            }
        },
    }
    if p.register:
        cols = {c.id: _field_schema(c) for c in p.register.columns}
        schema["properties"]["register"] = {
            "type": "array",
            "maxItems": p.register.max_rows,
            "items": {
                "type": "object",
                "properties": cols,
                "required": [c.id for c in p.register.columns if c.required],
                "additionalProperties": False,
            },
        }
    return schema


@cache
def _validator(p: Programme) -> Draft202012Validator:
    from jsonschema import Draft202012Validator, FormatChecker  # only for records the fast check refuses

    return Draft202012Validator(record_schema(p), format_checker=FormatChecker())


@cache
def _fast(p: Programme) -> Any:
    """A compiled validator (fastjsonschema) that only says yes or no — ~20× faster for the valid
    records that are the common case; a record it refuses gets jsonschema's full ``iter_errors``."""
    import fastjsonschema

    return fastjsonschema.compile(record_schema(p))


def _schema_errors(p: Programme, record: dict[str, Any], fast: bool) -> list[Any]:
    return _errors(lambda: _validator(p), _fast(p) if fast else None, record)


def _errors(full: Callable[[], Any], fast: Callable[[Any], Any] | None, data: Any) -> list[Any]:
    """jsonschema's errors for ``data``; none at all when the compiled ``fast`` check lets it through.

    Whatever the fast check refuses (or stumbles on) gets the full validator, which says every problem and where.
    """
    if fast is not None:
        try:
            fast(data)
            return []
        except Exception:
            pass
    return list(full().iter_errors(data))


def to_record(res: ReadResult) -> dict[str, Any]:
    """The plain JSON record of a read report (dates as ISO strings)."""

    def plain(v: Any) -> Any:
        return v.isoformat() if isinstance(v, date) else v

    record: dict[str, Any] = {"fields": {k: plain(v) for k, v in res.values.items()}}
    record["register"] = [{k: plain(v) for k, v in row.values.items()} for row in res.register]
    return record


_REQUIRED_RE = re.compile(r"^'(.+)' is a required property")


def validate_report(res: ReadResult, p: Programme, period: Month | None = None, fast: bool = True) -> list[Problem]:
    """Every problem of the record, located at its cell. ``period`` enables the date-in-period check.

    ``fast`` lets a compiled validator clear valid records; the problems are the same either way.
    """
    out: list[Problem] = []
    record = to_record(res)
    specs = {f.id: f for f in p.all_inputs}
    cols = {c.id: c for c in (p.register.columns if p.register else ())}

    def at_field(code: str, fid: str, value: Any = None, detail: str = "") -> Problem:
        spec = specs[fid]
        return Problem(code, file=res.file, sheet=res.sheet, cell=res.cells.get(fid, ""), field=fid, label=spec.label, value=value, detail=detail)

    def at_reg(code: str, index: int, cid: str, value: Any = None, detail: str = "") -> Problem:
        row = res.register[index]
        return Problem(
            code, file=res.file, sheet=res.register_sheet, cell=row.cells.get(cid, ""),
            field=f"{p.register.id}[{row.row}].{cid}" if p.register else cid, label=cols[cid].label, value=value, detail=detail,
        )

    for err in _schema_errors(p, record, fast):
        path = list(err.absolute_path)
        if path[:1] == ["fields"]:
            if err.validator == "required":
                m = _REQUIRED_RE.match(err.message)
                fid = m.group(1) if m else ""
                if fid in specs and fid not in res.invalid:
                    out.append(at_field("V001", fid, detail=unfilled(specs[fid]) + _ERROR_LOOK.get(res.format, "")))
                continue
            if len(path) >= 2 and path[1] in specs and path[1] not in res.invalid:
                out.append(_schema_problem(err, lambda code, value=None, detail="", f=path[1]: at_field(code, f, value, detail), specs[path[1]]))
        elif path[:1] == ["register"] and len(path) >= 2:
            index = path[1]
            if err.validator == "required":
                m = _REQUIRED_RE.match(err.message)
                cid = m.group(1) if m else ""
                if cid in cols and f"register.{index}.{cid}" not in res.invalid:
                    row = res.register[index]
                    out.append(Problem("R003", file=res.file, sheet=res.register_sheet, cell=_row_cell(row, cols, cid), field=f"{p.register.id}[{row.row}].{cid}" if p.register else cid, label=cols[cid].label, value=cols[cid].label, detail=str(row.row)))
                continue
            if len(path) >= 3 and path[2] in cols and f"register.{index}.{path[2]}" not in res.invalid:
                cid = path[2]
                out.append(_schema_problem(err, lambda code, value=None, detail="", i=index, c=cid: at_reg(code, i, c, value, detail), cols[cid]))
        elif err.validator == "maxItems":
            out.append(Problem("S007", file=res.file, sheet=res.register_sheet, detail=str(err.validator_value)))
    out.extend(_rule_problems(res, p, at_field))
    out.extend(_register_checks(res, p, period, at_reg))
    return out


# An error value (#DIV/0!) reads as empty where no flag says otherwise: an .xls xlrd could not read (or over its
# size bound) — every OLE workbook, WPS's .et included, is sniffed as "xls"
_ERROR_LOOK = {"xls": "如单元格显示 #DIV/0!、#N/A 等错误值，请改正公式或直接填写数字。"}


def unfilled(spec: FieldSpec, in_row: bool = False) -> str:
    """What to write in an empty required cell: 0 for a count, the thing itself for a name, a phone, a date.
    ``in_row``: a cell of a register's row, where a count of at least 1 (次数) means a row with none is no row."""
    if spec.numeric:
        return "没有发生的请删去这一行。" if in_row and spec.min is not None and spec.min > 0 else "没有发生请填 0。"
    return "请选择下拉列表中的一项。" if spec.values else "请填写。"


def _row_cell(row: Any, cols: dict[str, FieldSpec], cid: str) -> str:
    if cid in row.cells:
        return row.cells[cid]
    return next(iter(row.cells.values()), "")


def _schema_problem(err: Any, make: Any, spec: FieldSpec) -> Problem:
    v = err.validator
    value = err.instance
    if v == "minimum":
        return make("V004", value, f"{err.validator_value:g}")
    if v == "maximum":
        return make("V005", value, f"{err.validator_value:g}")
    if v == "enum":
        return make("V013", value, "、".join(f"“{x}”" for x in err.validator_value))  # quoted: a value may hold "、" itself
    if v == "maxLength":
        return make("V020", len(value), str(err.validator_value))
    if v == "pattern" and spec.type == "id_number":
        return make("V014", value, "格式不对")
    if v == "type":
        return make("V002" if spec.type == "integer" else "V003", value, "")
    return make("V019", value, err.message)


def _rule_problems(res: ReadResult, p: Programme, at_field: Any) -> list[Problem]:
    out: list[Problem] = []
    labels = {f.id: f.label for f in p.all_inputs}
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    for rule in p.rules:
        if rule.field in res.invalid or not number(res.values.get(rule.field)):
            continue  # a missing or mistyped value is the schema's to report
        value: Any = res.values[rule.field]
        if rule.type in ("lte", "eq"):
            other: Any = res.values.get(rule.other)
            if not number(other) or rule.other in res.invalid:
                continue
            if rule.type == "lte" and value > other + 1e-9:
                out.append(at_field("R001", rule.field, value, f"“{labels[rule.other]}”（{_n(other)}）"))
            elif rule.type == "eq" and abs(value - other) > 1e-9:
                out.append(at_field("R002", rule.field, value, f"“{labels[rule.other]}”（{_n(other)}）"))
        elif rule.type in ("register_count", "register_sum") and p.register is not None:
            if "register" in res.invalid:
                continue
            columns = dict(rule.where)
            looked = set(columns) | ({rule.column} if rule.column else set())
            if any(f"register.{i}.{col}" in res.invalid for i in range(len(res.register)) for col in looked):
                continue
            rows = [row for row in res.register if all(row.values.get(col) in vals for col, vals in columns.items())]
            cond = "".join(
                f"{next(c.label for c in p.register.columns if c.id == col)}为“{'”或“'.join(vals)}”的" for col, vals in rule.where
            )
            if rule.type == "register_count" and value != len(rows):
                out.append(at_field("R002", rule.field, value, f"“{p.register.label}”表中{cond}行数 {len(rows)}"))
            elif rule.type == "register_sum":
                total = 0.0
                for row in rows:
                    cell: Any = row.values.get(rule.column)
                    total += float(cell) if number(cell) else 0.0
                if abs(value - total) > 1e-6:
                    label = next(c.label for c in p.register.columns if c.id == rule.column)
                    out.append(at_field("R002", rule.field, value, f"“{p.register.label}”表中{cond}“{label}”之和 {_n(total)}"))
    return out


def _n(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _register_checks(res: ReadResult, p: Programme, period: Month | None, at_reg: Any) -> list[Problem]:
    out: list[Problem] = []
    if p.register is None:
        return out
    seen: dict[tuple[Any, ...], int] = {}
    for i, row in enumerate(res.register):
        for spec in p.register.columns:
            v = row.values.get(spec.id)
            if v is None:
                continue
            if spec.type == "id_number" and isinstance(v, str) and not is_valid(v):
                out.append(at_reg("V015", i, spec.id, v))
            if spec.type == "date" and spec.within_period and period is not None and isinstance(v, date) and not p.covers(period, v):
                out.append(at_reg("V012", i, spec.id, v.isoformat(), p.label(period)))
        key = tuple(row.values.get(c.id) for c in p.register.columns)
        if all(k is not None for k in key):
            if key in seen:
                first = next(iter(row.cells.values()), "")
                out.append(Problem("R004", file=res.file, sheet=res.register_sheet, cell=first, field=p.register.id, detail=f"{row.row} 行与第 {seen[key]}"))
            else:
                seen[key] = row.row
    return out


@cache
def _table_validators(columns: tuple[FieldSpec, ...]) -> tuple[Draft202012Validator, Any]:
    import fastjsonschema
    from jsonschema import Draft202012Validator, FormatChecker

    row_schema = {
        "type": "object",
        "properties": {c.id: _field_schema(c) for c in columns},
        "required": [c.id for c in columns if c.required],
    }
    schema = {"type": "array", "items": row_schema}
    return Draft202012Validator(schema, format_checker=FormatChecker()), fastjsonschema.compile(schema)


def validate_table(res: ReadResult, columns: tuple[FieldSpec, ...]) -> tuple[list[Problem], set[int]]:
    """JSON Schema check of a township table's rows (types, bounds, drop-down values, required).

    Returns the problems, located at their cells, and the indexes of the rows that have any.
    """
    specs = {c.id: c for c in columns}
    validator, fast = _table_validators(columns)
    problems: list[Problem] = []
    bad: set[int] = {int(k.split(".")[1]) for k in res.invalid if k.startswith("register.")}
    record = [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.values.items()} for row in res.register]
    for err in _errors(lambda: validator, fast, record):
        path = list(err.absolute_path)
        if not path:
            continue
        index = path[0]
        row = res.register[index]
        if err.validator == "required":
            m = _REQUIRED_RE.match(err.message)
            cid = m.group(1) if m else ""
            if cid not in specs or f"register.{index}.{cid}" in res.invalid:
                continue
            problems.append(Problem("V001", file=res.file, sheet=res.sheet, cell=_row_cell(row, specs, cid), field=cid, label=specs[cid].label,
                                    detail=unfilled(specs[cid], in_row=True)))
        elif len(path) > 1 and path[1] in specs:
            cid = path[1]

            def make(code: str, value: Any = None, detail: str = "", cid: str = cid, row: Any = row) -> Problem:
                return Problem(code, file=res.file, sheet=res.sheet, cell=row.cells.get(cid, ""), field=cid, label=specs[cid].label, value=value, detail=detail)

            problems.append(_schema_problem(err, make, specs[cid]))
        else:
            continue
        bad.add(index)
    return problems, bad
