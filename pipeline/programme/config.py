"""A programme (考核方案) as typed, validated configuration.

The YAML file is checked against ``schemas/programme.schema.json`` (every error at once, each
naming the file and the key), then against the few rules a schema cannot say (unique ids, rules
that point at existing fields, months that cover the year once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..problems import HuizongError, Problem
from ..resources import schema, shipped_programmes


@dataclass(frozen=True)
class FieldSpec:
    id: str
    label: str
    type: str
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    max_length: int | None = None
    values: tuple[str, ...] = ()
    unit: str = ""
    hint: str = ""
    required: bool = True
    personal: bool = False
    within_period: bool = False
    aggregate: str = "sum"
    section: str = ""
    example: tuple[float, ...] = ()
    since: str = ""  # a field added mid-year: required from this month (YYYY-MM) on
    annotates: bool = False  # a table column that says something about its row (已核实): never a row by itself
    extra: bool = False  # a table column the table may have or not (a year's own tasks): not looked for to find the header

    def asked_in(self, period: str) -> bool:
        """Does a report for ``period`` (YYYY-MM) have to hold this field?"""
        return not self.since or period >= self.since

    @classmethod
    def from_dict(cls, d: dict[str, Any], section: str = "") -> FieldSpec:
        d = dict(d)
        if d.get("type") == "percent":  # a rate is a state, never added up over months
            d.setdefault("aggregate", "latest")
        d["values"] = tuple(d.get("values", ()))
        d["example"] = tuple(d.get("example", ()))
        return cls(section=section, **d)

    @property
    def numeric(self) -> bool:
        return self.type in ("integer", "number", "percent")

    @property
    def stock(self) -> bool:
        """A stock (月末数: the latest month counts) rather than a flow (本月数: months add up)."""
        return self.aggregate == "latest"

    def label_over(self, months: str) -> str:
        """The field's name for a value over ``months``: "month" (one month's report, as labelled),
        "ytd" (累计 for a flow, 月末 for a stock: the latest month's)."""
        if months == "month":
            return self.label
        base = self.label[2:] if self.label.startswith("本月") and len(self.label) > 2 else self.label
        if self.aggregate == "average":
            return f"{base}（月均）"
        return f"{base}（月末）" if self.stock else f"{base}（累计）"


@dataclass(frozen=True)
class Section:
    title: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class RegisterSpec:
    id: str
    label: str
    sheet: str
    name: str
    columns: tuple[FieldSpec, ...]
    rows: int = 40
    max_rows: int = 2000
    hint: str = ""


@dataclass(frozen=True)
class Rule:
    type: str
    field: str
    other: str = ""
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    column: str = ""  # register_sum: the register column whose (matching) rows add up to the field


@dataclass(frozen=True)
class AssessmentPeriod:
    name: str
    months: tuple[int, ...]
    weight: float | None = None


@dataclass(frozen=True)
class Programme:
    id: str
    name: str
    version: str
    form_no: str
    title: str
    sheet: str
    units_note: str
    sections: tuple[Section, ...]
    footer: tuple[FieldSpec, ...]
    register: RegisterSpec | None
    rules: tuple[Rule, ...]
    year_start_month: int
    assessment_periods: tuple[AssessmentPeriod, ...]
    report_months: tuple[int, ...]
    tasks: tuple[FieldSpec, ...]
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False, default_factory=dict)
    source: str = ""
    short_name: str = ""
    unit_label: str = "村"
    period_kind: str = "month"  # how often villages report: month, or quarter (a quarter named by its last month)

    def label(self, month: Any) -> str:
        """How a reporting period is named to people: 2026年10月, or 2026年第四季度 for a quarterly programme."""
        return month.quarter_chinese if self.period_kind == "quarter" else month.chinese

    def days(self, month: Any) -> tuple[Any, Any]:
        """The first and last day of the reporting period ``month`` (its whole quarter, for a quarterly programme)."""
        return (month.shift(-2).first_day if self.period_kind == "quarter" else month.first_day), month.last_day

    def covers(self, month: Any, day: Any) -> bool:
        """Is ``day`` inside the reporting period ``month`` (its quarter, for a quarterly programme)?"""
        if self.period_kind == "quarter":
            return day.year == month.year and (day.month - 1) // 3 == (month.month - 1) // 3
        return bool(month.contains(day))

    @property
    def report_word(self) -> str:
        return "季报表" if self.period_kind == "quarter" else "月报表"

    @property
    def fields(self) -> tuple[FieldSpec, ...]:
        """The report's body fields (the ones that are scored), in form order."""
        return tuple(f for s in self.sections for f in s.fields)

    @property
    def measures(self) -> tuple[FieldSpec, ...]:
        """The report's numeric fields: the ones consolidated, scored and added up (text, choices and
        dates are captured and shown, never computed with)."""
        return tuple(f for f in self.fields if f.numeric)

    @property
    def all_inputs(self) -> tuple[FieldSpec, ...]:
        """Every single-cell input of the form: body and footer."""
        return self.fields + self.footer

    @property
    def window(self) -> str:
        """What scores count: "ytd" (the year so far) or "month" (the reporting month alone)."""
        return str((self.raw.get("scoring") or {}).get("window", "ytd"))

    def field(self, fid: str) -> FieldSpec:
        for f in self.all_inputs:
            if f.id == fid:
                return f
        raise KeyError(fid)


