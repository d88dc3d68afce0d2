"""``huizong excel-console``: the control workbook 汇总控制台.xlsm, and ``excel-addin``: huizong.xlam.

The console has a 控制台 sheet (period drop-down, buttons, status area), the sheets the buttons
write back into (上报情况, 排名, 问题清单) and an active ``xlwings.conf`` sheet naming the Python
that made it, so RunPython finds its interpreter. Macros come from ``macros``; the VBA project is
written by ``vba`` (no Excel needed).
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path

import xlsxwriter

from ..programme.periods import Month
from ..workbook.layout import col_letter
from ..workspace import Workspace, atomic_write
from .macros import BUTTONS, buttons_module, xlwings_modules
from .vba import Module, build_vba_project

CONSOLE = "汇总控制台.xlsm"
ADDIN = "huizong.xlam"
VIEW_SHEETS = ("上报情况", "排名", "问题清单")


def _interpreter() -> str:
    exe = Path(sys.executable)
    if sys.platform == "win32" and exe.name.lower() == "python.exe" and (exe.parent / "pythonw.exe").exists():
        return str(exe.parent / "pythonw.exe")  # no console window flashing up at each click
    return str(exe)


def _months(today: Month, back: int = 24) -> list[str]:
    return [str(today.shift(-i)) for i in range(0, back)]


def build_console(ws: Workspace, today: Month) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_vba_name("ThisWorkbook")
    title = wb.add_format({"font_name": "黑体", "font_size": 18})
    label = wb.add_format({"font_name": "宋体", "font_size": 11, "align": "right"})
    value = wb.add_format({"font_name": "宋体", "font_size": 11, "bold": True, "bg_color": "#FFF9DB", "border": 1, "locked": False})
    plain = wb.add_format({"font_name": "宋体", "font_size": 11})
    status = wb.add_format({"font_name": "宋体", "font_size": 11, "bg_color": "#EDEDED", "border": 1, "text_wrap": True, "valign": "top"})
    note = wb.add_format({"font_name": "宋体", "font_size": 9, "font_color": "#595959", "text_wrap": True, "valign": "top"})
    sheet = wb.add_worksheet("控制台")
    sheet.set_vba_name("Sheet1")
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 44)
    sheet.set_column(2, 4, 14)
    sheet.write_string(0, 0, f"{ws.township}月报汇总控制台", title)
    sheet.write_string(2, 0, "报告期：", label)
    months = _months(today.shift(-1))
    sheet.write_string(2, 1, months[0], value)
    sheet.data_validation(2, 1, 2, 1, {"validate": "list", "source": months, "input_title": "报告期", "input_message": "选择要处理的月份"})
    sheet.write_string(3, 0, "工作目录：", label)
    sheet.write_string(3, 1, str(ws.root), value)
    sheet.write_string(4, 0, "运行方式：", label)
    sheet.write_string(4, 1, "xlwings", value)
    sheet.data_validation(4, 1, 4, 1, {"validate": "list", "source": ["xlwings", "命令行"],
                                       "input_title": "运行方式", "input_message": "xlwings：结果写回本工作簿（Excel）；命令行：弹出窗口运行（WPS 或没有 xlwings 时）"})
    sheet.write_string(5, 0, "Python：", label)
    sheet.write_string(5, 1, _interpreter(), plain)
    sheet.write_string(7, 0, "处理结果：", label)
    sheet.merge_range(7, 1, 9, 4, "（点击下面的按钮）", status)
    for i, (macro, caption, _glue, _cli) in enumerate(BUTTONS):
        row, col = 11 + (i // 4) * 3, (i % 4)
        sheet.insert_button(row, col, {"macro": macro, "caption": caption, "width": 110, "height": 36})
    sheet.merge_range(18, 0, 21, 4, "使用方法：选择报告期，依次点“收取邮件”“汇总排名”，再打印汇总表。各按钮的结果写入“上报情况”“排名”“问题清单”工作表。"
                      "第一次使用请在 Excel 中“启用内容”（启用宏），或把本文件放在受信任位置。", note)
    for name, (r, c) in {"hz_period": (2, 1), "hz_workspace": (3, 1), "hz_mode": (4, 1), "hz_python": (5, 1), "hz_status": (7, 1)}.items():
        wb.define_name(name, f"='控制台'!${col_letter(c)}${r + 1}")
    for i, name in enumerate(VIEW_SHEETS, start=2):
        view = wb.add_worksheet(name)
        view.set_vba_name(f"Sheet{i}")
        view.write_string(0, 0, f"{name}（点击控制台的按钮后写入）", plain)
    conf = wb.add_worksheet("xlwings.conf")
    conf.set_vba_name(f"Sheet{len(VIEW_SHEETS) + 2}")
    for r, (k, v) in enumerate([("Interpreter_Win", _interpreter()), ("Interpreter_Mac", _interpreter()),
                                ("PYTHONPATH", ""), ("Show Console", "False")]):
        conf.write_string(r, 0, k)
        conf.write_string(r, 1, v)
    conf.hide()
    sheet.activate()
    documents = [Module("ThisWorkbook", "", kind="document")] + [
        Module(f"Sheet{i}", "", kind="document") for i in range(1, len(VIEW_SHEETS) + 3)
    ]
    project = build_vba_project(documents + xlwings_modules() + [buttons_module()], project_name="Huizong")
    wb.add_vba_project(io.BytesIO(project), is_stream=True)
    wb.close()
    return buf.getvalue()


def write_console(ws: Workspace, today: Month) -> Path:
    path = ws.root / CONSOLE
    atomic_write(path, build_console(ws, today))
    return path


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
    lines = [f'          <button id="b{macro}" label="{caption}" size="large" onAction="Ribbon{macro}" imageMso="{icon}"/>'
             for (macro, caption, _g, _c), icon in zip(BUTTONS, ["FileNew", "EnvelopesAndLabelsDialog", "GetExternalDataFromText",
                                                                  "ReviewAcceptChange", "SortDialog", "ReminderSound", "FileOpen"])]
    return RIBBON.format(buttons="\n".join(lines))


def build_addin(ws: Workspace, today: Month) -> bytes:
    """The console's macros as an add-in (.xlam) with a ribbon tab 汇总 (customUI), acting on the
    console workbook of this workspace (the buttons' settings are read from it)."""
    data = build_console(ws, today)
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
            elif item.filename == "xl/workbook.xml" and b"isAddin" not in body:
                body = body.replace(b"<workbookPr ", b'<workbookPr isAddin="1" ')
            z.writestr(item, body)
        z.writestr("customUI/customUI14.xml", ribbon_xml().encode("utf-8"))
    return out.getvalue()
