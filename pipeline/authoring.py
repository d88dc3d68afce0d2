"""Writing a programme without code: the design workbook (方案设计表.xlsx) ⇄ the programme file (YAML).

`programme new` writes a starter workbook (or one from a built-in programme), `programme convert`
turns a workbook into the YAML (checking it: the JSON Schema, then every formula and name, each
problem named at its sheet and cell) or a YAML file back into a workbook.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .problems import HuizongError, Problem
from .programme.config import _build, load_yaml, schema_problems, semantic_problems
from .resources import shipped_programmes
from .workbook.design import build_design_workbook, locate, read_design_workbook
from .workspace import atomic_write

# A small, working programme to start from: two fields, one annual task, two items, two 考核季.
STARTER: dict[str, Any] = {
    "id": "village-work", "name": "村级重点工作月考核（示例，请改成本镇的）", "short_name": "重点工作考核", "version": "1",
    "unit_label": "村", "period_kind": "month",
    "report": {"form_no": "村月报-09", "title": "村级重点工作月报表", "sheet": "月报", "units_note": "单位：件、次", "sections": [
        {"title": "一、重点工作", "fields": [
            {"id": "tasks_done", "label": "本月完成重点工作件数", "type": "integer", "min": 0, "unit": "件", "example": [0, 5]},
            {"id": "complaints", "label": "本月群众投诉查实次数", "type": "integer", "min": 0, "unit": "次", "example": [0, 1]},
            {"id": "remark", "label": "备注", "type": "text", "required": False, "max_length": 100},
        ]}],
        "footer": [{"id": "filled_by", "label": "填表人", "type": "text", "max_length": 20},
                   {"id": "phone", "label": "联系电话", "type": "phone"}]},
    "periods": {"year_start_month": 1, "assessment": [{"name": "上半年", "months": [1, 2, 3, 4, 5, 6], "weight": 0.5},
                                                     {"name": "下半年", "months": [7, 8, 9, 10, 11, 12], "weight": 0.5}]},
    "tasks": [{"id": "task_work", "label": "重点工作年度任务件数"}],
    "plausibility": {"limits": [{"field": "tasks_done", "max": "task_work", "why": "一个月完成的件数不会超过全年任务"}],
                     "outliers": {"factor": 3, "margin": 10, "months": 12, "fields": ["tasks_done"]}},
    "scoring": {"items": [
        {"code": "W1", "category": "重点工作", "name": "重点工作完成率", "max": 80, "target": "task_work",
         "base": "IF(t=0,80,80*MIN(1,tasks_done/t))", "bonus": "2*MAX(0,tasks_done-t)", "bonus_max": 10},
        {"code": "W2", "category": "群众满意", "name": "群众投诉", "max": 20, "base": "20-2*complaints"},
    ], "ranking": {"order": "desc"}},
    "township": {"indicators": [{"name": "重点工作任务完成率", "numerator": "tasks_done", "denominator": "t:task_work", "unit": "%", "low": 100}]},
}


def programme_document(ref: str | Path | None) -> dict[str, Any]:
    """The YAML document of a built-in programme (by id), of a programme file, or the starter (None)."""
    if ref is None:
        return STARTER
    shipped = shipped_programmes()
    path = shipped[str(ref)] if str(ref) in shipped else Path(ref)
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise HuizongError(Problem("C001", file=str(path), detail="方案文件应为一组“键: 值”"))
    return doc


def new_design(out: Path, source: str | None = None, organ: str = "") -> Path:
    """Write 方案设计表.xlsx: the starter programme, or ``source`` (a built-in programme or a YAML file)."""
    atomic_write(out, build_design_workbook(programme_document(source), organ))
    return out


def convert(src: Path, out: Path | None = None) -> tuple[Path, list[Problem]]:
    """方案设计表.xlsx → programme YAML (checked), or a programme YAML → 方案设计表.xlsx.

    Returns the written file and the problems; with any error nothing is written (the problems name
    sheet and cell for a workbook, file and key for YAML).
    """
    if src.suffix.lower() in (".yaml", ".yml"):
        return new_design(out or src.with_name("方案设计表.xlsx"), str(src)), []
    try:
        data = src.read_bytes()
    except OSError as exc:
        raise HuizongError(Problem("X006", file=str(src), detail=str(src))) from exc
    doc, problems = read_design_workbook(data, src.name)
    target = out or src.with_name("programme.yaml")
    if any(p.is_error for p in problems):
        return target, problems
    problems = [_located(p, doc, src.name) for p in schema_problems(doc, "programme", src.name)]
    if problems:
        return target, problems
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200)
    from .score.check import static_problems  # after the schema: the formulas, names and weights

    programme = _build(doc, src.name)
    problems = [_located(p, doc, src.name) for p in semantic_problems(programme) + static_problems(programme)]
    if problems:
        return target, problems
    header = f"# 由 {src.name} 生成（huizong programme convert）。请改方案设计表后重新生成，不要直接改本文件。\n"
    atomic_write(target, (header + text).encode("utf-8"))
    return target, []


def _located(p: Problem, doc: dict[str, Any], name: str) -> Problem:
    """A schema error of the converted document, named at the design workbook's sheet and cell."""
    path = [int(x[1:-1]) if x.startswith("[") else x for x in _split_key(p.field)]
    sheet, cell = locate(path, doc)
    return p.at(file=name, sheet=sheet, cell=cell) if sheet else p


def _split_key(key: str) -> list[str]:
    """'scoring.items[1]（R2 问题整改）.base' → ['scoring', 'items', '[1]', 'base']."""
    key = re.sub(r"（[^）]*）", "", key)
    return [part for part in key.replace("[", ".[").split(".") if part]
