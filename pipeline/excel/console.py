"""``huizong excel-console``: the control workbook 汇总控制台.xlsm (or, without macros, 汇总控制台.xlsx
with 汇总控制台.py), and ``excel-addin``: huizong.xlam.

The console has a 控制台 sheet (period, workspace, run mode, status area, buttons), the sheets the
buttons write back into (上报情况, 排名, 问题清单) and an active ``xlwings.conf`` sheet naming the
Python that made it, so RunPython (ours, or xlwings' own add-in for the macro-free console) finds
its interpreter. The buttons are the actions of :mod:`pipeline.actions`; the VBA comes from
``macros`` and the VBA project is written by ``vba`` (no Excel needed).

The period is free text, checked by a data validation (2026-10 form, or empty for "the latest
month with reports") and again by Python; the cell has the text format, so Excel does not turn
2026-10 into a date. It is filled with the latest month with reports when the console is made.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import xlsxwriter

from ..actions import ACTIONS
from ..autostart import interpreter
from ..programme.periods import Month
from ..serve import port_for
from ..workbook.layout import col_letter
from ..workspace import Workspace, atomic_write
from .macros import CONSOLE_NAME, MODE_AUTO, MODE_CLI, buttons_module, xlwings_modules
from .vba import Module, build_vba_project

CONSOLE = CONSOLE_NAME
CONSOLE_FREE = "汇总控制台.xlsx"  # no macros: xlwings' own add-in runs 汇总控制台.py's main()
CONSOLE_MODULE = "汇总控制台.py"
ADDIN = "huizong.xlam"
VIEW_SHEETS = ("上报情况", "排名", "问题清单")
PERIOD_CELL = "B3"
# The period's data validation: empty, or yyyy-mm with a month 1..12 and a year 2000..2100.
PERIOD_RULE = ('=IF(B3="",TRUE,IFERROR(AND(LEN(B3)=7,MID(B3,5,1)="-",ISNUMBER(-LEFT(B3,4)),ISNUMBER(-RIGHT(B3,2)),'
               'ISERROR(FIND(".",B3)),--LEFT(B3,4)>=2000,--LEFT(B3,4)<=2100,--RIGHT(B3,2)>=1,--RIGHT(B3,2)<=12),FALSE))')


def _layout(wb: xlsxwriter.Workbook, ws: Workspace, period: Month, macros: bool) -> None:
    title = wb.add_format({"font_name": "黑体", "font_size": 18})
    label = wb.add_format({"font_name": "宋体", "font_size": 11, "align": "right"})
    value = wb.add_format({"font_name": "宋体", "font_size": 11, "bold": True, "bg_color": "#FFF9DB", "border": 1, "locked": False,
                           "num_format": "@"})
    plain = wb.add_format({"font_name": "宋体", "font_size": 11, "num_format": "@"})
    status = wb.add_format({"font_name": "宋体", "font_size": 11, "bg_color": "#EDEDED", "border": 1, "text_wrap": True, "valign": "top",
                            "num_format": "@"})
    note = wb.add_format({"font_name": "宋体", "font_size": 9, "font_color": "#595959", "text_wrap": True, "valign": "top"})
    sheet = wb.add_worksheet("控制台")
    sheet.set_vba_name("Sheet1")
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 44)
    sheet.set_column(2, 4, 14)
    sheet.write_string(0, 0, f"{ws.township}月报汇总控制台", title)
    sheet.write_string(2, 0, "报告期：", label)
    sheet.write_string(2, 1, str(period), value)
    sheet.data_validation(PERIOD_CELL, {
        "validate": "custom", "value": PERIOD_RULE, "ignore_blank": True,
        "input_title": "报告期", "input_message": "填写要处理的月份，如 2026-10；空着则用最近有报表的月份。",
        "error_title": "报告期", "error_message": "应为 2026-10 这样的年月（四位年份、短横线、两位月份）。"})
    sheet.write_string(3, 0, "工作目录：", label)
    sheet.write_string(3, 1, str(ws.root), value)
    names = {"hz_period": (2, 1), "hz_workspace": (3, 1), "hz_python": (5, 1), "hz_port": (6, 1), "hz_status": (8, 1)}
    if macros:
        sheet.write_string(4, 0, "运行方式：", label)
        sheet.write_string(4, 1, MODE_AUTO, value)
        sheet.data_validation(4, 1, 4, 1, {"validate": "list", "source": [MODE_AUTO, MODE_CLI], "input_title": "运行方式",
                                           "input_message": "自动：汇总服务在运行就用它，否则用 xlwings，都不行再用命令行；命令行：总是弹出窗口运行 huizong。"})
        names["hz_mode"] = (4, 1)
    else:
        sheet.write_string(4, 0, "操作：", label)
        sheet.write_string(4, 1, ACTIONS[2].label, value)
        sheet.data_validation(4, 1, 4, 1, {"validate": "list", "source": [a.label for a in ACTIONS], "input_title": "操作",
                                           "input_message": "选好操作，再点 xlwings 选项卡上的“Run main”。"})
        names["hz_action"] = (4, 1)
    sheet.write_string(5, 0, "Python：", label)
    sheet.write_string(5, 1, interpreter(windowless=False), plain)
    sheet.write_string(6, 0, "服务端口：", label)
    sheet.write_number(6, 1, port_for(ws.settings, None), wb.add_format({"font_name": "宋体", "font_size": 11, "align": "left"}))
    sheet.write_string(7, 0, "上次途径：", label)
    sheet.write_string(7, 1, "", plain)
    names["hz_route"] = (7, 1)
    sheet.write_string(8, 0, "处理结果：", label)
    sheet.merge_range(8, 1, 10, 4, "（点击下面的按钮）" if macros else "（选好操作，点 xlwings 选项卡上的 Run main）", status)
    if macros:
        for i, action in enumerate(ACTIONS):
            row, col = 12 + (i // 4) * 3, (i % 4)
            sheet.insert_button(row, col, {"macro": action.macro, "caption": action.label, "width": 110, "height": 36})
        how = ("使用方法：填写报告期，依次点“收取邮件”“汇总排名”，再打印汇总表。各按钮的结果写入“上报情况”“排名”“问题清单”工作表，"
               "“上次途径”说明按钮是经汇总服务、xlwings 还是命令行运行的。第一次使用请在 Excel 中“启用内容”（启用宏），或把本文件放在受信任位置。")
    else:
        how = ("使用方法（不含宏）：先装好 xlwings 的官方加载项（命令行运行 xlwings addin install），本文件与“汇总控制台.py”放在同一文件夹。"
               "填写报告期、选择操作，点功能区 xlwings 选项卡上的“Run main”。结果写入“上报情况”“排名”“问题清单”工作表。")
    sheet.merge_range(19, 0, 22, 4, how, note)
    for name, (r, c) in names.items():
        wb.define_name(name, f"='控制台'!${col_letter(c)}${r + 1}")
    for i, name in enumerate(VIEW_SHEETS, start=2):
        view = wb.add_worksheet(name)
        view.set_vba_name(f"Sheet{i}")
        view.write_string(0, 0, f"{name}（点击控制台的按钮后写入）", plain)
    conf = wb.add_worksheet("xlwings.conf")  # exactly this name: xlwings ignores "_xlwings.conf"
    conf.set_vba_name(f"Sheet{len(VIEW_SHEETS) + 2}")
    for r, (k, v) in enumerate([("Interpreter_Win", interpreter()), ("Interpreter_Mac", interpreter()),
                                ("PYTHONPATH", ""), ("Show Console", "False")]):
        conf.write_string(r, 0, k)
        conf.write_string(r, 1, v)
    conf.hide()
    sheet.activate()


def build_console(ws: Workspace, period: Month) -> bytes:
    """汇总控制台.xlsm with ``period`` filled in (the clerk may type any other)."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_vba_name("ThisWorkbook")
    _layout(wb, ws, period, macros=True)
    documents = [Module("ThisWorkbook", "", kind="document")] + [
        Module(f"Sheet{i}", "", kind="document") for i in range(1, len(VIEW_SHEETS) + 3)
    ]
    project = build_vba_project(documents + xlwings_modules() + [buttons_module()], project_name="Huizong")
    wb.add_vba_project(io.BytesIO(project), is_stream=True)
    wb.close()
    return buf.getvalue()


