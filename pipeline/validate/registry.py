"""Turn the rows of 村名册 into a Registry, with every problem located at its cell."""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Any

from ..problems import Problem
from ..programme.config import FieldSpec
from ..programme.periods import AMBIGUOUS, Month
from ..registry import Registry, Village, is_checked, name_key
from ..resources import schema
from ..workbook.normalise import label_key
from ..workbook.reader import ReadResult
from .registers import odd_ticks

_YEAR_LABEL = re.compile(r"(20\d{2})\s*年?")  # a header that names a year (2027年…, 2027…, …（2027年）): one year's own tasks
_SPLIT = re.compile(r"[、,，;；/\s]+")
# an address as mail servers take it (ASCII): a cell's "张三<a@qq.com>", "a@qq.com（村主任）" or "a@qq.com。"
# holds one, with words around it that are not part of it
_ADDRESS = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")


_NONE = frozenset(("无", "没有", "暂无", "-", "—", "/", "0"))  # “no address”, as a clerk writes it


def _addresses(cell: str) -> tuple[list[str], list[str], bool]:
    """The addresses of a 上报邮箱 cell, lower-case, once each; the words of a cell with no address at all (无:
    none); and whether the cell was read other than written. Words around an address (a name, a title, a full
    stop) are not part of it; the full-width ＠ and the Chinese 。 an input method types are read as @ and ."""
    typed = unicodedata.normalize("NFKC", cell).replace("。", ".")
    found = list(dict.fromkeys(e.lower() for e in _ADDRESS.findall(typed)))
    rest = [w for w in _SPLIT.split(_ADDRESS.sub(" ", typed)) if w.strip(".") and w not in _NONE]
    return found, ([] if found else rest), bool(found) and (bool(rest) or typed != cell)


def unsafe_name(name: str) -> str:
    """Why a village's name cannot be used (it becomes part of file names), or "" when it can."""
    if "/" in name or "\\" in name:
        return "含有斜杠（/ 或 \\）。名称会用在文件名中，不能有斜杠，请改用其他写法（如“、”）"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return "含有看不见的控制字符（可能是从别处复制来的），请删除后重新输入"
    if name.startswith("."):
        return "以“.”开头。名称会用在文件名中，不能以“.”开头"
    return ""


def _said(rule: Any, limit: Any, instance: Any) -> str:
    """A 村名册 cell the registry's schema refuses, in the clerk's words (never the validator's English)."""
    shown = f"{instance:g}" if isinstance(instance, float) else str(instance)
    if rule == "minimum":
        return f"不能小于 {limit}，填写的是 {shown}"
    if rule == "maxLength":
        return f"文字过长（{limit} 个字以内），填写了 {len(str(instance))} 个字"
    if rule == "minLength":
        return "未填写"
    if rule == "type":
        return f"应为数字，填写的是“{shown}”" if limit in ("number", "integer") else f"“{shown}”格式不对"
    return f"“{shown}”格式不对"


def _shown(name: str) -> str:
    return "".join(ch if unicodedata.category(ch)[0] != "C" else f"\\u{ord(ch):04x}" for ch in name)


