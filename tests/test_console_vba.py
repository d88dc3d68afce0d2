"""The console's generated VBA run by a real spreadsheet program: LibreOffice (its VBA support) loads
an .xlsm holding the production module HuizongButtons, runs its functions, and paints an outcome
with PaintText. Desktop Excel cannot run here; what only Excel can do (MsgBox, WScript.Shell, MSXML,
RunPython itself) is left to docs/验收清单.md.

What is shown: with no interpreter (and no service) a button takes the command line; the command
line the VBA builds — every argument quoted — really runs ``huizong button`` for a workspace whose
path has spaces, Chinese and an ampersand; its outcome, painted by the VBA, is text (no formula from
hostile village values) in the right sheets; a period of a month long after the console was made
passes the VBA's own check and the console's data validation (evaluated by LibreOffice).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import xlsxwriter

from pipeline import actions, api
from pipeline.excel.console import PERIOD_RULE, _layout
from pipeline.excel.macros import buttons_module
from pipeline.excel.vba import Module, build_vba_project
from pipeline.programme.periods import Month

from . import lo
from . import standin_xlwings as xw
from .conftest import filled

pytestmark = lo.needs_soffice

# A test module beside the production one: it calls the production functions from VBA, as the buttons
# do, for the calls listed in a file (function, then its arguments; "b:" marks a Boolean), one result a
# line; and it hands PaintText this workbook and a file's text.
TEST_MODULE = Module("HzTest", '''Option Explicit

Private Function ReadFile(path As String) As String
    Dim sfa As Object, stream As Object, text As String
    sfa = createUnoService("com.sun.star.ucb.SimpleFileAccess")
    stream = createUnoService("com.sun.star.io.TextInputStream")
    stream.setInputStream(sfa.openFileRead(ConvertToURL(path)))
    stream.setEncoding("UTF-8")
    Do While Not stream.isEOF()
        text = text & stream.readLine() & vbLf
    Loop
    stream.closeInput()
    ReadFile = text
End Function

Private Function B(v As String) As Boolean
    B = (v = "b:true")
End Function

Public Function RunCalls(path As String) As String
    Dim lines() As String, f() As String, i As Long, r As String, out As String
    lines = Split(ReadFile(path), vbLf)
    For i = 0 To UBound(lines)
        If lines(i) <> "" Then
            f = Split(lines(i), vbTab)
            Select Case f(0)
                Case "Route": r = Route(f(1), B(f(2)), B(f(3)))
                Case "IsPeriod": r = CStr(IsPeriod(f(1)))
                Case "PeriodText": r = PeriodText(f(1))
                Case "SafeForCommandLine": r = CStr(SafeForCommandLine(f(1)))
                Case "CommandLine": r = CommandLine(f(1), f(2), f(3), f(4), f(5), B(f(6)))
                Case "JobBody": r = JobBody(f(1), B(f(2)))
                Case "FallsBack": r = CStr(FallsBack(f(1)))
                Case "Unescape": r = Replace(Replace(Unescape(f(1)), vbLf, "<LF>"), vbTab, "<TAB>")
                Case "Paint": PaintText ThisWorkbook, ReadFile(f(1)): r = "painted"
                Case Else: r = "unknown " & f(0)
            End Select
            out = out & r & vbLf
        End If
    Next i
    RunCalls = out
End Function
''')

# The driver (StarBasic, in the throw-away profile): load the document with macros allowed, run
# HzTest.RunCalls for the calls file, write its results, then save the document as .xlsx.
DRIVER = """Function ReadAll(path)
  sfa = createUnoService("com.sun.star.ucb.SimpleFileAccess")
  stream = createUnoService("com.sun.star.io.TextInputStream")
  stream.setInputStream(sfa.openFileRead(ConvertToURL(path)))
  stream.setEncoding("UTF-8")
  out = ""
  Do While Not stream.isEOF()
    out = out & stream.readLine() & Chr(10)
  Loop
  stream.closeInput()
  ReadAll = out
End Function

Sub WriteAll(path, text)
  sfa = createUnoService("com.sun.star.ucb.SimpleFileAccess")
  If sfa.exists(ConvertToURL(path)) Then sfa.kill(ConvertToURL(path))
  stream = createUnoService("com.sun.star.io.TextOutputStream")
  stream.setOutputStream(sfa.openFileWrite(ConvertToURL(path)))
  stream.setEncoding("UTF-8")
  stream.writeString(text)
  stream.closeOutput()
End Sub

