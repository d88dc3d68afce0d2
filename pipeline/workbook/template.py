"""Write a village's monthly report template (村月报) from a programme — XlsxWriter, no Excel needed.

Every input cell is unlocked, validated, explained by an input message, and carries a workbook
defined name equal to its field id; the register is a named range. The identity of the template
(programme, version, village, period, signature) sits in a hidden sheet and in defined names.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import xlsxwriter

from ..programme.config import FieldSpec, Programme
from ..programme.periods import Month
from . import layout as L

FONT = "宋体"
TITLE_FONT = "黑体"
INPUT_FILL = "#FFF9DB"
GREY = "#595959"
FIXED_TIME = datetime(2026, 1, 1)  # constant document time: generated templates are reproducible


@dataclass(frozen=True)
class TemplateIdentity:
    programme: Programme
    organ: str  # 制表机关, e.g. 示例镇人民政府
    village_code: str = ""
    village_name: str = ""
    period: Month | None = None
    signature: str = ""
    deadline_note: str = ""

    @property
    def blank(self) -> bool:
        return not self.village_code


class _Formats:
    def __init__(self, wb: Any):
        base = {"font_name": FONT, "font_size": 11, "valign": "vcenter"}
        border = {"border": 1, "border_color": "#808080"}

        def f(**kw: Any) -> Any:
            return wb.add_format({**base, **kw})

        self.title = f(font_name=TITLE_FONT, font_size=18, align="center")
        self.meta = f(font_size=10)
        self.meta_right = f(font_size=10, align="right")
        self.meta_value = f(font_size=11, bold=True, bottom=1)
        self.meta_input = f(font_size=11, bold=True, bottom=1, locked=False, bg_color=INPUT_FILL)
        self.header = f(bold=True, align="center", bg_color="#D9D9D9", text_wrap=True, **border)
        self.section = f(bold=True, bg_color="#EDEDED", **border)
        self.no = f(align="center", **border)
        self.label = f(text_wrap=True, **border)
        self.unit = f(align="center", **border)
        self.hint = f(font_size=9, font_color=GREY, text_wrap=True, **border)
        self.input_int = f(locked=False, bg_color=INPUT_FILL, num_format="0", align="right", **border)
        self.input_num = f(locked=False, bg_color=INPUT_FILL, num_format="0.00", align="right", **border)
        self.input_text = f(locked=False, bg_color=INPUT_FILL, num_format="@", **border)
        self.input_date = f(locked=False, bg_color=INPUT_FILL, num_format='yyyy"年"m"月"d"日"', align="center", **border)
        self.input_center = f(locked=False, bg_color=INPUT_FILL, num_format="@", align="center", **border)
        self.foot_label = f(align="right")
        self.note = f(font_size=9, font_color=GREY, text_wrap=True, valign="top")
        self.doc = f(text_wrap=True, valign="top")
        self.doc_head = f(bold=True)

    def input_for(self, spec: FieldSpec) -> Any:
        return {
            "integer": self.input_int,
            "number": self.input_num if (spec.decimals or 0) > 0 else self.input_int,
            "percent": self.input_num,
            "date": self.input_date,
            "enum": self.input_center,
        }.get(spec.type, self.input_text)


def requirement(spec: FieldSpec, period: Month | None, p: Programme | None = None) -> str:
    """The rule a value must meet, in words (used for input messages and the instruction sheet)."""
    t = spec.type
    bounds = []
    if spec.min is not None:
        bounds.append(f"不小于 {spec.min:g}")
    if spec.max is not None:
        bounds.append(f"不大于 {spec.max:g}")
    if t == "integer":
        zero_ok = spec.min is None or spec.min <= 0
        return "填整数" + ("，" + "，".join(bounds) if bounds else "") + ("；没有请填 0" if zero_ok else "")
    if t == "number":
        return f"填数字（可有 {spec.decimals or 0} 位小数）" + ("，" + "，".join(bounds) if bounds else "")
    if t == "percent":
        return "填百分数，如 75 或 75%"
    if t == "date":
        if spec.within_period and period:
            return f"填日期，须在 {p.label(period) if p else period.chinese}内，如 {period.year}-{period.month:02d}-05"
        return "填日期，如 2026-10-05"
    if t == "enum" or (t == "text" and spec.values):  # text with values: a drop-down whose other entries are kept as typed
        return "从下拉列表选择：" + "、".join(spec.values)
    if t == "id_number":
        return "18 位身份证号码（末位可为 X），按文本填写"
    if t == "phone":
        return "手机或座机号码，如 13800138000"
    if t == "text" and spec.max_length:
        return f"填文字，{spec.max_length} 个字以内"
    return "填文字"


def _validate(ws: Any, row: int, col: int, spec: FieldSpec, period: Month | None, last_row: int | None = None,
              p: Programme | None = None) -> None:
    msg = requirement(spec, period, p)
    if spec.hint:
        msg = f"{msg}。{spec.hint}"
    opts: dict[str, Any] = {
        "input_title": spec.label[:32],
        "input_message": msg[:255],
        "error_title": "填写有误",
        "error_message": f"“{spec.label}”：{requirement(spec, period, p)}"[:255],
        "error_type": "stop",
        "ignore_blank": True,
    }
    t = spec.type
    if t in ("integer", "number", "percent"):
        opts["validate"] = "integer" if t == "integer" else "decimal"
        lo = spec.min if spec.min is not None else -1e15
        if spec.max is not None:
            opts.update(criteria="between", minimum=lo, maximum=spec.max)
        else:
            opts.update(criteria=">=", value=lo)
    elif t == "date" and spec.within_period and period:
        first, last = p.days(period) if p else (period.first_day, period.last_day)
        opts.update(validate="date", criteria="between", minimum=first, maximum=last)
    elif t == "date":
        opts.update(validate="date", criteria="between", minimum=datetime(2000, 1, 1), maximum=datetime(2100, 12, 31))
    elif t == "enum" or (t == "text" and spec.values):
        opts.update(validate="list", source=list(spec.values))
    elif t == "id_number":
        opts.update(validate="length", criteria="==", value=18)
    elif t == "text" and spec.max_length:
        opts.update(validate="length", criteria="<=", value=spec.max_length)
    else:
        opts.update(validate="any")
        for k in ("error_title", "error_message", "error_type"):
            opts.pop(k)
    ws.data_validation(row, col, last_row if last_row is not None else row, col, opts)


def build_template(ident: TemplateIdentity) -> bytes:
    """The template as .xlsx bytes (deterministic for the same identity)."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    p = ident.programme
    fmt = _Formats(wb)
    wb.set_properties(
        {
            "title": p.title,
            "subject": f"{p.form_no} {p.label(ident.period) if ident.period else ''}".strip(),
            "author": ident.organ,
            "company": ident.organ,
            "comments": f"huizong 模板 {p.id} {p.version}",
            "created": FIXED_TIME,
        }
    )
    _main_sheet(wb, fmt, ident)
    if p.register:
        _register_sheet(wb, fmt, ident)
    _instructions_sheet(wb, fmt, ident)
    _meta_sheet(wb, fmt, ident)
    wb.close()
    return buf.getvalue()