def _problem_at(source: str, path: list[Any] | tuple[Any, ...], detail: str) -> Problem:
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "（根）"
    return Problem("C002", file=source, field=key, detail=detail)


def schema_problems(data: Any, schema_name: str, source: str) -> list[Problem]:
    """Every JSON Schema error of a configuration document, as problems naming file and key."""
    from jsonschema import Draft202012Validator  # (a worker process never loads programme files)

    validator = Draft202012Validator(schema(schema_name))
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        out.append(_problem_at(source, list(err.absolute_path), _schema_message(err)))
    return out


_TYPE_WORDS = {"integer": "整数（不加引号）", "number": "数字（不加引号）", "string": "文字", "boolean": "true 或 false",
               "object": "一组设置（下一级缩进的若干项）", "array": "列表（每项以 - 开头）", "null": "空"}


def _schema_message(err: Any) -> str:
    v = err.validator
    if v == "required":
        return f"缺少必填项 {err.message.split(' ')[0]}"
    if v == "additionalProperties":
        allowed = set(err.schema.get("properties") or {})
        extra = [k for k in (err.instance or {}) if k not in allowed] if isinstance(err.instance, dict) else []
        known = f"；这里可以写的是 {'、'.join(sorted(allowed))}" if allowed else ""
        if any("\u3000" in str(k) for k in extra):  # "　　max_rows": a full-width space made it another key
            return f"配置项 {'、'.join(f'“{k}”' for k in extra)} 前面有全角空格，请改用英文空格缩进{known}"
        return f"有不认识的配置项 {'、'.join(map(str, extra)) or '（未知）'}（可能拼错了，或是别的版本的设置）{known}"
    if v == "enum":
        return f"取值 {err.instance!r} 不在允许的范围 {err.validator_value} 内"
    if v == "type":
        kinds = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        said = "或".join(_TYPE_WORDS.get(str(k), str(k)) for k in kinds)
        return f"取值 {err.instance!r} 的类型不对，应为{said}"
    if v == "pattern":
        return f"取值 {err.instance!r} 的格式不对（应符合 {err.validator_value}）"
    if v in ("minimum", "maximum"):
        word = "小于" if v == "minimum" else "大于"
        return f"取值 {err.instance!r} 不能{word} {err.validator_value}"
    return err.message


def load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise HuizongError(Problem("C006", file=str(path), detail=str(path))) from exc
    except UnicodeDecodeError as exc:
        raise HuizongError(Problem("C001", file=str(path), detail="文件不是 UTF-8 编码")) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else ""
        raise HuizongError(Problem("C001", file=str(path), detail=_yaml_trouble(text, where, str(getattr(exc, "problem", exc))))) from exc


# what a clerk's editor puts into YAML that YAML does not take, found before PyYAML's English is shown
_TYPED = (("：", "中文冒号“：”，请改成英文冒号“:”（后面空一格）"), ("\t", "制表符（Tab 键），请改用空格缩进"),
          ("\u3000", "全角空格，请改用英文空格"))