def build_registry(res: ReadResult, columns: tuple[FieldSpec, ...], task_ids: list[str]) -> tuple[Registry, list[Problem]]:
    problems = [p for p in res.problems] + odd_ticks(res)
    labels = {c.id: c.label for c in columns}
    villages_raw: list[dict[str, Any]] = []
    dressed: dict[int, str] = {}  # row index → a 上报邮箱 cell with words beside its addresses
    unusable: dict[int, str] = {}  # row index → a 上报邮箱 cell with no address in it
    year_tasks: dict[int, dict[int, dict[str, float]]] = {}  # row index → year → task → value
    for row in res.register:
        v = row.values
        entry: dict[str, Any] = {}
        for key in ("code", "name", "population"):
            if key in v:
                entry[key] = v[key]
        entry["aliases"] = [a for a in _SPLIT.split(str(v.get("aliases", ""))) if a]
        cell = str(v.get("emails", "") or "")
        entry["emails"], wrong, reread = _addresses(cell)
        if wrong:  # no address at all: the village stays (a typo in its address must not drop it from the 通报)
            unusable[len(villages_raw)] = "、".join(wrong)
        elif reread:  # words around the address, ＠ or 。: said, not kept
            dressed[len(villages_raw)] = cell
        entry["tasks"] = {t: v[t] for t in task_ids if t in v}
        for key, value in v.items():  # a year's own tasks: “2027年…年度任务” (numbers the reader checked: ≥ 0)
            task, _, year = key.partition("@")
            if year and task in task_ids and isinstance(value, (int, float)):
                year_tasks.setdefault(len(villages_raw), {}).setdefault(int(year), {})[task] = float(value)
        villages_raw.append(entry)
    months: dict[tuple[int, str], Month] = {}

    def at(index: int, key: str, code: str, value: Any = None, detail: str = "") -> Problem:
        row = res.register[index]
        cell = row.cells.get(key) or next(iter(row.cells.values()), "")
        return Problem(code, file=res.file, sheet=res.sheet, cell=cell, field=key, label=labels.get(key, key), value=value, detail=detail)

    bad_rows: set[int] = set()
    from jsonschema import Draft202012Validator

    for err in Draft202012Validator(schema("registry")).iter_errors({"villages": villages_raw}):
        path = list(err.absolute_path)
        if len(path) < 2:
            if not any(p.is_error for p in res.problems):  # (a table not read at all says why on its own)
                problems.append(Problem("C003", file=res.file, sheet=res.sheet, label="村名册", detail="没有任何村"))
            continue
        index = path[1]
        key = str(path[3] if len(path) > 3 and path[2] == "tasks" else path[2] if len(path) > 2 else "")
        if err.validator == "required":
            key = err.message.split("'")[1]
            detail = "未填写"
        elif err.validator == "minimum" and key == "population":
            detail = "户籍人口不能为 0（比率、上限都按人口计算），请填该村实际户籍人口"
        else:
            detail = _said(err.validator, err.validator_value, err.instance)
        if f"register.{index}.{key}" in res.invalid:
            continue
        problems.append(at(index, key, "C003", detail=detail))
        bad_rows.add(index)
    for i, cell in dressed.items():
        problems.append(at(i, "emails", "V010", value=cell, detail="、".join(villages_raw[i]["emails"])))
    for i, words in unusable.items():
        problems.append(at(i, "emails", "C015", value=words, detail=str(villages_raw[i].get("name") or "")))
    for i, entry in enumerate(villages_raw):
        for key, names in (("name", [entry["name"]] if isinstance(entry.get("name"), str) else []), ("aliases", entry["aliases"])):
            for n in names:
                why = unsafe_name(n)
                if why:
                    problems.append(at(i, key, "C003", value=n, detail=f"第 {res.register[i].row} 行的“{_shown(n)}”{why}"))
                    bad_rows.add(i)
    given = {k for row in res.register for k in row.values if "@" in k}  # a year's column with any task in it
    for i, row in enumerate(res.register):
        for t in task_ids:
            if t not in row.values and f"register.{i}.{t}" not in res.invalid:
                problems.append(at(i, t, "C003", detail="未填写（没有任务请填 0）"))
                bad_rows.add(i)
        for t in sorted(given):  # a year's column with gaps: that year's months stop (C017), not this year's
            if t not in row.values and f"register.{i}.{t}" not in res.invalid:
                problems.append(at(i, t, "C016", value=t.partition("@")[2], detail=str(row.values.get("name") or "")))
    known = {label_key(c.label) for c in columns}
    for label in res.header:  # “2027年儿童健康管里年度任务”: a year's column not read, its year scored on other tasks
        named = _YEAR_LABEL.search(label)
        if named and label_key(label) not in known and task_ids:
            tasks = [labels[t] for t in task_ids]
            rest = (label[: named.start()] + label[named.end():]).strip(" （）()")
            meant = (difflib.get_close_matches(rest, tasks, n=1, cutoff=0.5) or tasks)[0]
            problems.append(Problem("C018", file=res.file, sheet=res.sheet, value=label, detail=f"{named[1]}年{meant}"))
    for i, row in enumerate(res.register):
        for key in ("start_month", "end_month"):
            text = row.values.get(key)
            if text in (None, ""):
                continue
            lost = Month.lost_digit(row.raw.get(key))
            month = None if lost else Month.try_parse(text)
            if month is None:
                problems.append(at(i, key, "C003", detail=AMBIGUOUS.format(value=text) if lost else f"“{text}”应为 2026-06 这样的年月"))
                bad_rows.add(i)
            else:
                months[(i, key)] = month
        start, end = months.get((i, "start_month")), months.get((i, "end_month"))
        if start and end and end <= start:
            problems.append(at(i, "end_month", "C003", detail=f"停止月份 {end.chinese} 应在起始月份 {start.chinese} 之后"))
            bad_rows.add(i)
    seen_codes: dict[str, int] = {}
    seen_names: dict[str, tuple[str, int]] = {}
    for i, entry in enumerate(villages_raw):
        code = entry.get("code")
        if code is None:
            continue
        if code in seen_codes:
            problems.append(at(i, "code", "C004", value=code, detail=f"第 {res.register[seen_codes[code]].row} 行和第 {res.register[i].row} 行"))
            bad_rows.add(i)
        seen_codes.setdefault(code, i)
        for n in [entry.get("name", ""), *entry["aliases"]]:
            k = name_key(n)
            if not k:
                continue
            if k in seen_names and seen_names[k][0] != code:
                problems.append(at(i, "aliases", "C005", value=n, detail=f"{seen_names[k][0]} 和 {code}"))
                bad_rows.add(i)
            seen_names.setdefault(k, (code, i))
    villages = tuple(
        Village(
            code=e["code"], name=e["name"], aliases=tuple(e["aliases"]), emails=tuple(e["emails"]),
            population=int(e["population"]), tasks=dict(e["tasks"]),
            start=months.get((i, "start_month")), end=months.get((i, "end_month")),
            checked=is_checked(res.register[i].values.get("checked")),
            year_tasks=year_tasks.get(i, {}),
        )
        for i, e in enumerate(villages_raw)
        if i not in bad_rows and {"code", "name", "population"} <= e.keys()
    )
    left_out = tuple((str(e.get("code") or ""), str(e.get("name") or "")) for i, e in enumerate(villages_raw)
                     if i in bad_rows and (e.get("code") or e.get("name")))
    return Registry(villages, source=res.file, left_out=left_out), problems
