"""The Excel console (.xlsm) and add-in (.xlam): VBA inspected with oletools, opened by LibreOffice,
and the Python glue driven end to end through a STAND-IN for the part of xlwings' Book API it
uses — desktop Excel (and so xlwings' COM connection to it) cannot run here — writing into a real
workbook file whose contents are then checked."""

from __future__ import annotations

import io
import re
import sys
import zipfile

import openpyxl
import pytest
from openpyxl.styles import PatternFill

from pipeline import api
from pipeline.excel import glue
from pipeline.excel.console import build_addin, build_console, ribbon_xml
from pipeline.excel.macros import BUTTONS
from pipeline.programme.periods import Month

from . import lo
from .conftest import filled

oletools = pytest.importorskip("oletools.olevba")


def modules_of(data: bytes, name: str = "c.xlsm") -> dict[str, str]:
    parser = oletools.VBA_Parser(name, data=data)
    return {stream.rsplit("/", 1)[-1]: code for (_f, stream, _n, code) in parser.extract_macros()}


@pytest.fixture
def console(ctx):
    return ctx, build_console(ctx.workspace, Month(2026, 11))


def test_console_vba_runs_python_and_falls_back_to_the_command_line(console):
    ctx, data = console
    mods = modules_of(data)
    assert {"ThisWorkbook", "xlwings", "Dictionary", "HuizongButtons"} <= set(mods)
    buttons = mods["HuizongButtons"]
    assert 'RunPython "import pipeline.excel.glue as g; g." & glue & "()"' in buttons
    assert "RunCommandLine cli" in buttons and "-m pipeline" in buttons
    assert "Public Function RunPython" in mods["xlwings"]
    for macro, _caption, glue_name, cli in BUTTONS:
        assert re.search(rf"Sub {macro}\(\)\s+Act \"{glue_name}\", \"{cli}\"", buttons), macro
        assert hasattr(glue, glue_name)


def test_console_buttons_call_macros_that_exist_and_xlwings_conf_is_active(console):
    ctx, data = console
    z = zipfile.ZipFile(io.BytesIO(data))
    vml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".vml"))
    called = set(re.findall(r"<x:FmlaMacro>\[0\]!(\w+)</x:FmlaMacro>", vml)) or set(re.findall(r"<x:FmlaMacro>(\w+)</x:FmlaMacro>", vml))
    assert called == {b[0] for b in BUTTONS}
    subs = set(re.findall(r"^Sub (\w+)\(", modules_of(data)["HuizongButtons"], re.M))
    assert called <= subs
    wb = openpyxl.load_workbook(io.BytesIO(data), keep_vba=True)
    assert "xlwings.conf" in wb.sheetnames  # exactly this name: xlwings ignores "_xlwings.conf"
    conf = {r[0].value: r[1].value for r in wb["xlwings.conf"].iter_rows()}
    assert conf["Interpreter_Win"] and conf["Interpreter_Win"].startswith(sys.exec_prefix.split("/.venv")[0][:1])
    assert {"控制台", "上报情况", "排名", "问题清单"} <= set(wb.sheetnames)
    names = {n: wb.defined_names[n].attr_text for n in ("hz_period", "hz_workspace", "hz_status", "hz_mode")}
    assert all("控制台" in v for v in names.values())
    assert wb["控制台"]["B4"].value == str(ctx.workspace.root)


def test_addin_ribbon_callbacks_exist_and_it_is_an_addin(console):
    ctx, _ = console
    data = build_addin(ctx.workspace, Month(2026, 11))
    z = zipfile.ZipFile(io.BytesIO(data))
    assert b"addin.macroEnabled.main+xml" in z.read("[Content_Types].xml")
    assert b"customUI/customUI14.xml" in z.read("_rels/.rels")
    ribbon = z.read("customUI/customUI14.xml").decode("utf-8")
    assert ribbon == ribbon_xml() and 'label="汇总"' in ribbon
    callbacks = set(re.findall(r'onAction="(\w+)"', ribbon))
    subs = set(re.findall(r"^Sub (\w+)\(control As Object\)", modules_of(data, "a.xlam")["HuizongButtons"], re.M))
    assert callbacks and callbacks <= subs


@pytest.mark.libreoffice
def test_libreoffice_opens_the_console_and_imports_its_macros(console, tmp_path):
    lo.require()
    _, data = console
    src = tmp_path / "汇总控制台.xlsm"
    src.write_bytes(data)
    ods = lo.convert(src, "ods", tmp_path / "out")
    with zipfile.ZipFile(ods) as z:
        basic = [n for n in z.namelist() if n.startswith("Basic/")]
        text = "".join(z.read(n).decode("utf-8", "replace") for n in basic)
    assert any("HuizongButtons" in n for n in basic)
    assert "RunPython" in text


