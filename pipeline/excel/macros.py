"""The VBA behind the buttons — thin: each button runs Python through xlwings' RunPython; where
that cannot work (no xlwings, or WPS), it runs the ``huizong`` command line instead and opens
what it produced. Nothing is computed in VBA."""

from __future__ import annotations

from pathlib import Path

from .vba import Module

# button macro → (caption, python glue function, command-line action)
BUTTONS = [
    ("HzTemplates", "生成模板", "templates", "templates"),
    ("HzSendTemplates", "发送模板", "send_templates", "send-templates"),
    ("HzCollect", "收取邮件", "collect", "collect"),
    ("HzValidate", "校验", "validate", "status"),
    ("HzConsolidate", "汇总排名", "consolidate", "consolidate"),
    ("HzRemind", "催报", "remind", "remind"),
    ("HzOpenSummary", "打开汇总表", "open_summary", "open-summary"),
]

BUTTONS_MODULE = r'''Option Explicit
' 汇总控制台的按钮。每个按钮先用 xlwings 的 RunPython 调用 huizong（结果直接写回本工作簿）；
' 电脑上没有 xlwings 或无法连接 Excel 时，改为运行 huizong 命令行（结果在弹出的窗口和生成的文件中）。

Private Function Setting(name As String) As String
    On Error Resume Next
    Setting = CStr(ThisWorkbook.Names(name).RefersToRange.Value)
End Function

Private Sub Say(text As String)
    On Error Resume Next
    ThisWorkbook.Names("hz_status").RefersToRange.Value = text
    Application.StatusBar = text
End Sub

Private Sub Act(glue As String, cli As String)
    Say "正在处理……"
    If Setting("hz_mode") <> "命令行" Then
        On Error GoTo Fallback
        RunPython "import pipeline.excel.glue as g; g." & glue & "()"
        Application.StatusBar = False
        Exit Sub
    End If
Fallback:
    On Error GoTo Failed
    RunCommandLine cli
    Exit Sub
Failed:
    Say "无法运行 huizong：" & Err.Description & "（请按《安装说明》检查 Python 和 huizong 是否已安装）"
End Sub

Private Sub RunCommandLine(cli As String)
    Dim python As String, ws As String, period As String, cmd As String
    python = Setting("hz_python")
    ws = Setting("hz_workspace")
    period = Setting("hz_period")
    If cli = "open-summary" Then
        ThisWorkbook.FollowHyperlink ws & "\reports\" & period & "-汇总排名.xlsx"
        Exit Sub
    End If
    cmd = "cmd /k """"" & python & """ -m pipeline " & cli & " -w """ & ws & """"
    If cli <> "collect" Then cmd = cmd & " --period " & period
    cmd = cmd & """"
    CreateObject("WScript.Shell").Run cmd, 1, True
    If cli = "consolidate" Then ThisWorkbook.FollowHyperlink ws & "\reports\" & period & "-汇总排名.xlsx"
    Say "已在命令行窗口中完成：" & cli
End Sub
'''


def buttons_module() -> Module:
    body = BUTTONS_MODULE
    for macro, _caption, glue, cli in BUTTONS:
        body += f'\nSub {macro}()\n    Act "{glue}", "{cli}"\nEnd Sub\n'
    # ribbon callbacks of the add-in take the clicked control
    for macro, _caption, _glue, _cli in BUTTONS:
        body += f"\nSub Ribbon{macro}(control As Object)\n    {macro}\nEnd Sub\n"  # Object: no Office library reference needed
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