def _main_sheet(wb: Any, fmt: _Formats, ident: TemplateIdentity) -> None:
    p = ident.programme
    ws = wb.add_worksheet(p.sheet)
    ws.set_column(L.COL_NO, L.COL_NO, 10)
    ws.set_column(L.COL_LABEL, L.COL_LABEL, 32)
    ws.set_column(L.COL_UNIT, L.COL_UNIT, 9)
    ws.set_column(L.COL_VALUE, L.COL_VALUE, 15)
    ws.set_column(L.COL_HINT, L.COL_HINT, 44)
    last_col = L.COL_HINT
    ws.set_default_row(18)
    ws.set_row(0, 36)
    ws.merge_range(0, 0, 0, last_col, p.title, fmt.title)
    ws.merge_range(1, 0, 1, 2, f"表号：{p.form_no}", fmt.meta)
    ws.merge_range(1, 3, 1, last_col, f"制表机关：{ident.organ}", fmt.meta_right)

    def header_pair(key: tuple[str, int, int], value: Any, editable: bool) -> None:
        name, row, col = key
        ws.write_string(row, col - 1, L.HEADER_LABELS[name], fmt.meta_right)
        ws.write_string(row, col, "" if value is None else str(value), fmt.meta_input if editable else fmt.meta_value)
        wb.define_name(name, f"='{p.sheet}'!${L.col_letter(col)}${row + 1}")

    header_pair(L.VILLAGE_NAME, ident.village_name, ident.blank)
    header_pair(L.REPORT_PERIOD, p.label(ident.period) if ident.period else "", ident.period is None)
    header_pair(L.VILLAGE_CODE, ident.village_code, ident.blank)
    header_pair(L.TEMPLATE_VERSION, p.version, False)
    if ident.blank:
        ws.data_validation(
            L.VILLAGE_NAME[1], L.VILLAGE_NAME[2], L.VILLAGE_NAME[1], L.VILLAGE_NAME[2],
            {"validate": "any", "input_title": "填报单位", "input_message": "填写本村（社区）的全称，与村名册一致。"},
        )
    if ident.period is None:
        ws.data_validation(
            L.REPORT_PERIOD[1], L.REPORT_PERIOD[2], L.REPORT_PERIOD[1], L.REPORT_PERIOD[2],
            {"validate": "any", "input_title": "报告期", "input_message": "填写报告月份，如 2026年10月。"},
        )
    ws.merge_range(4, 0, 4, last_col, p.units_note, fmt.meta_right)
    header_row = L.FIRST_ROW_MAIN - 1
    for c, text in enumerate(L.HEADERS):
        ws.write_string(header_row, c, text, fmt.header)
    row = L.FIRST_ROW_MAIN
    seq = 0
    for section in p.sections:
        ws.merge_range(row, 0, row, last_col, section.title, fmt.section)
        row += 1
        for spec in section.fields:
            seq += 1
            ws.write_number(row, L.COL_NO, seq, fmt.no)
            ws.write_string(row, L.COL_LABEL, spec.label, fmt.label)
            ws.write_string(row, L.COL_UNIT, spec.unit, fmt.unit)
            ws.write_blank(row, L.COL_VALUE, None, fmt.input_for(spec))
            ws.write_string(row, L.COL_HINT, spec.hint or requirement(spec, ident.period, ident.programme), fmt.hint)
            if len(spec.hint) > 26:
                ws.set_row(row, 15 * (1 + len(spec.hint) // 26))
            _validate(ws, row, L.COL_VALUE, spec, ident.period, p=ident.programme)
            wb.define_name(spec.id, f"='{p.sheet}'!${L.col_letter(L.COL_VALUE)}${row + 1}")
            row += 1
    row += 1
    for spec in p.footer:
        ws.write_string(row, L.COL_LABEL, f"{spec.label}：", fmt.foot_label)
        ws.write_blank(row, L.COL_VALUE, None, fmt.input_for(spec))
        _validate(ws, row, L.COL_VALUE, spec, ident.period, p=ident.programme)
        wb.define_name(spec.id, f"='{p.sheet}'!${L.col_letter(L.COL_VALUE)}${row + 1}")
        row += 1
    row += 1
    notes = ["说明：1. 黄色单元格为填报项，其余单元格已锁定；没有发生的项目请填 0，不要空着。"]
    if p.register:
        notes.append(f"{len(notes) + 1}. 本表与“{p.register.label}”表一同报送，两表的数字须一致。详见“填报说明”工作表。")
    else:
        notes.append(f"{len(notes) + 1}. 各项的填写要求详见“填报说明”工作表。")
    if ident.deadline_note:
        notes.append(f"{len(notes) + 1}. {ident.deadline_note}")
    for text in notes:
        ws.merge_range(row, 0, row, last_col, text, fmt.note)
        row += 1
    ws.freeze_panes(L.FIRST_ROW_MAIN, 0)
    _page_setup(ws, header_row, row - 1, last_col, landscape=False)
    ws.protect("", {"format_columns": True, "format_rows": True})
    ws.activate()


def _register_sheet(wb: Any, fmt: _Formats, ident: TemplateIdentity) -> None:
    p = ident.programme
    reg = p.register
    assert reg is not None
    ws = wb.add_worksheet(reg.sheet)
    cols = reg.columns
    widths = {"id_number": 22, "date": 15, "enum": 11, "integer": 7}
    ws.set_column(0, 0, 6)
    for i, spec in enumerate(cols):
        ws.set_column(L.REGISTER_FIRST_COL + i, L.REGISTER_FIRST_COL + i, widths.get(spec.type, 12))
    last_col = L.REGISTER_FIRST_COL + len(cols) - 1
    ws.set_row(0, 32)
    ws.merge_range(0, 0, 0, last_col, f"{reg.label}表", fmt.title)
    who = ident.village_name or "__________"
    when = p.label(ident.period) if ident.period else "______年___月"
    hint = f"　　（{reg.hint}）" if reg.hint else "　　（每行填一条；本月没有则不填）"
    ws.merge_range(1, 0, 1, last_col, f"填报单位：{who}　　报告期：{when}{hint}", fmt.meta)
    hr = L.REGISTER_HEADER_ROW
    ws.write_string(hr, 0, "序号", fmt.header)
    for i, spec in enumerate(cols):
        ws.write_string(hr, L.REGISTER_FIRST_COL + i, spec.label, fmt.header)
    first, last = hr + 1, hr + reg.rows
    for r in range(first, last + 1):
        ws.write_number(r, 0, r - hr, fmt.no)
        for i, spec in enumerate(cols):
            ws.write_blank(r, L.REGISTER_FIRST_COL + i, None, fmt.input_for(spec))
    for i, spec in enumerate(cols):
        _validate(ws, first, L.REGISTER_FIRST_COL + i, spec, ident.period, last_row=last, p=p)
    rng = f"'{reg.sheet}'!${L.col_letter(L.REGISTER_FIRST_COL)}${first + 1}:${L.col_letter(last_col)}${last + 1}"
    wb.define_name(reg.name, f"={rng}")
    ids = "；身份证号按文本填写，不要写成数字" if any(c.type == "id_number" for c in cols) else ""
    ws.merge_range(last + 2, 0, last + 2, last_col, f"说明：行数不够时，可在表格中间插入行（右键→插入）{ids}。", fmt.note)
    ws.freeze_panes(hr + 1, 0)
    _page_setup(ws, hr, last + 2, last_col, landscape=False)
    ws.protect("", {"format_columns": True, "format_rows": True, "insert_rows": True, "delete_rows": True})


def _instructions_sheet(wb: Any, fmt: _Formats, ident: TemplateIdentity) -> None:
    p = ident.programme
    ws = wb.add_worksheet(L.HELP_SHEET)
    ws.set_column(0, 0, 6)
    ws.set_column(1, 1, 30)
    ws.set_column(2, 2, 8)
    ws.set_column(3, 3, 60)
    ws.set_row(0, 32)
    ws.merge_range(0, 0, 0, 3, f"{p.title}填报说明", fmt.title)
    general = [
        f"1. 本表用于“{p.name}”，表号 {p.form_no}，模板版本 {p.version}。请使用镇里下发给本村的模板，不要使用别村或往月的表格。",
        "2. 只在黄色单元格中填写；其余单元格已锁定（工作表保护没有密码，只为防止误改）。不要删除、移动或改名工作表。",
        "3. 所有人数、次数填阿拉伯数字整数；没有发生请填 0，不要空着，不要填“无”“约20”“十二”之类。",
    ]
    inputs = list(p.all_inputs) + list(p.register.columns if p.register else ())
    money = any(f.unit == "元" for f in inputs)
    dates = any(f.type == "date" for f in inputs)
    if money or dates:
        general.append(f"{len(general) + 1}. " + "；".join(
            (["金额以元为单位，可保留两位小数"] if money else []) + (["日期按 2026-10-05 或 2026年10月5日 填写，须在报告期内"] if dates else [])) + "。")
    if p.register and any(c.type == "id_number" for c in p.register.columns):
        general.append(f"{len(general) + 1}. 身份证号码为 18 位，按文本填写（单元格已设为文本格式）；写成数字会被 Excel 改掉后几位。")
    general.append(f"{len(general) + 1}. 填好后保存为 .xlsx 文件，作为邮件附件发给镇里；收到回执后如需更正，改好后重新发送即可，以最后一次通过校验的为准。")
    if ident.deadline_note:
        general.append(f"{len(general) + 1}. {ident.deadline_note}")
    row = 2
    for text in general:
        ws.merge_range(row, 0, row, 3, text, fmt.doc)
        ws.set_row(row, 30)
        row += 1
    row += 1
    ws.write_string(row, 0, "序号", fmt.header)
    ws.write_string(row, 1, "指标", fmt.header)
    ws.write_string(row, 2, "单位", fmt.header)
    ws.write_string(row, 3, "填写要求", fmt.header)
    table_header = row
    row += 1
    rules_by_field: dict[str, list[str]] = {}
    labels = {f.id: f.label for f in p.all_inputs}
    for rule in p.rules:
        if rule.type == "lte":
            rules_by_field.setdefault(rule.field, []).append(f"不得大于“{labels[rule.other]}”")
        elif rule.type == "eq":
            rules_by_field.setdefault(rule.field, []).append(f"须等于“{labels[rule.other]}”")
        elif rule.type == "register_count" and p.register:
            cond = "".join(
                f"中{next(c.label for c in p.register.columns if c.id == col)}为“{'”或“'.join(vals)}”" for col, vals in rule.where
            )
            rules_by_field.setdefault(rule.field, []).append(f"须等于“{p.register.label}”表{cond}的行数")
    seq = 0
    for spec in p.fields:
        seq += 1
        text = "；".join([requirement(spec, ident.period, ident.programme), *rules_by_field.get(spec.id, [])])
        if spec.hint:
            text += f"。{spec.hint}"
        ws.write_number(row, 0, seq, fmt.no)
        ws.write_string(row, 1, spec.label, fmt.label)
        ws.write_string(row, 2, spec.unit, fmt.unit)
        ws.write_string(row, 3, text, fmt.label)
        ws.set_row(row, 15 * (1 + len(text) // 34))
        row += 1
    if p.register:
        row += 1
        ws.merge_range(row, 0, row, 3, f"“{p.register.label}”表各列", fmt.doc_head)
        row += 1
        for i, spec in enumerate(p.register.columns, 1):
            ws.write_number(row, 0, i, fmt.no)
            ws.write_string(row, 1, spec.label, fmt.label)
            ws.write_string(row, 2, "", fmt.unit)
            ws.write_string(row, 3, requirement(spec, ident.period, ident.programme), fmt.label)
            row += 1
    _page_setup(ws, table_header, row, 3, landscape=False)
    ws.protect("", {"format_columns": True, "format_rows": True})


def _meta_sheet(wb: Any, fmt: _Formats, ident: TemplateIdentity) -> None:
    ws = wb.add_worksheet(L.META_SHEET)
    values = {
        "hz_programme": ident.programme.id,
        "hz_version": ident.programme.version,
        "hz_village_code": ident.village_code or "*",
        "hz_village_name": ident.village_name,
        "hz_period": str(ident.period) if ident.period else "",
        "hz_signature": ident.signature,
    }
    for r, (key, label) in enumerate(L.META_KEYS):
        ws.write_string(r, 0, label)
        ws.write_string(r, 1, values[key])
        wb.define_name(key, f"='{L.META_SHEET}'!$B${r + 1}")
    ws.hide()
    ws.protect("")


def _page_setup(ws: Any, header_row: int, last_row: int, last_col: int, landscape: bool) -> None:
    ws.set_paper(9)  # A4
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(header_row)
    ws.center_horizontally()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
    ws.set_footer("&C第 &P 页，共 &N 页")
    ws.print_area(0, 0, last_row, last_col)
