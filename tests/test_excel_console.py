"""The Excel console (.xlsm), its macro-free twin (.xlsx + .py) and the add-in (.xlam): VBA inspected
with oletools, opened by LibreOffice, and the Python glue driven end to end through a STAND-IN for
the part of xlwings' API it uses (tests/standin_xlwings.py) — desktop Excel (and so xlwings' COM
connection to it) cannot run here — writing into real workbook files whose contents are then checked."""

from __future__ import annotations

import io
import re
import sys
import zipfile

import openpyxl
import pytest

from pipeline import actions, api
from pipeline.excel import glue
from pipeline.excel.console import (
    CONSOLE_SCRIPT,
    PERIOD_RULE,
    build_addin,
    build_console,
    build_macro_free_console,
    ribbon_xml,
    write_console,
)
from pipeline.excel.macros import NO_FALLBACK
from pipeline.programme.periods import Month

from . import lo
from . import standin_xlwings as xw
from .conftest import filled

oletools = pytest.importorskip("oletools.olevba")


def modules_of(data: bytes, name: str = "c.xlsm") -> dict[str, str]:
    parser = oletools.VBA_Parser(name, data=data)
    return {stream.rsplit("/", 1)[-1]: code for (_f, stream, _n, code) in parser.extract_macros()}


@pytest.fixture
def console(ctx):
    return ctx, build_console(ctx.workspace, Month(2026, 10))


def test_console_buttons_are_the_registry_and_check_before_and_after_runpython(console):
    ctx, data = console
    mods = modules_of(data)
    assert {"ThisWorkbook", "xlwings", "Dictionary", "HuizongButtons"} <= set(mods)
    buttons = mods["HuizongButtons"]
    assert "rc = RunPython(\"import pipeline.excel.glue as g; g.act('\" & name & \"', \"" in buttons
    assert "If rc = -1 Then" in buttons  # RunPython's failure value is looked at
    assert "FileFound(XlwingsInterpreter())" in buttons  # the interpreter is checked before the call
    assert "Public Function RunPython" in mods["xlwings"]
    for a in actions.ACTIONS:
        confirm = f'"{a.confirm}"' if a.confirm else '""'
        assert re.search(rf'Sub {a.macro}\(\)\s+Act "{a.name}", "{a.label}", {re.escape(confirm)}', buttons), a.macro
    # the messages the VBA shows itself come from the catalogue
    assert "报告期“{value}”格式不对，应为 2026-10 这样的年月。" in buttons
    assert f'Private Const CANCELLED As String = "{actions.CANCELLED}"' in buttons


def test_console_cells_names_and_free_period(console):
    ctx, data = console
    z = zipfile.ZipFile(io.BytesIO(data))
    vml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".vml"))
    called = set(re.findall(r"<x:FmlaMacro>\[0\]!(\w+)</x:FmlaMacro>", vml)) or set(re.findall(r"<x:FmlaMacro>(\w+)</x:FmlaMacro>", vml))
    assert called == {a.macro for a in actions.ACTIONS}
    assert called <= set(re.findall(r"^Sub (\w+)\(", modules_of(data)["HuizongButtons"], re.M))
    wb = openpyxl.load_workbook(io.BytesIO(data), keep_vba=True)
    assert "xlwings.conf" in wb.sheetnames  # exactly this name: xlwings ignores "_xlwings.conf"
    conf = {r[0].value: r[1].value for r in wb["xlwings.conf"].iter_rows()}
    assert conf["Interpreter_Win"] == sys.executable  # pythonw.exe on Windows
    assert {"控制台", "上报情况", "排名", "问题清单"} <= set(wb.sheetnames)
    names = {n: wb.defined_names[n].attr_text for n in ("hz_period", "hz_workspace", "hz_status", "hz_mode", "hz_route", "hz_port")}
    assert all("控制台" in v for v in names.values())
    sheet = wb["控制台"]
    assert sheet["B4"].value == str(ctx.workspace.root)
    assert sheet["B3"].value == "2026-10" and sheet["B3"].number_format == "@"  # text: Excel leaves 2026-10 alone
    rule = next(v for v in sheet.data_validations.dataValidation if v.sqref == "B3")
    assert rule.type == "custom" and rule.sqref == "B3" and "B3" in rule.formula1  # any month, checked by form — no fixed list
    assert rule.formula1 == PERIOD_RULE.lstrip("=")
    assert sheet["B9"].number_format == "@"  # the status area shows text as text


