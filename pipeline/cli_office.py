"""Commands for the office faces: the Excel console and add-in, the WPS add-in and its local
service, and the mailbox password. Registered on the same ``huizong`` app as cli.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import api
from .cli import WorkspaceOpt, _context, _fail, _say, app, out
from .problems import HuizongError, Problem
from .programme.periods import Month
from .workspace import atomic_write


@app.command("mail-password")
def mail_password(workspace: WorkspaceOpt = Path(".")) -> None:
    """把邮箱授权码保存到本机系统凭据（Windows 凭据管理器），不写入任何文件。"""
    from .intake.mailconfig import KEYRING_SERVICE, mail_settings

    ctx = _context(workspace)
    settings = mail_settings(ctx.workspace.settings)
    server = settings and (settings.imap or settings.smtp)
    if settings is None or not server:
        _fail(HuizongError(Problem("C002", file="huizong.yaml", field="mail", detail="还没有邮箱设置（mail: imap/smtp），请先填写")))
        return
    secret = typer.prompt(f"{server.user} 的授权码", hide_input=True)
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, server.user, secret)
    except Exception as exc:  # no keyring backend (e.g. a Linux server): say what to do instead
        _fail(HuizongError(Problem("X017", value=settings.password_env, detail=str(exc)[:200])))
        return
    out.print("已保存。")


def _this_month() -> Month:
    from datetime import date

    today = date.today()
    return Month(today.year, today.month)


def _open_workspace(workspace: Path) -> api.Workspace:
    try:
        return api.open_workspace(workspace)
    except HuizongError as exc:
        _fail(exc)
        raise


@app.command("excel-console")
def excel_console(workspace: WorkspaceOpt = Path(".")) -> None:
    """生成 Excel 控制台“汇总控制台.xlsm”：选报告期、点按钮（收取邮件、汇总排名……），结果写回工作簿。"""
    from .excel.console import write_console

    ws = _open_workspace(workspace)
    path = write_console(ws, _this_month())
    out.print(f"已生成：{path}", markup=False)
    out.print("打开时如提示“宏已被禁用”，请点“启用内容”；或把工作目录加入 Excel 的“受信任位置”（文件 → 选项 → 信任中心）。", markup=False)


@app.command("excel-addin")
def excel_addin(
    workspace: WorkspaceOpt = Path("."),
    install: Annotated[bool, typer.Option("--install", help="复制到 Excel 的启动文件夹（XLSTART），每次打开 Excel 自动加载")] = False,
) -> None:
    """生成 Excel 加载项 huizong.xlam：功能区“汇总”选项卡，按钮同控制台，作用于本工作目录。"""
    import os
    import shutil
    import sys

    from .excel.console import ADDIN, build_addin, write_console

    ws = _open_workspace(workspace)
    write_console(ws, _this_month())  # the add-in writes its views into the console workbook
    path = ws.root / ADDIN
    atomic_write(path, build_addin(ws, _this_month()))
    out.print(f"已生成：{path}（并更新了 汇总控制台.xlsm）", markup=False)
    xlstart = Path(os.environ.get("APPDATA", "")) / "Microsoft" / "Excel" / "XLSTART" if sys.platform == "win32" else None
    if install and xlstart is not None:
        xlstart.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, xlstart / ADDIN)
        out.print(f"已安装到 {xlstart}，重新打开 Excel 后功能区出现“汇总”选项卡。", markup=False)
        return
    if install:
        _say(Problem("X018"))
    out.print("安装方法：Excel → 文件 → 选项 → 加载项 → 管理“Excel 加载项” → 转到 → 浏览，选中 huizong.xlam；"
              "或把它复制到 %APPDATA%\\Microsoft\\Excel\\XLSTART 文件夹（也可运行 huizong excel-addin --install）。", markup=False)


@app.command("wps-addin")
def wps_addin(
    workspace: WorkspaceOpt = Path("."),
    port: Annotated[int | None, typer.Option("--port", help="汇总服务的端口（默认 8765）")] = None,
) -> None:
    """生成 WPS 加载项（功能区“汇总”选项卡）和本机汇总服务的启动文件，并说明安装方法。"""
    from .wps.addin import jsaddons_dir, write_addin

    ws = _open_workspace(workspace)
    files = write_addin(ws, port)
    target = jsaddons_dir()
    out.print(f"已生成 WPS 加载项：{files.folder}", markup=False)
    out.print("安装（每台电脑做一次）：", markup=False)
    out.print(f"  1. 关闭 WPS；把 {files.jsplugins} 复制到 {target}（没有这个文件夹就新建；已有 jsplugins.xml 时把其中的 jsplugin 一行加进去）。", markup=False)
    out.print(f"  2. 双击 {files.launcher.name} 启动汇总服务（窗口保持打开；可放入“启动”文件夹开机自动运行）。", markup=False)
    out.print("  3. 打开 WPS 表格，功能区出现“汇总”选项卡；先点“选择报告期”，再点各按钮。", markup=False)
    out.print(f"加载项通过 http://127.0.0.1:{files.port}/addin/ 由汇总服务提供，只在本机可用。", markup=False)


