"""The VBA behind the console's buttons, generated from :mod:`pipeline.actions` (one macro per action).

Thin: nothing is computed in VBA. A button takes the first path that can work and writes which one
into the console's 途径 cell:

1. ``huizong serve`` answers on this PC: the action runs there over HTTP (MSXML2.ServerXMLHTTP), no
   program is started — nothing for an antivirus "Office starts a process" rule to block;
2. the Python named in the hidden ``xlwings.conf`` sheet exists: xlwings' RunPython runs
   ``pipeline.excel.glue.act``. RunPython shows its own message box and returns without raising when
   it fails, so the interpreter is checked *before* the call and RunPython's return value (-1 on a
   failure) is checked *after* it; a failure falls through to 3 — except for the actions that mail
   every village (:data:`NO_FALLBACK`): -1 means only "Python exited non-zero", which could come after
   some mails went, so those say so and leave the retry to the clerk (the glue itself never exits
   non-zero once it has started, :func:`pipeline.excel.glue.act`);
3. the command line: ``huizong button <action> -w "…" --period "…" --out-text "…"``, every argument
   in quotes, run by WScript.Shell and waited for.

The service and the command line both answer in the plain-text form of ``actions.outcome_text``,
which ``PaintText`` writes back — text cells with the text number format first, so nothing a village
typed becomes a formula. The period and the messages come from the same registry and catalogue as
every other face.
"""

from __future__ import annotations

from pathlib import Path

from ..actions import ACTIONS, CANCELLED, TEXT_MAGIC
from ..problems import Problem
from ..views import INERT_FORMAT
from .vba import Module

CONSOLE_NAME = "汇总控制台.xlsm"
# Actions that mail every village again each time they run: no automatic second run after RunPython's -1.
# (收取邮件 replies too, but each reply is recorded in the ledger and sent once however often it runs.)
NO_FALLBACK = ("send-templates", "remind")
ROUTE_SERVICE, ROUTE_XLWINGS, ROUTE_CLI = "汇总服务", "xlwings", "命令行"
MODE_AUTO, MODE_CLI = "自动", "命令行"


def _vba_string(text: str) -> str:
    """A VBA string literal for ``text`` (quotes doubled; a constant cannot hold a line break)."""
    if "\n" in text:
        raise ValueError(f"a VBA constant cannot hold a line break: {text!r}")
    return '"' + text.replace('"', '""') + '"'


def _messages() -> str:
    magic, tab = TEXT_MAGIC.split("\t")
    consts = {
        "BAD_PERIOD": Problem("X005", value="{value}").message,
        "UNSAFE_PATH": Problem("X031", detail="{detail}").message,
        "CANNOT_RUN": Problem("X032", detail="{detail}").message,
        "MAIL_NOT_RETRIED": Problem("X043", detail="{detail}").message,
        "CANCELLED": CANCELLED,
        "TEXT_FORMAT": INERT_FORMAT,
        "CONSOLE_NAME": CONSOLE_NAME,
        "ROUTE_SERVICE": ROUTE_SERVICE,
        "ROUTE_XLWINGS": ROUTE_XLWINGS,
        "ROUTE_CLI": ROUTE_CLI,
        "MODE_CLI": MODE_CLI,
        "NO_FALLBACK": "|".join(NO_FALLBACK),
    }
    lines = [f'Private Function MAGIC() As String\n    MAGIC = "{magic}" & vbTab & "{tab}"\nEnd Function']
    lines += [f"Private Const {k} As String = {_vba_string(v)}" for k, v in consts.items()]
    return "\n".join(lines) + "\n"