def test_addin_ribbon_callbacks_exist_and_it_is_an_addin(console):
    ctx, _ = console
    data = build_addin(ctx.workspace, Month(2026, 10))
    z = zipfile.ZipFile(io.BytesIO(data))
    assert b"addin.macroEnabled.main+xml" in z.read("[Content_Types].xml")
    assert b"customUI/customUI14.xml" in z.read("_rels/.rels")
    assert b"isAddin" not in z.read("xl/workbook.xml")  # not a workbookPr attribute: Excel would call the file damaged
    ribbon = z.read("customUI/customUI14.xml").decode("utf-8")
    assert ribbon == ribbon_xml() and 'label="汇总"' in ribbon
    callbacks = re.findall(r'onAction="(\w+)"', ribbon)
    assert callbacks == [f"Ribbon{a.macro}" for a in actions.ACTIONS]
    subs = set(re.findall(r"^Sub (\w+)\(control As Object\)", modules_of(data, "a.xlam")["HuizongButtons"], re.M))
    assert set(callbacks) <= subs


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


# ---- the glue, against the stand-in for xlwings, writing into real workbook files ----------------

def test_glue_collect_validate_consolidate_write_back_into_the_workbook(console, tmp_path):
    ctx, data = console
    for i in range(5):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i, births_total="十二") if i == 2 else filled(ctx, i))
    book = xw.load(data)
    text = glue.run("collect", book)
    assert text.startswith("已收取 5 份，通过 4 份，退回 1 份")
    (ctx.workspace.inbox / "late.xlsx").write_bytes(filled(ctx, 6, births_total="=1+1"))
    text = glue.run("validate", book)
    assert text == "校验收件箱中的 1 个文件：通过 0 个，有错误 1 个；2026年10月已登记的问题 1 处。"
    assert glue.run("consolidate", book).startswith("已汇总排名：4 个参评")
    path = tmp_path / "控制台-写回后.xlsm"
    book.wb.save(path)
    saved = openpyxl.load_workbook(path, keep_vba=True)
    assert saved["控制台"]["B9"].value.startswith("已汇总排名")
    assert saved["控制台"]["B8"].value == "xlwings"  # 上次途径
    status = [[c.value for c in r] for r in saved["上报情况"].iter_rows(min_row=4) if r[1].value]
    assert {r[2] for r in status} >= {"已报", "退回", "未报"}
    assert saved["上报情况"]["C4"].fill.fgColor.rgb.endswith("C6EFCE")  # 已报 painted green
    problems = [[c.value for c in r] for r in saved["问题清单"].iter_rows(min_row=4) if r[0].value]
    assert any(r[4] == "V007" and r[6] == "D8" for r in problems)
    assert any(r[1] == "late.xlsx" and r[2] == "收件箱中（未收取）" for r in problems)  # 校验 checked the waiting file
    ranking = [[c.value for c in r] for r in saved["排名"].iter_rows(min_row=4) if r[0].value]
    assert ranking[0][0] == 1 and len([r for r in ranking if isinstance(r[0], int)]) == 4
    assert api.status(ctx, Month(2026, 10))[0].state == "已报"
    assert (ctx.workspace.inbox / "late.xlsx").exists()  # 校验 records and moves nothing
    assert xw.formulas(path) == []


def test_glue_shows_errors_as_a_message_not_a_traceback(console):
    ctx, data = console
    book = xw.load(data)
    book.wb["控制台"]["B4"] = "/nonexistent/workspace"
    text = glue.run("collect", book)
    assert "不是汇总工作目录" in text and "Traceback" not in text
    assert book.wb["控制台"]["B9"].value == text
    book.wb["控制台"]["B4"] = str(ctx.workspace.root)
    book.wb["控制台"]["B3"] = "二〇二六年十月"
    assert glue.run("consolidate", book) == "报告期“二〇二六年十月”格式不对，应为 2026-10 这样的年月。"
    book.wb["控制台"]["B3"] = "2026-10"
    assert glue.run("remind", book) == "这个操作要先经确认才能进行：将给2026年10月未报和被退回的村发送催报邮件，确定吗？"