# ---- the glue, against a stand-in for xlwings' Book, writing into a real workbook file ------------

class _Range:
    def __init__(self, ws, cell):
        self.ws, self.cell = ws, cell
        self.font = self

    @property
    def value(self):
        return self.cell.value

    @value.setter
    def value(self, v):
        self.cell.value = v

    @property
    def bold(self):
        return bool(self.cell.font.b)

    @bold.setter
    def bold(self, flag):
        self.cell.font = openpyxl.styles.Font(bold=flag)

    @property
    def color(self):
        return self.cell.fill.fgColor.rgb

    @color.setter
    def color(self, rgb):
        self.cell.fill = PatternFill("solid", fgColor="".join(f"{x:02X}" for x in rgb))


class _Sheet:
    def __init__(self, ws):
        self.ws = ws
        self.name = ws.title

    def clear(self):
        for row in self.ws.iter_rows():
            for c in row:
                c.value = None

    def range(self, rc):
        return _Range(self.ws, self.ws.cell(row=rc[0], column=rc[1]))


class _Sheets:
    def __init__(self, wb):
        self.wb = wb

    def __iter__(self):
        return iter(_Sheet(ws) for ws in self.wb.worksheets)

    def __getitem__(self, name):
        return _Sheet(self.wb[name])

    def add(self, name, after=None):
        return _Sheet(self.wb.create_sheet(name))


class _Name:
    def __init__(self, wb, name):
        sheet, ref = next(iter(wb.defined_names[name].destinations))
        self.refers_to_range = _Range(wb[sheet], wb[sheet][ref.replace("$", "")])


class StandInBook:
    """What glue.py uses of xlwings.Book, backed by an openpyxl workbook (saved to a real file)."""

    def __init__(self, wb, name="汇总控制台.xlsm"):
        self.wb, self.name = wb, name
        self.sheets = _Sheets(wb)
        self.names = {n: _Name(wb, n) for n in ("hz_period", "hz_workspace", "hz_status", "hz_mode", "hz_python")}


def test_glue_collect_validate_consolidate_write_back_into_the_workbook(console, tmp_path):
    ctx, data = console
    for i in range(5):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i, births_total="十二") if i == 2 else filled(ctx, i))
    wb = openpyxl.load_workbook(io.BytesIO(data), keep_vba=True)
    wb["控制台"]["B3"] = "2026-10"
    book = StandInBook(wb)
    line = glue.run("collect", book)
    assert line.startswith("已收取 5 份，通过 4 份，退回 1 份")
    assert glue.run("validate", book).startswith("2026年10月：共")
    assert glue.run("consolidate", book).startswith("已汇总排名：4 个参评")
    path = tmp_path / "控制台-写回后.xlsm"
    wb.save(path)
    saved = openpyxl.load_workbook(path, keep_vba=True)
    assert saved["控制台"]["B8"].value.startswith("已汇总排名")
    status = [[c.value for c in r] for r in saved["上报情况"].iter_rows(min_row=4) if r[1].value]
    assert {r[2] for r in status} >= {"已报", "退回", "未报"}
    assert saved["上报情况"]["C4"].fill.fgColor.rgb.endswith("C6EFCE")  # 已报 painted green
    problems = [[c.value for c in r] for r in saved["问题清单"].iter_rows(min_row=4) if r[0].value]
    assert any(r[4] == "V007" and r[6] == "D8" for r in problems)
    ranking = [[c.value for c in r] for r in saved["排名"].iter_rows(min_row=4) if r[0].value]
    assert ranking[0][0] == 1 and len([r for r in ranking if isinstance(r[0], int)]) == 4
    assert api.status(ctx, Month(2026, 10))[0].state == "已报"


def test_glue_shows_errors_as_a_message_not_a_traceback(console):
    _, data = console
    wb = openpyxl.load_workbook(io.BytesIO(data), keep_vba=True)
    wb["控制台"]["B4"] = "/nonexistent/workspace"
    book = StandInBook(wb)
    line = glue.run("collect", book)
    assert "不是汇总工作目录" in line and "Traceback" not in line
    assert wb["控制台"]["B8"].value == line
    wb["控制台"]["B4"] = str(console[0].workspace.root)
    wb["控制台"]["B3"] = "二〇二六年十月"
    assert "格式不对" in glue.run("consolidate", book)