BUTTONS_MODULE = r'''
' ---- which workbook, which period -------------------------------------------------------------
Private Function HasName(wb As Object, name As String) As Boolean
    Dim probe As Object
    If wb Is Nothing Then Exit Function
    On Error Resume Next
    Set probe = wb.Names(name).RefersToRange
    HasName = (Err.Number = 0)
    Err.Clear
End Function

Private Function Setting(wb As Object, name As String) As String
    On Error Resume Next
    Setting = Trim(CStr(wb.Names(name).RefersToRange.Value))
End Function

' The console the buttons act on: this workbook; in the add-in, the active console (its period counts),
' else the console of the add-in's workspace, opened.
Private Function Console() As Object
    If Not ThisWorkbook.IsAddin Then
        Set Console = ThisWorkbook
    ElseIf HasName(ActiveWorkbook, "hz_workspace") Then
        Set Console = ActiveWorkbook
    Else
        Set Console = Workbooks.Open(Setting(ThisWorkbook, "hz_workspace") & "\" & CONSOLE_NAME)
    End If
End Function

' The period as 2026-10 (a cell Excel turned into a date is read back as its month); "" when empty.
Public Function PeriodText(v As Variant) As String
    If VarType(v) = vbDate Then
        PeriodText = Format(v, "yyyy") & "-" & Format(v, "mm")
    Else
        PeriodText = Trim(CStr(v))
    End If
End Function

Public Function IsPeriod(p As String) As Boolean
    If Len(p) <> 7 Then Exit Function
    If Mid(p, 5, 1) <> "-" Then Exit Function
    If Not IsNumeric(Left(p, 4)) Or Not IsNumeric(Right(p, 2)) Then Exit Function
    If InStr(p, ".") > 0 Or InStr(p, "+") > 0 Or InStr(p, " ") > 0 Or InStr(Right(p, 2), "-") > 0 Then Exit Function
    If CLng(Left(p, 4)) < 2000 Or CLng(Left(p, 4)) > 2100 Then Exit Function
    IsPeriod = (CLng(Right(p, 2)) >= 1 And CLng(Right(p, 2)) <= 12)
End Function

Private Function PeriodChinese(p As String) As String
    If p = "" Then
        PeriodChinese = "最近有报表的月份"
    Else
        PeriodChinese = CLng(Left(p, 4)) & "年" & CLng(Right(p, 2)) & "月"
    End If
End Function

' ---- saying what happened ------------------------------------------------------------------------
Private Sub PutText(c As Object, text As String)
    c.NumberFormat = TEXT_FORMAT
    c.Value = text
End Sub

Private Sub Say(wb As Object, text As String)
    On Error Resume Next
    PutText wb.Names("hz_status").RefersToRange, text
    Application.StatusBar = Left(Replace(text, vbLf, " "), 250)
End Sub

Private Sub SetRoute(wb As Object, way As String)
    On Error Resume Next
    PutText wb.Names("hz_route").RefersToRange, way
End Sub

' ---- which path -----------------------------------------------------------------------------------
Public Function Route(mode As String, up As Boolean, pythonFound As Boolean) As String
    If mode = MODE_CLI Then
        Route = ROUTE_CLI
    ElseIf up Then
        Route = ROUTE_SERVICE
    ElseIf pythonFound Then
        Route = ROUTE_XLWINGS
    Else
        Route = ROUTE_CLI
    End If
End Function

' After RunPython's -1 (Python exited non-zero): run again on the command line only if a second run
' cannot mail the villages twice.
Public Function FallsBack(name As String) As Boolean
    FallsBack = (InStr("|" & NO_FALLBACK & "|", "|" & name & "|") = 0)
End Function

Private Function FileFound(path As String) As Boolean
    On Error Resume Next
    If path = "" Then Exit Function
    FileFound = CreateObject("Scripting.FileSystemObject").FileExists(path)
End Function

Private Function XlwingsInterpreter() As String
    ' what RunPython will start: the Interpreter_Win line of this workbook's xlwings.conf sheet
    Dim sh As Object, r As Long
    On Error Resume Next
    Set sh = ThisWorkbook.Worksheets("xlwings.conf")
    For r = 1 To 20
        If UCase(Trim(CStr(sh.Cells(r, 1).Value))) = "INTERPRETER_WIN" Then
            XlwingsInterpreter = Trim(CStr(sh.Cells(r, 2).Value))
            Exit Function
        End If
    Next r
End Function

' ---- path 1: the local service over HTTP (no child process) ------------------------------------
Private Function ReadSmallFile(path As String) As String
    On Error Resume Next
    ReadSmallFile = Trim(CreateObject("Scripting.FileSystemObject").OpenTextFile(path, 1).ReadAll)
End Function

Private Function Http(method As String, url As String, token As String, body As String, ok As Boolean) As String
    Dim x As Object
    ok = False
    On Error GoTo Failed
    Set x = CreateObject("MSXML2.ServerXMLHTTP.6.0")
    x.setTimeouts 1000, 1000, 5000, 60000
    x.Open method, url, False
    x.setRequestHeader "X-Huizong-Token", token
    x.setRequestHeader "Content-Type", "application/json; charset=utf-8"
    x.send body
    ok = (x.Status >= 200 And x.Status < 300)
    Http = x.responseText
Failed:
End Function

Private Function ServiceBase(wb As Object) As String
    ServiceBase = "http://127.0.0.1:" & Setting(wb, "hz_port")
End Function

Private Function ServiceToken(wb As Object) As String
    ServiceToken = ReadSmallFile(Setting(wb, "hz_workspace") & "\.huizong\serve.token")
End Function

Private Function ServiceUp(wb As Object) As Boolean
    Dim ok As Boolean, answer As String
    If Setting(wb, "hz_port") = "" Then Exit Function
    answer = Http("GET", ServiceBase(wb) & "/ping", ServiceToken(wb), "", ok)
    ServiceUp = ok And InStr(answer, """ok"": true") > 0
End Function

Private Function FirstLine(text As String) As String
    If InStr(text, vbLf) > 0 Then
        FirstLine = Replace(Left(text, InStr(text, vbLf) - 1), vbCr, "")
    Else
        FirstLine = text
    End If
End Function

Public Function JobBody(period As String, confirmed As Boolean) As String
    JobBody = "{""period"": """ & period & """, ""confirmed"": " & IIf(confirmed, "true", "false") & "}"
End Function

Private Sub Pause(seconds As Long)
    ' a second between polls, the clicks still answered (no Application.Wait: other hosts read it as a statement)
    Dim deadline As Date
    deadline = Now + TimeSerial(0, 0, seconds)
    Do While Now < deadline
        DoEvents
    Loop
End Sub

Private Function RunService(wb As Object, name As String, period As String, confirmed As Boolean) As String
    Dim address As String, token As String, answer As String, ok As Boolean, f() As String
    address = ServiceBase(wb)
    token = ServiceToken(wb)
    answer = Http("POST", address & "/" & name & "?format=text", token, JobBody(period, confirmed), ok)
    Do While Left(answer, 4) = "job" & vbTab
        f = Split(FirstLine(answer), vbTab)
        If f(2) <> "running" Then
            RunService = Mid(answer, InStr(answer, vbLf) + 1)
            Exit Function
        End If
        If UBound(f) >= 5 Then Application.StatusBar = "汇总：" & f(3) & " / " & f(4) & " " & f(5)
        Pause 1
        answer = Http("GET", address & "/jobs/" & f(1) & "?format=text", token, "", ok)
    Loop
    RunService = answer
End Function

' ---- path 3: the command line, every argument quoted ---------------------------------------------
Private Function Q(s As String) As String
    Q = Chr(34) & s & Chr(34)
End Function

Public Function CommandLine(python As String, name As String, ws As String, period As String, outFile As String, confirmed As Boolean) As String
    Dim s As String
    If python <> "" Then
        s = Q(python) & " -m pipeline"
    Else
        s = "huizong"
    End If
    s = s & " button " & name & " -w " & Q(ws)
    If period <> "" Then s = s & " --period " & Q(period)
    If confirmed Then s = s & " --yes"
    CommandLine = s & " --out-text " & Q(outFile)
End Function

Public Function SafeForCommandLine(s As String) As Boolean
    SafeForCommandLine = (InStr(s, "%") = 0 And InStr(s, Chr(34)) = 0)
End Function

Private Function Failure(message As String) As String
    ' a failure in the same text form as the service's and the command line's
    Dim e As String
    e = Replace(Replace(Replace(Replace(message, "\", "\\"), vbTab, "\t"), vbCr, ""), vbLf, "\n")
    Failure = MAGIC & vbLf & "ok" & vbTab & "0" & vbLf & "text" & vbTab & e & vbLf & "end"
End Function

Private Function ReadUtf8(path As String) As String
    Dim st As Object
    Set st = CreateObject("ADODB.Stream")
    st.Type = 2
    st.Charset = "utf-8"
    st.Open
    st.LoadFromFile path
    ReadUtf8 = st.ReadText
    st.Close
End Function

Private Function RunCommandLine(wb As Object, name As String, period As String, confirmed As Boolean) As String
    Dim python As String, ws As String, outFile As String
    ws = Setting(wb, "hz_workspace")
    python = Setting(wb, "hz_python")
    If Not FileFound(python) Then python = ""
    outFile = Environ("TEMP") & "\huizong-" & name & "-" & Format(Now, "yyyymmddhhnnss") & ".txt"
    If Not SafeForCommandLine(ws) Or Not SafeForCommandLine(outFile) Then
        RunCommandLine = Failure(Replace(UNSAFE_PATH, "{detail}", ws))
        Exit Function
    End If
    On Error GoTo Failed
    CreateObject("WScript.Shell").Run CommandLine(python, name, ws, period, outFile, confirmed), 1, True
    RunCommandLine = ReadUtf8(outFile)
    Kill outFile
    Exit Function
Failed:
    RunCommandLine = Failure(Replace(CANNOT_RUN, "{detail}", Err.Description))
End Function

' ---- writing an outcome back (the text form of pipeline.actions.outcome_text) --------------------
Public Function Unescape(s As String) As String
    Dim i As Long, c As String, out As String
    i = 1
    Do While i <= Len(s)
        c = Mid(s, i, 1)
        If c = "\" And i < Len(s) Then
            i = i + 1
            c = Mid(s, i, 1)
            If c = "n" Then
                c = vbLf
            ElseIf c = "t" Then
                c = vbTab
            ElseIf c = "r" Then
                c = vbCr
            End If
        End If
        out = out & c
        i = i + 1
    Loop
    Unescape = out
End Function

Private Sub PutCell(c As Object, v As String)
    If Left(v, 1) = "n" Then
        c.Value = Val(Mid(v, 2))
    Else
        PutText c, Unescape(Mid(v, 2))
    End If
End Sub

Private Function Colour(rgbHex As String) As Long
    Colour = RGB(CLng("&H" & Mid(rgbHex, 2, 2)), CLng("&H" & Mid(rgbHex, 4, 2)), CLng("&H" & Mid(rgbHex, 6, 2)))
End Function

Private Function SheetNamed(wb As Object, name As String) As Object
    Dim sh As Object
    For Each sh In wb.Worksheets
        If sh.Name = name Then
            Set SheetNamed = sh
            Exit Function
        End If
    Next sh
    Set sh = wb.Worksheets.Add(After:=wb.Worksheets(wb.Worksheets.Count))
    sh.Name = name
    Set SheetNamed = sh
End Function

Public Sub PaintText(wb As Object, text As String)
    Dim lines() As String, f() As String, i As Long, k As Long, r As Long
    Dim sh As Object, note As String, shown As String, toOpen As String
    lines = Split(Replace(text, vbCr, ""), vbLf)
    If UBound(lines) < 1 Or lines(0) <> MAGIC Then
        Say wb, Replace(CANNOT_RUN, "{detail}", Left(text, 200))
        Exit Sub
    End If
    For i = 1 To UBound(lines)
        f = Split(lines(i), vbTab)
        If UBound(f) >= 1 Then
            Select Case f(0)
                Case "text"
                    shown = Unescape(f(1))
                Case "open"
                    toOpen = Unescape(f(1))
                Case "view"
                    If Not sh Is Nothing And note <> "" Then PutText sh.Cells(r + 2, 1), note
                    Set sh = SheetNamed(wb, Unescape(f(1)))
                    sh.Cells.Clear
                    PutText sh.Cells(1, 1), Unescape(f(2))
                    sh.Cells(1, 1).Font.Bold = True
                    note = Unescape(f(3))
                    r = 3
                Case "head"
                    For k = 1 To UBound(f)
                        PutCell sh.Cells(3, k), f(k)
                        sh.Cells(3, k).Font.Bold = True
                        sh.Cells(3, k).Interior.Color = RGB(217, 217, 217)
                    Next k
                Case "row"
                    r = r + 1
                    For k = 2 To UBound(f)
                        PutCell sh.Cells(r, k - 1), f(k)
                        If f(1) <> "" Then sh.Cells(r, k - 1).Interior.Color = Colour(f(1))
                    Next k
            End Select
        End If
    Next i
    If Not sh Is Nothing And note <> "" Then PutText sh.Cells(r + 2, 1), note
    Say wb, shown
    If toOpen <> "" Then Workbooks.Open toOpen
End Sub

' ---- one button ----------------------------------------------------------------------------------
Private Sub Act(name As String, label As String, confirmText As String)
    Dim wb As Object, period As String, way As String, confirmed As Boolean, rc As Variant
    On Error GoTo Failed
    Set wb = Console()
    period = PeriodText(wb.Names("hz_period").RefersToRange.Value)
    If period <> "" And Not IsPeriod(period) Then
        Say wb, Replace(BAD_PERIOD, "{value}", period)
        Exit Sub
    End If
    If confirmText <> "" Then
        If MsgBox(Replace(confirmText, "{period}", PeriodChinese(period)), vbOKCancel + vbQuestion, "汇总") <> vbOK Then
            Say wb, CANCELLED
            Exit Sub
        End If
        confirmed = True
    End If
    Say wb, "正在" & label & "……"
    way = Route(Setting(wb, "hz_mode"), ServiceUp(wb), FileFound(XlwingsInterpreter()))
    If way = ROUTE_SERVICE Then
        PaintText wb, RunService(wb, name, period, confirmed)
    ElseIf way = ROUTE_XLWINGS Then
        rc = RunPython("import pipeline.excel.glue as g; g.act('" & name & "', " & IIf(confirmed, "True", "False") & ")")
        If rc = -1 Then
            If FallsBack(name) Then
                way = ROUTE_CLI
                PaintText wb, RunCommandLine(wb, name, period, confirmed)
            Else
                Say wb, Replace(MAIL_NOT_RETRIED, "{detail}", label)
            End If
        End If
    Else
        PaintText wb, RunCommandLine(wb, name, period, confirmed)
    End If
    SetRoute wb, way
    Application.StatusBar = False
    Exit Sub
Failed:
    Say wb, Replace(CANNOT_RUN, "{detail}", Err.Description)
End Sub
'''