def test_a_month_after_the_build_can_be_chosen_and_acted_on(console, tmp_path):
    ctx, data = console  # built with 2026-10 filled in
    later = Month(2027, 3)
    for i in range(3):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i, period=later))
    book = xw.load(data)
    book.wb["控制台"]["B3"] = str(later)
    assert glue.run("collect", book).startswith("已收取 3 份，通过 3 份")
    assert glue.run("consolidate", book).startswith("已汇总排名：3 个参评，汇总表 2027-03-汇总排名.xlsx")
    assert book.wb["排名"]["A1"].value == "2027年3月 排名"
    # an empty period means the latest month with reports, and the console then shows it
    book.wb["控制台"]["B3"] = None
    assert glue.run("validate", book).endswith("2027年3月已登记的问题 0 处。")
    assert book.wb["控制台"]["B3"].value == "2027-03"


def _as_workbook(addin: bytes) -> bytes:
    """The add-in's parts under a workbook's content type: openpyxl (the stand-in's storage) opens no .xlam."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(addin)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "[Content_Types].xml":
                body = body.replace(b"addin.macroEnabled.main+xml", b"sheet.macroEnabled.main+xml")
            dst.writestr(item, body)
    return out.getvalue()


def test_the_addin_acts_on_the_active_console_and_its_period(ctx, tmp_path):
    later = Month(2027, 1)
    for i in range(2):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i, period=later))
    app = xw.App()
    addin = xw.load(_as_workbook(build_addin(ctx.workspace, Month(2026, 10))), name="huizong.xlam", app=app)  # its own period: 2026-10
    active = xw.load(build_console(ctx.workspace, Month(2026, 10)), app=app)
    active.wb["控制台"]["B3"] = "2027-01"
    app.books.active = active
    assert glue.run("collect", addin).startswith("已收取 2 份")
    assert glue.run("consolidate", addin).startswith("已汇总排名：2 个参评，汇总表 2027-01-汇总排名.xlsx")
    assert active.wb["排名"]["A1"].value == "2027年1月 排名"
    assert active.wb["控制台"]["B9"].value.startswith("已汇总排名")
    assert addin.wb["排名"]["A1"].value != "2027年1月 排名"  # nothing written into the add-in itself
    # no console active: the add-in opens this workspace's console and acts on it
    app.books.active = None
    path = write_console(ctx.workspace, later)[0]
    opened = xw.load(path.read_bytes(), app=app, fullname=str(path))
    assert glue.run("open-summary", addin) == "已打开 2027-01-汇总排名.xlsx"
    assert app.books.opened == [str(path), str(ctx.workspace.summary_path(later))]
    assert opened.wb["控制台"]["B9"].value == "已打开 2027-01-汇总排名.xlsx"


def test_the_macro_free_console_runs_the_chosen_action_through_main(ctx, tmp_path):
    for i in range(3):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    paths = write_console(ctx.workspace, Month(2026, 10), macro_free=True)
    assert [p.name for p in paths] == ["汇总控制台.xlsx", "汇总控制台.py"]
    with zipfile.ZipFile(paths[0]) as z:
        assert not any("vba" in n.lower() for n in z.namelist())  # no macros at all
    assert paths[1].read_text(encoding="utf-8") == CONSOLE_SCRIPT
    namespace: dict[str, object] = {}
    exec(compile(CONSOLE_SCRIPT, str(paths[1]), "exec"), namespace)  # what xlwings' Run main imports
    assert callable(namespace["main"])
    book = xw.load(build_macro_free_console(ctx.workspace, Month(2026, 10)), name="汇总控制台.xlsx", app=xw.App(answer="cancel"))
    rule = next(v for v in book.wb["控制台"].data_validations.dataValidation if v.sqref == "B5")
    assert rule.formula1 == '"' + ",".join(a.label for a in actions.ACTIONS) + '"'
    assert book.wb["控制台"]["B5"].value == "收取邮件"
    assert glue.main(book).startswith("已收取 3 份")
    book.wb["控制台"]["B5"] = "汇总排名"
    assert glue.main(book).startswith("已汇总排名：3 个参评")
    book.wb["控制台"]["B5"] = "催报"  # asks first; the clerk says No
    assert glue.main(book) == "已取消。"
    assert book.app.alerts == ["将给2026年10月未报和被退回的村发送催报邮件，确定吗？"]
    book.wb["控制台"]["B5"] = "格式化硬盘"
    assert glue.main(book).startswith("汇总服务没有操作“格式化硬盘”")


# ---- RunPython's -1 must mean "nothing ran" ----------------------------------------------------------
# xlwings' RunPython returns -1 whenever the Python it started exits non-zero, and the console's VBA then
# runs the action again on the command line. glue.act is what RunPython runs; an exception leaving it is
# that non-zero exit. xlwings.Book.caller() needs a running Excel (COM), so it is the one thing replaced.

def test_act_returns_normally_when_the_status_cannot_be_written_after_the_action_ran(console, monkeypatch):
    ctx, data = console
    for i in range(3):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    book = xw.load(data)
    del book.wb.defined_names["hz_status"]  # the status write at the end fails (as when Excel is busy)
    monkeypatch.setattr(glue, "_caller", lambda: book)
    assert glue.act("collect", False) is None  # no exception: Python would exit 0, RunPython would not say -1
    assert sorted(p.name for p in ctx.workspace.inbox.iterdir() if p.is_file()) == []  # the action did run, once
    assert [s.state for s in api.status(ctx, Month(2026, 10))].count("已报") == 3
    assert book.wb["上报情况"]["A1"].value == "2026年10月 上报情况"
    log = (ctx.workspace.root / ".huizong" / "excel.log").read_text(encoding="utf-8")
    assert "KeyError" in log and "hz_status" in log


def test_act_returns_normally_when_excel_does_not_answer(console, monkeypatch):
    def no_caller():
        raise RuntimeError("(-2147418111, 'Call was rejected by callee.')")

    monkeypatch.setattr(glue, "_caller", no_caller)
    assert glue.act("remind", True) is None


def test_a_failed_runpython_reruns_only_actions_that_cannot_mail_twice(console):
    _, data = console
    buttons = modules_of(data)["HuizongButtons"]
    assert set(NO_FALLBACK) == {"send-templates", "remind"} <= {a.name for a in actions.ACTIONS}
    assert f'Private Const NO_FALLBACK As String = "{"|".join(NO_FALLBACK)}"' in buttons
    fallback = re.search(r"If rc = -1 Then\s+If FallsBack\(name\) Then\s+way = ROUTE_CLI\s+PaintText wb, RunCommandLine\(wb, name, period, confirmed\)"
                         r"\s+Else\s+Say wb, Replace\(MAIL_NOT_RETRIED, \"\{detail\}\", label\)\s+End If\s+End If", buttons)
    assert fallback, "after -1 the command line runs only where FallsBack says so; else the clerk is told"


def test_a_console_made_by_an_earlier_version_still_works(console, monkeypatch):
    """Consoles and add-ins made by earlier versions call g.collect(), g.remind()… (one function per button).
    After an upgrade every button showed xlwings' traceback box (no such attribute). They run the action now,
    and an action that mails asks first, since those consoles did not ask."""
    ctx, data = console
    for i in range(2):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    book = xw.load(data, app=xw.App(answer="cancel"))
    monkeypatch.setattr(glue, "_caller", lambda: book)
    assert glue.collect() is None
    assert [s.state for s in api.status(ctx, Month(2026, 10))].count("已报") == 2
    glue.consolidate()
    assert ctx.workspace.summary_path(Month(2026, 10)).is_file()
    glue.remind()  # the clerk says No: nothing is sent
    assert book.app.alerts == ["将给2026年10月未报和被退回的村发送催报邮件，确定吗？"]
    assert book.wb["控制台"][book.wb.defined_names["hz_status"].attr_text.split("!")[1].replace("$", "")].value == "已取消。"
    assert {f.__name__ for f in (glue.templates, glue.send_templates, glue.validate, glue.open_summary)} == {
        "templates", "send_templates", "validate", "open_summary"}


def test_a_full_disk_under_the_button_is_said_as_such(console, monkeypatch):
    """The Excel button said 程序内部错误 for a full disk (the command line said 磁盘已满, X011)."""
    ctx, data = console
    book = xw.load(data)
    monkeypatch.setattr(glue, "_caller", lambda: book)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(ctx.workspace.root / "reports" / "x.xlsx"))

    monkeypatch.setattr(glue.actions, "perform", full)
    text = glue.run("collect", book)
    assert "磁盘" in text or "空间" in text, text
    assert "程序内部错误" not in text