def _yaml_trouble(text: str, where: str, problem: str) -> str:
    """A YAML syntax error in words a clerk can act on: the line of the first Chinese colon, tab or full-width
    space (PyYAML reports the line after it, in English), else where PyYAML stopped."""
    for n, line in enumerate(text.splitlines(), 1):
        body = line.split("#", 1)[0]
        indent = body[: len(body) - len(body.lstrip(" \t\u3000"))]
        for char, words in _TYPED:
            if (char in indent) if char != "：" else (char in body and ":" not in body):
                return f"第 {n} 行有{words}"
    return f"{where}格式不对（请检查冒号、缩进和引号；原文：{problem}）"


def load_programme(ref: str | Path) -> Programme:
    """Load a programme by shipped id (``qianfen``) or by path to its YAML file."""
    path = Path(ref)
    if not path.suffix:
        shipped = shipped_programmes()
        if str(ref) not in shipped:
            raise HuizongError(Problem("C006", detail=f"考核方案 {ref}（已有：{'、'.join(shipped)}）"))
        path = shipped[str(ref)]
    data = load_yaml(path)
    problems = schema_problems(data, "programme", str(path))
    if problems:
        raise HuizongError(problems)
    programme = _build(data, str(path))
    problems = semantic_problems(programme)
    if problems:
        raise HuizongError(problems)
    return programme


def _build(d: dict[str, Any], source: str) -> Programme:
    rep = d["report"]
    sections = tuple(
        Section(s["title"], tuple(FieldSpec.from_dict(f, s["title"]) for f in s["fields"])) for s in rep["sections"]
    )
    reg = d.get("register")
    register = None
    if reg:
        register = RegisterSpec(
            id=reg["id"],
            label=reg["label"],
            sheet=reg["sheet"],
            name=reg["name"],
            columns=tuple(FieldSpec.from_dict(c) for c in reg["columns"]),
            rows=reg.get("rows", 40),
            max_rows=reg.get("max_rows", 2000),
            hint=str(reg.get("hint") or ""),
        )
    rules = tuple(
        Rule(
            r["type"],
            r["field"],
            r.get("other", ""),
            tuple((k, tuple(v)) for k, v in (r.get("where") or {}).items()),
            r.get("column", ""),
        )
        for r in d.get("rules", [])
    )
    per = d["periods"]
    start = per.get("year_start_month", 1)
    return Programme(
        id=d["id"],
        name=d["name"],
        short_name=d.get("short_name", d["name"]),
        unit_label=d.get("unit_label", "村"),
        period_kind=d.get("period_kind", "month"),
        version=str(d["version"]),
        form_no=rep["form_no"],
        title=rep["title"],
        sheet=rep["sheet"],
        units_note=rep.get("units_note", ""),
        sections=sections,
        footer=tuple(FieldSpec.from_dict(f, "落款") for f in rep.get("footer", [])),
        register=register,
        rules=rules,
        year_start_month=start,
        assessment_periods=tuple(
            AssessmentPeriod(a["name"], tuple(a["months"]), a.get("weight")) for a in per["assessment"]
        ),
        report_months=tuple(per.get("report_months") or (
            [(start - 1 + i) % 12 + 1 for i in range(12)] if d.get("period_kind", "month") == "month"
            else [(start - 1 + i) % 12 + 1 for i in range(2, 12, 3)])),  # a quarter is reported in its last month
        tasks=tuple(FieldSpec(id=t["id"], label=t["label"], type="number", min=0) for t in d.get("tasks", [])),
        raw=d,
        source=source,
    )