def buttons_module() -> Module:
    body = "Option Explicit\n' 汇总控制台的按钮，由 huizong 按 pipeline/actions.py 的按钮表生成，不要手工修改。\n"
    body += _messages() + BUTTONS_MODULE
    for a in ACTIONS:
        body += f'\nSub {a.macro}()\n    Act "{a.name}", "{a.label}", {_vba_string(a.confirm)}\nEnd Sub\n'
    # ribbon callbacks of the add-in take the clicked control
    for a in ACTIONS:
        body += f"\nSub Ribbon{a.macro}(control As Object)\n    {a.macro}\nEnd Sub\n"  # Object: no Office library reference needed
    return Module("HuizongButtons", body)


def xlwings_modules() -> list[Module]:
    """xlwings' own standalone VBA (its RunPython), read from the installed xlwings package."""
    import xlwings

    root = Path(xlwings.__file__).parent
    main = _strip_attributes((root / "xlwings.bas").read_text(encoding="utf-8"))
    dictionary = _strip_attributes((root / "addin" / "Dictionary.cls").read_text(encoding="utf-8"))
    return [Module("xlwings", main), Module("Dictionary", dictionary, kind="class")]


def _strip_attributes(text: str) -> str:
    """A .bas/.cls export without its header (VERSION/BEGIN…END block and Attribute lines)."""
    lines = text.replace("\r\n", "\n").split("\n")
    out = []
    skipping_block = False
    for line in lines:
        if line.startswith("VERSION ") or line.strip() == "BEGIN":
            skipping_block = True
            continue
        if skipping_block:
            if line.strip() == "END":
                skipping_block = False
            continue
        if line.startswith("Attribute VB_"):
            continue
        out.append(line)
    return "\n".join(out)
