"""方案设计表.xlsx: a programme written as tables in Excel (written with XlsxWriter, read with the
reader), the way XLSForm lets people write forms. The mapping between sheets and the programme's
YAML is programme/design.py's; this module only lays the tables out and reads them back, every
cell located for the messages."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import xlsxwriter

from ..problems import Problem
from ..programme.config import FieldSpec
from ..programme.design import OUTCOMES, SETTINGS, TABLES, WORDS, Col, Table, Where, from_rows, to_rows
from .layout import col_letter
from .reader import read_tables
from .safety import DEFAULT_LIMITS
from .template import FONT, INPUT_FILL, TITLE_FONT

SETTINGS_SHEET = "方案"
HEAD = 2  # 0-based header row of every sheet
_SETTING_COLS = (Col("label", "配置项", width=30), Col("path", "键", width=36), Col("value", "值", width=60))
FIXED = datetime(2026, 1, 1)


def _tables() -> list[Table]:
    order = ["填报项", "考核项", "考核季", "年度任务", "镇考核登记", "加分扣分", "奖惩", "合理上限", "乡镇指标", "派生计数", "校验规则", "登记表列"]
    by_sheet = {t.sheet: t for t in list(TABLES.values()) + [OUTCOMES]}
    return [by_sheet[s] for s in order]


def build_design_workbook(doc: dict[str, Any], organ: str = "") -> bytes:
    """The programme ``doc`` (a YAML document) as 方案设计表.xlsx."""
    settings, tables = to_rows(doc)
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"title": f"方案设计表：{doc.get('name', '')}", "author": organ, "created": FIXED})
    f_title = wb.add_format({"font_name": TITLE_FONT, "font_size": 16, "valign": "vcenter"})
    f_note = wb.add_format({"font_name": FONT, "font_size": 10, "font_color": "#595959", "text_wrap": True, "valign": "top"})
    f_head = wb.add_format({"font_name": FONT, "font_size": 11, "bold": True, "bg_color": "#D9D9D9", "border": 1, "text_wrap": True,
                            "align": "center", "valign": "vcenter"})
    f_cell = wb.add_format({"font_name": FONT, "font_size": 11, "border": 1, "border_color": "#808080", "num_format": "@",
                            "text_wrap": True, "valign": "top", "bg_color": INPUT_FILL, "locked": False})
    f_key = wb.add_format({"font_name": "Consolas", "font_size": 10, "border": 1, "border_color": "#808080", "num_format": "@",
                           "font_color": "#595959", "valign": "top"})

    def sheet(name: str, cols: tuple[Col, ...], title: str, note: str, rows: list[dict[str, Any]], key_col: str | None = None) -> None:
        ws = wb.add_worksheet(name)
        last = len(cols) - 1
        ws.set_row(0, 26)
        ws.merge_range(0, 0, 0, last, title, f_title)
        ws.set_row(1, 44)
        ws.merge_range(1, 0, 1, last, note, f_note)
        ws.set_row(HEAD, 34)
        for c, col in enumerate(cols):
            ws.write_string(HEAD, c, col.label, f_head)
            ws.set_column(c, c, col.width)
            if col.hint:
                ws.write_comment(HEAD, c, col.hint, {"x_scale": 2, "y_scale": 1.2})
            if col.kind in WORDS:
                ws.data_validation(HEAD + 1, c, HEAD + 300, c, {"validate": "list", "source": list(WORDS[col.kind]),
                                                                "error_type": "warning", "input_title": col.label[:30],
                                                                "input_message": "从下拉列表选择"})
        for r, row in enumerate(rows, start=HEAD + 1):
            for c, col in enumerate(cols):
                value = row.get(col.key)
                fmt = f_key if col.key == key_col else f_cell
                if value is None or value == "":
                    ws.write_blank(r, c, None, fmt)
                else:  # everything as text: a formula typed with "=" stays a formula's text, never a live one
                    ws.write_string(r, c, _text(value), fmt)
        for r in range(HEAD + 1 + len(rows), HEAD + 1 + len(rows) + 30):  # room to add rows, formatted as text
            for c, col in enumerate(cols):
                ws.write_blank(r, c, None, f_key if col.key == key_col else f_cell)
        ws.freeze_panes(HEAD + 1, 1)
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(HEAD)

    sheet(SETTINGS_SHEET, _SETTING_COLS, f"方案设计表：{doc.get('name', '（新方案）')}",
          "说明：本工作簿就是考核方案。每张表一部分：方案（基本设置，每行一项，只改“值”一列）、填报项、考核项、考核季…… "
          "改好后运行 huizong programme convert 方案设计表.xlsx，生成方案文件并检查；再用 huizong programme check 看模拟一年的得分分布。",
          [{"label": label, "path": path, "value": value} for path, label, value in settings], key_col="path")
    for t in _tables():
        sheet(t.sheet, t.cols, t.sheet, t.note, tables.get(t.sheet, []))
    wb.close()
    return buf.getvalue()


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _specs(cols: tuple[Col, ...]) -> tuple[FieldSpec, ...]:
    # read as text: the programme's own conversion (programme/design.py) gives numbers, lists and words their meaning
    return tuple(FieldSpec(id=c.key, label=c.label, type="text", required=i == 0) for i, c in enumerate(cols))


def read_design_workbook(data: bytes, name: str) -> tuple[dict[str, Any], list[Problem]]:
    """The programme document of a 方案设计表, and every problem located by sheet and cell."""
    wanted = {SETTINGS_SHEET: _specs(_SETTING_COLS)} | {t.sheet: _specs(t.cols) for t in _tables()}
    results, problems = read_tables(data, name, wanted, DEFAULT_LIMITS)
    if SETTINGS_SHEET not in results:
        problems.append(Problem("S001", file=name, detail=SETTINGS_SHEET))
        return {}, problems
    cells: dict[tuple[str, int, str], str] = {}
    rows_of: dict[str, list[dict[str, Any]]] = {}
    for sheet, res in results.items():
        problems += [p for p in res.problems if p.is_error]
        rows_of[sheet] = [{k: _raw(v) for k, v in r.raw.items()} for r in res.register]
        for i, r in enumerate(res.register):
            for key, cell in r.cells.items():
                cells[(sheet, i, key)] = cell
    settings: dict[str, Any] = {}
    setting_row: dict[str, int] = {}
    for i, setting in enumerate(rows_of.pop(SETTINGS_SHEET)):
        if setting.get("path"):
            settings[str(setting["path"]).strip()] = setting.get("value")
            setting_row[str(setting["path"]).strip()] = i
    known = {path for path, _, _ in SETTINGS}
    for path, i in setting_row.items():
        if path not in known:
            problems.append(Problem("C007", file=name, sheet=SETTINGS_SHEET, cell=cells.get((SETTINGS_SHEET, i, "path"), ""),
                                    field=path, detail=f"“键”一列的“{path}”不是方案的配置项（请不要改动这一列）"))

    def say(where: Where, message: str) -> None:
        sheet, index, key = where
        if sheet == SETTINGS_SHEET:
            index, key = setting_row.get(key, -1), "value"
        cell = cells.get((sheet, index, key), "")
        problems.append(Problem("C007", file=name, sheet=sheet, cell=cell, field=key, detail=message))

    doc = from_rows(settings, rows_of, say)
    return doc, problems


def locate(path: list[Any], doc: dict[str, Any]) -> tuple[str, str]:
    """(sheet, cell) where the clerk wrote the configuration at ``path`` (a JSON Schema error's path,
    such as ['scoring', 'items', 3, 'bonus_max']), as build_design_workbook lays it out; ("", "") if unknown."""
    keys = [p for p in path if isinstance(p, str)]
    numbers = [p for p in path if isinstance(p, int)]
    if keys[:2] in (["report", "sections"], ["report", "footer"]) and numbers:
        sections = doc["report"].get("sections", [])
        if keys[1] == "sections":
            index = sum(len(s.get("fields", [])) for s in sections[:numbers[0]]) + (numbers[1] if len(numbers) > 1 else 0)
        else:
            index = sum(len(s.get("fields", [])) for s in sections) + numbers[0]
        return _cell(TABLES[("report", "sections")], index, keys[2:] if keys[1] == "footer" else keys[3:])
    for prefix, table in TABLES.items():
        if tuple(keys[:len(prefix)]) == prefix and numbers:
            return _cell(table, numbers[0], keys[len(prefix):])
    if keys[:1] == ["scoring"] and len(keys) > 1 and keys[1] in ("flags", "rewards", "rank_rewards") and numbers:
        before = {"flags": [], "rewards": ["flags"], "rank_rewards": ["flags", "rewards"]}[keys[1]]
        index = sum(len(doc.get("scoring", {}).get(k, [])) for k in before) + numbers[0]
        rest = ["formula" if k in ("when", "amount") else k for k in keys[2:]]
        return _cell(OUTCOMES, index, rest)
    dotted = ".".join(keys)
    for i, (p, _label, _kind) in enumerate(SETTINGS):
        if p == dotted or dotted.startswith(p + "."):
            return SETTINGS_SHEET, f"C{HEAD + 2 + i}"
    return "", ""


def _cell(table: Table, index: int, keys: list[str]) -> tuple[str, str]:
    column = next((c for c, col in enumerate(table.cols) if col.key in keys), 0)
    return table.sheet, f"{col_letter(column)}{HEAD + 2 + index}"


def _raw(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value