def build_macro_free_console(ws: Workspace, period: Month) -> bytes:
    """汇总控制台.xlsx: the same sheets without any macro; 汇总控制台.py's main() runs the chosen 操作."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    _layout(wb, ws, period, macros=False)
    wb.close()
    return buf.getvalue()


CONSOLE_SCRIPT = '''"""汇总控制台.py：由 huizong excel-console --no-macros 生成，与“汇总控制台.xlsx”放在同一文件夹。

在 Excel 中打开 汇总控制台.xlsx，选好“操作”，点功能区 xlwings 选项卡上的“Run main”：xlwings 的官方加载项
运行这里的 main()，由 huizong 执行所选操作并把结果写回工作簿。工作簿里不需要任何宏。
"""

from pipeline.excel.glue import main as _run


def main():
    _run()
'''


def write_console(ws: Workspace, period: Month, macro_free: bool = False) -> list[Path]:
    """Write the console (with macros), or the macro-free console and its Python module; the paths written."""
    if not macro_free:
        path = ws.root / CONSOLE
        atomic_write(path, build_console(ws, period))
        return [path]
    book, module = ws.root / CONSOLE_FREE, ws.root / CONSOLE_MODULE
    atomic_write(book, build_macro_free_console(ws, period))
    atomic_write(module, CONSOLE_SCRIPT.encode("utf-8"))
    return [book, module]


RIBBON = """<customUI xmlns="http://schemas.microsoft.com/office/2009/07/customui">
  <ribbon>
    <tabs>
      <tab id="huizongTab" label="汇总">
        <group id="huizongGroup" label="月报汇总">
{buttons}
        </group>
      </tab>
    </tabs>
  </ribbon>
</customUI>
"""


def ribbon_xml() -> str:
    lines = [f'          <button id="b{a.macro}" label="{a.label}" size="large" onAction="Ribbon{a.macro}" imageMso="{a.icon}"/>'
             for a in ACTIONS]
    return RIBBON.format(buttons="\n".join(lines))


def build_addin(ws: Workspace, period: Month) -> bytes:
    """The console's macros as an add-in (.xlam) with a ribbon tab 汇总 (customUI). The buttons act on the
    active console workbook (its period), or open this workspace's console when none is active.

    What makes it an add-in is the workbook part's content type alone: ``workbookPr`` has no such
    attribute in the schema (an add-in saved by Excel carries none), and an unknown one is a fault."""
    data = build_console(ws, period)
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "[Content_Types].xml":
                body = body.replace(b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                                    b"application/vnd.ms-excel.addin.macroEnabled.main+xml")
            elif item.filename == "_rels/.rels":
                body = re.sub(rb"</Relationships>\s*$",
                              b'<Relationship Id="rIdHuizongUI" Type="http://schemas.microsoft.com/office/2007/relationships/ui/extensibility" '
                              b'Target="customUI/customUI14.xml"/></Relationships>', body)
            z.writestr(item, body)
        z.writestr("customUI/customUI14.xml", ribbon_xml().encode("utf-8"))
    return out.getvalue()