def semantic_problems(p: Programme) -> list[Problem]:
    out: list[Problem] = []
    src = p.source

    def bad(key: str, detail: str) -> None:
        out.append(Problem("C002", file=src, field=key, detail=detail))

    seen: dict[str, str] = {}
    groups = [("report", p.all_inputs), ("tasks", p.tasks)]
    raw_reg = p.raw.get("assessment_register") or {}
    township_fields = tuple(FieldSpec.from_dict(f) for f in raw_reg.get("fields", []))
    groups.append(("assessment_register", township_fields))
    for where, specs in groups:
        for f in specs:
            if f.id in seen:
                bad(f"{where}.{f.id}", f"字段 id “{f.id}”重复（已在 {seen[f.id]} 中定义）")
            seen[f.id] = where
            if f.min is not None and f.max is not None and f.min > f.max:
                bad(f"{where}.{f.id}", f"min（{f.min}）大于 max（{f.max}）")
    body = {f.id: f for f in p.all_inputs}
    reg_cols = {c.id: c for c in (p.register.columns if p.register else ())}
    for i, r in enumerate(p.rules):
        key = f"rules[{i}]"
        if r.field not in body:
            bad(key, f"规则引用了不存在的字段 “{r.field}”")
        if r.type in ("lte", "eq") and r.other not in body:
            bad(key, f"规则引用了不存在的字段 “{r.other}”")
        if r.type == "register_sum":
            if p.register is None:
                bad(key, "方案没有登记表，不能使用 register_sum 规则")
            elif r.column not in reg_cols or not reg_cols[r.column].numeric:
                bad(key, f"登记表没有数值列 “{r.column}”")
        if r.type in ("register_count", "register_sum"):
            if p.register is None and r.type == "register_count":
                bad(key, "方案没有登记表，不能使用 register_count 规则")
            for col, vals in r.where:
                if col not in reg_cols:
                    bad(key, f"登记表没有列 “{col}”")
                elif reg_cols[col].values and not set(vals) <= set(reg_cols[col].values):
                    bad(key, f"“{col}”的取值 {list(vals)} 不在该列的下拉选项 {list(reg_cols[col].values)} 内")
    months = [m for a in p.assessment_periods for m in a.months]
    if sorted(months) != sorted(set(months)):
        bad("periods.assessment", "同一个月份出现在两个考核季中")
    if p.period_kind == "quarter":  # quarterly reports: each 考核季 holds at least one quarter's reporting month
        if not set(p.report_months) <= set(months) or any(not set(a.months) & set(p.report_months) for a in p.assessment_periods):
            bad("periods.assessment", f"考核季的月份 {sorted(set(months))} 应包含上报月份 {sorted(p.report_months)}，每个考核季至少一个")
    elif set(months) != set(p.report_months):
        bad("periods.assessment", f"考核季的月份 {sorted(set(months))} 与上报月份 {sorted(p.report_months)} 不一致")
    # a table's columns are found by their labels: two columns of one label, and neither is known for sure (S011)
    from ..registry import register_columns, registry_columns
    from ..workbook.normalise import label_key

    def own_last(columns: tuple[Any, ...], own: tuple[Any, ...]) -> list[Any]:
        """A table's columns, the programme's own after the fixed ones: a clash is said of the programme's field."""
        ids = {f.id for f in own}
        return [c for c in columns if c.id not in ids] + [c for c in columns if c.id in ids]

    tables: list[tuple[str, list[Any]]] = [("report", list(p.all_inputs)), ("register", list(p.register.columns if p.register else ())),
              ("tasks", own_last(registry_columns(p.tasks), p.tasks))]
    if raw_reg.get("fields"):
        tables.append(("assessment_register", own_last(register_columns(p, "assessment_register"), township_fields)))
    for where, in_table in tables:
        named: dict[str, str] = {}
        for f in in_table:
            key = label_key(f.label)
            if key in named:
                bad(f"{where}.{f.id}", f"名称“{f.label}”与{named[key]}相同：表格按名称找列，同名的两列分不清")
            named.setdefault(key, f"“{f.id}”")
    weights = [a.weight for a in p.assessment_periods]
    if any(w is not None for w in weights):
        if any(w is None for w in weights):
            bad("periods.assessment", "部分考核季写了 weight，部分没写：要么都写，要么都不写")
        elif abs(sum(w for w in weights if w is not None) - 1) > 1e-9:
            bad("periods.assessment", f"各考核季任务比例之和应为 1，现为 {sum(w for w in weights if w is not None):g}")
    return out