Sub RunCalls(src, callsPath, outPath, xlsxUrl, logPath)
  On Error Goto Failed
  Dim args(1) As New com.sun.star.beans.PropertyValue
  args(0).Name = "Hidden" : args(0).Value = True
  args(1).Name = "MacroExecutionMode" : args(1).Value = 4
  doc = StarDesktop.loadComponentFromURL(src, "_blank", 0, args())
  Dim outIdx(), outArgs()
  url = "vnd.sun.star.script:Huizong.HzTest.RunCalls?language=Basic&location=document"
  results = doc.getScriptProvider().getScript(url).invoke(Array(callsPath), outIdx, outArgs)
  WriteAll(outPath, results)
  Dim st(0) As New com.sun.star.beans.PropertyValue
  st(0).Name = "FilterName" : st(0).Value = "Calc MS Excel 2007 XML"
  doc.storeToURL(xlsxUrl, st())
  doc.close(True)
  WriteLog(logPath, "ok")
  StarDesktop.terminate()
  Exit Sub
Failed:
  WriteLog(logPath, "error " & Err & " at line " & Erl & ": " & Error$)
  StarDesktop.terminate()
End Sub

""" + lo.BASIC_WRITELOG


def console_with_test_module(ws: api.Workspace, period: Month, path: Path) -> Path:
    """The console's sheets and names (as excel-console writes them) with the production VBA and the test module."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    wb.set_vba_name("ThisWorkbook")
    _layout(wb, ws, period, macros=True)
    documents = [Module("ThisWorkbook", "", kind="document")] + [Module(f"Sheet{i}", "", kind="document") for i in range(1, 6)]
    project = build_vba_project(documents + [buttons_module(), TEST_MODULE], project_name="Huizong")
    wb.add_vba_project(io.BytesIO(project), is_stream=True)
    wb.close()
    return path


def run_calls(doc: Path, calls: list[list[str]], work: Path) -> tuple[list[str], Path]:
    """Run ``calls`` (function, arguments…) in ``doc`` with LibreOffice; their results and the saved .xlsx."""
    exe = lo.soffice_path()
    assert exe is not None
    work.mkdir(parents=True, exist_ok=True)
    profile = work / "lo-profile"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    base = [exe, "--headless", "--norestore", "--nologo", "--nolockcheck", f"-env:UserInstallation={profile.as_uri()}"]
    lo.run_soffice([*base, "--terminate_after_init"], env=env)
    std = profile / "user" / "basic" / "Standard"
    assert (std / "script.xlb").is_file(), "LibreOffice did not create its profile"
    (std / "Driver.xba").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument'
        ' 1.0//EN" "module.dtd">\n<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Driver"'
        ' script:language="StarBasic">' + escape(DRIVER, {'"': "&quot;"}) + "</script:module>\n", encoding="utf-8")
    xlb = (std / "script.xlb").read_text(encoding="utf-8")
    (std / "script.xlb").write_text(xlb.replace("</library:library>", ' <library:element library:name="Driver"/>\n</library:library>'),
                                    encoding="utf-8")
    calls_path, out, log, saved = work / "calls.txt", work / "results.txt", work / "driver.log", work / "saved.xlsx"
    calls_path.write_text("".join("\t".join(c) + "\n" for c in calls), encoding="utf-8")
    macro = f'macro:///Standard.Driver.RunCalls("{doc.resolve().as_uri()}","{calls_path}","{out}","{saved.as_uri()}","{log}")'
    done = lo.run_soffice([*base, macro], env=env)
    result = log.read_text(encoding="utf-8").strip() if log.is_file() else "(no log)"
    assert result == "ok", f"macro run failed: {result}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return out.read_text(encoding="utf-8").split("\n")[: len(calls)], saved


def windows_argv(command: str) -> list[str]:
    """Split a command line as Windows' CommandLineToArgvW does (quotes group; \\" is a quote; 2n backslashes
    before a quote are n)."""
    args, cur, i, quoted, started = [], "", 0, False, False
    while i < len(command):
        c = command[i]
        if c == "\\":
            n = len(command[i:]) - len(command[i:].lstrip("\\"))
            if i + n < len(command) and command[i + n] == '"':
                cur += "\\" * (n // 2)
                i += n
                if n % 2:
                    cur += '"'
                    i += 1
                started = True
                continue
            cur += "\\" * n
            i += n
            started = True
            continue
        if c == '"':
            quoted = not quoted
            started = True
        elif c in " \t" and not quoted:
            if started:
                args.append(cur)
            cur, started = "", False
        else:
            cur += c
            started = True
        i += 1
    if started:
        args.append(cur)
    return args


HOSTILE = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/","点我")', "+1+1", "@SUM(A1:A2)"]


def test_the_vba_takes_the_command_line_without_an_interpreter_and_paints_its_outcome_inert(workspace, tmp_path):
    lo.require()
    odd = tmp_path / "工作 目录 & 汇总"  # spaces, Chinese, an ampersand: all must survive the quoting
    shutil.copytree(workspace, odd)
    ctx = api.load_context(odd)
    for i in range(3):
        (odd / "inbox" / f"{i}.xlsx").write_bytes(filled(ctx, i))
    (odd / "inbox" / "=HYPERLINK(1).xlsx").write_bytes(filled(ctx, 3, births_total=HOSTILE[0], deaths_total=HOSTILE[2]))
    later = Month(2026, 10)
    doc = console_with_test_module(ctx.workspace, Month(2026, 9), tmp_path / "console.xlsm")
    outfile = tmp_path / "outcome 结果.txt"
    calls = [
        ["Route", "自动", "b:false", "b:false"],  # no service, no interpreter
        ["Route", "自动", "b:false", "b:true"],
        ["Route", "自动", "b:true", "b:true"],
        ["Route", "命令行", "b:true", "b:true"],
        ["IsPeriod", "2031-03"],  # a month long after the console was made
        ["IsPeriod", "2026-13"],
        ["IsPeriod", "2026-1"],
        ["IsPeriod", '2026-10" & calc & "'],
        ["SafeForCommandLine", str(odd)],
        ["SafeForCommandLine", r"D:\100%汇总"],
        ["CommandLine", sys.executable, "collect", str(odd), str(later), str(outfile), "b:false"],
        ["CommandLine", "", "remind", str(odd), "", str(outfile), "b:true"],
        ["JobBody", "2026-10", "b:true"],
        *[["FallsBack", a.name] for a in actions.ACTIONS],  # after RunPython's -1
    ]
    results, _ = run_calls(doc, calls, tmp_path / "lo1")
    assert results[:4] == ["命令行", "xlwings", "汇总服务", "命令行"]
    assert results[4:8] == ["True", "False", "False", "False"]
    assert results[8:10] == ["True", "False"]
    assert windows_argv(results[11]) == ["huizong", "button", "remind", "-w", str(odd), "--yes", "--out-text", str(outfile)]
    assert results[12] == '{"period": "2026-10", "confirmed": true}'
    # a second run on the command line only for actions that cannot mail the villages twice
    fallback = dict(zip((a.name for a in actions.ACTIONS), results[13:]))
    assert fallback == {a.name: ("False" if a.name in ("send-templates", "remind") else "True") for a in actions.ACTIONS}
    argv = windows_argv(results[10])
    assert argv == [sys.executable, "-m", "pipeline", "button", "collect", "-w", str(odd), "--period", "2026-10", "--out-text", str(outfile)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)  # the fallback, really run
    assert done.returncode == 0, done.stdout + done.stderr
    text = outfile.read_text(encoding="utf-8")
    assert text.startswith(actions.TEXT_MAGIC) and "已收取 4 份" in text
    results, saved = run_calls(doc, [["Paint", str(outfile)]], tmp_path / "lo2")
    wb = openpyxl.load_workbook(saved)
    assert wb["控制台"]["B9"].value.startswith("已收取 4 份，通过 3 份，退回 1 份")
    assert wb["上报情况"]["A1"].value == "2026年10月 上报情况"
    states = [r[2] for r in wb["上报情况"].iter_rows(min_row=4, values_only=True) if r[1]]
    assert states.count("已报") == 3 and "退回" in states
    assert wb["上报情况"]["C4"].fill.fgColor.rgb.endswith("C6EFCE")
    shown = [c.value for row in wb["问题清单"].iter_rows(min_row=4) for c in row if c.value is not None]
    for hostile in (HOSTILE[0], HOSTILE[2], "=HYPERLINK(1).xlsx"):
        assert hostile in shown, hostile  # as the village typed it, as text
    assert xw.formulas(saved) == []


def test_the_period_rule_accepts_any_month_and_refuses_a_wrong_one(tmp_path):
    """The console's data validation formula, evaluated by LibreOffice for a range of entries."""
    lo.require()
    entries = ["2026-10", "2031-03", "2100-12", "", "2026-13", "2026-00", "2026-1", "26-10", "2026/10", "1999-12", "2026-1a", "2026.10"]
    expected = [True, True, True, True, False, False, False, False, False, False, False, False]
    src = tmp_path / "rule.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    sheet = wb.add_worksheet("控制台")
    for r, entry in enumerate(entries):
        sheet.write_string(r, 1, entry)
        sheet.write_formula(r, 2, PERIOD_RULE.replace("B3", f"B{r + 1}"), None, "")
    wb.close()
    out = lo.convert(src, "xlsx:Calc MS Excel 2007 XML", tmp_path / "out")
    got = [row[2] for row in openpyxl.load_workbook(out, data_only=True)["控制台"].iter_rows(values_only=True)]
    assert got == expected
