"""Commands for the office faces: the Excel console and add-in, the WPS add-in and its local
service, and the mailbox password. Registered on the same ``huizong`` app as cli.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import api
from .cli import MACHINE, WorkspaceOpt, _context, _fail, _say, app, out
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


def _default_period(ws: api.Workspace) -> Month:
    """What the console shows first: the latest month with reports (the month before this one if none)."""
    from .actions import default_period

    try:
        return default_period(api.load_context(ws.root), _this_month())
    except HuizongError:
        return _this_month().shift(-1)


@app.command("button")
def button(
    action: Annotated[str, typer.Argument(help="操作：templates、send-templates、collect、validate、consolidate、remind、open-summary（或按钮上的中文名）")],
    workspace: WorkspaceOpt = Path("."),
    period: Annotated[str, typer.Option("--period", "-p", help="报告期，如 2026-10（不填：最近有报表的月份）")] = "",
    yes: Annotated[bool, typer.Option("--yes", help="需要确认的操作（发送模板、催报）不再询问")] = False,
    out_text: Annotated[Path | None, typer.Option("--out-text", help="把结果按控制台的格式写入这个文件（Excel 控制台的命令行方式用）")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出结果")] = False,
) -> None:
    """运行控制台上的一个按钮：与 Excel 控制台、WPS 加载项的同名按钮做同样的事、说同样的话。"""
    import json

    from . import actions

    def finish(outcome: actions.Outcome | None, problems: list[Problem]) -> None:
        if out_text is not None:
            atomic_write(out_text, actions.outcome_text(outcome, problems).encode("utf-8"))
        if as_json:
            out.print_json(json.dumps(outcome.to_dict() if outcome else {"ok": False, "problems": [p.to_dict() for p in problems],
                                                                        "text": actions.failure_text(problems)}, ensure_ascii=False))
        elif outcome is not None:
            out.print(outcome.text, markup=False)
        if outcome is None:
            if not as_json:
                for p in problems:
                    _say(p)
            raise typer.Exit(3 if any(p.code in MACHINE for p in problems) else 2)

    try:
        chosen = actions.find(action)
        ctx = api.load_context(workspace)
        month = actions.period_or_default(period, ctx, _this_month())
        confirmed = yes or not chosen.confirm
        if not confirmed and out_text is None and not as_json:
            confirmed = typer.confirm(chosen.confirm_text(month, ctx.programme), default=False)
            if not confirmed:
                out.print(actions.CANCELLED)
                return
        outcome = actions.perform(chosen.name, ctx, month, confirmed=confirmed)
    except HuizongError as exc:
        finish(None, exc.problems)
        return
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # a defect: the console still gets its outcome text (not "could not be opened")
        finish(None, [_unexpected(exc, workspace)])
        return
    finish(outcome, [])


BUTTON_LOG = "button.log"


def _unexpected(exc: Exception, workspace: Path) -> Problem:
    """X011/X012 for a full disk or a read-only folder, else X013; the traceback goes to .huizong/button.log."""
    from .workspace import STATE_DIR, unexpected

    return unexpected(exc, workspace / STATE_DIR / BUTTON_LOG)


@app.command("excel-console")
def excel_console(
    workspace: WorkspaceOpt = Path("."),
    no_macros: Annotated[bool, typer.Option("--no-macros", help="生成不含宏的 汇总控制台.xlsx 和 汇总控制台.py，用 xlwings 官方加载项的 Run main 按钮运行")] = False,
) -> None:
    """生成 Excel 控制台“汇总控制台.xlsm”：填报告期、点按钮（收取邮件、汇总排名……），结果写回工作簿。"""
    from .excel.console import write_console

    ws = _open_workspace(workspace)
    paths = write_console(ws, _default_period(ws), macro_free=no_macros)
    out.print("已生成：" + "、".join(str(p) for p in paths), markup=False)
    if no_macros:
        out.print("使用：命令行运行 xlwings addin install（只需一次），打开 汇总控制台.xlsx，选好“操作”，点 xlwings 选项卡上的“Run main”。", markup=False)
        return
    out.print("打开时如提示“宏已被禁用”，请点“启用内容”；或把工作目录加入 Excel 的“受信任位置”（文件 → 选项 → 信任中心）。", markup=False)


@app.command("excel-addin")
def excel_addin(
    workspace: WorkspaceOpt = Path("."),
    install: Annotated[bool, typer.Option("--install", help="复制到 Excel 的启动文件夹（XLSTART），每次打开 Excel 自动加载")] = False,
) -> None:
    """生成 Excel 加载项 huizong.xlam：功能区“汇总”选项卡，按钮同控制台，作用于当前打开的控制台（它的报告期）。"""
    import os
    import shutil
    import sys

    from .excel.console import ADDIN, build_addin, write_console

    ws = _open_workspace(workspace)
    period = _default_period(ws)
    write_console(ws, period)  # the add-in acts on the console workbook of this workspace
    path = ws.root / ADDIN
    atomic_write(path, build_addin(ws, period))
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
    port: Annotated[int | None, typer.Option("--port", help="汇总服务的端口（默认用设置中的 serve.port，或 8765）")] = None,
    uninstall: Annotated[bool, typer.Option("--uninstall", help="撤销安装：删除 WPS 中的登记和开机自动启动")] = False,
    jsplugins: Annotated[bool, typer.Option("--jsplugins", help="同时写 jsplugins.xml（WPS 企业版/政务版等用 oem.ini 的“jsplugins.xml 模式”时）")] = False,
    no_autostart: Annotated[bool, typer.Option("--no-autostart", help="不设置登录时自动启动汇总服务")] = False,
    jsaddons: Annotated[Path | None, typer.Option("--jsaddons", help="WPS 的 jsaddons 文件夹（默认按本机系统）")] = None,
) -> None:
    """安装 WPS 加载项（功能区“汇总”选项卡）：在 WPS 的 publish.xml 中登记，并让汇总服务在登录时自动启动。"""
    from .serve import port_for
    from .wps.addin import JSPLUGINS, OEM_INI, install, oem_ini_paths, restart_wps
    from .wps.addin import uninstall as remove

    ws = _open_workspace(workspace)
    try:
        if uninstall:
            changed = remove(ws, jsaddons=jsaddons)
            out.print("已撤销：" + ("、".join(str(p) for p in changed) if changed else "（没有找到要撤销的内容）"), markup=False)
            out.print(f"请{restart_wps()}，再打开 WPS。汇总服务如仍在运行，可关闭它（或注销后重新登录）。", markup=False)
            return
        done = install(ws, port, jsaddons=jsaddons, jsplugins_mode=jsplugins, autostart=not no_autostart)
    except HuizongError as exc:
        _fail(exc)
        return
    out.print(f"已在 WPS 中登记加载项（{done.url}）：" + "、".join(str(p) for p in done.registered), markup=False)
    if done.autostart:
        out.print(f"登录时自动启动汇总服务：{done.autostart}", markup=False)
    configured = port_for(ws.settings, None)
    if done.port != configured:  # the Excel console's 服务端口 (hz_port) comes from the settings, not from --port
        out.print(f"注意：Excel 控制台的“服务端口”取自设置文件 huizong.yaml 的 serve.port（现在是 {configured}），不是这里的 --port。"
                  f"要让 Excel 控制台的按钮也经这个服务（端口 {done.port}）运行，请在 {ws.root / 'huizong.yaml'} 中写上", markup=False)
        out.print(f"serve:\n  port: {done.port}", markup=False)
        out.print(f"再运行 huizong excel-console -w \"{ws.root}\" 重新生成控制台。", markup=False)
    out.print("下一步：", markup=False)
    out.print(f"  1. 现在启动一次汇总服务：huizong serve -w \"{ws.root}\" --port {done.port}（以后登录时会自动启动）。", markup=False)
    out.print(f"  2. {restart_wps()}，再打开 WPS 表格：功能区出现“汇总”选项卡（如提示是否信任加载项，选“信任”，再照此重启一次 WPS）。",
              markup=False)
    if jsplugins:
        path = next(p for p in done.registered if p.name == JSPLUGINS)
        out.print(f"  jsplugins.xml 模式还需管理员在 {' 或 '.join(oem_ini_paths())} 中加入（见《安装说明》）：", markup=False)
        out.print(OEM_INI.format(jsplugins=path), markup=False)


@app.command("bundle")
def bundle(
    out_dir: Annotated[Path, typer.Option("--out", help="输出文件夹（同时生成同名 .zip）")],
    platform: Annotated[str, typer.Option("--platform", help="目标电脑：win_amd64、linux_x86_64、linux_aarch64")] = "win_amd64",
    python: Annotated[str, typer.Option("--python", help="目标电脑上的 Python 版本，如 3.10")] = "3.10",
    find_links: Annotated[list[Path] | None, typer.Option("--find-links", help="从这个文件夹取安装包（本单位的软件源或 U 盘）")] = None,
    no_index: Annotated[bool, typer.Option("--no-index", help="只用 --find-links 的文件夹，不连接软件源")] = False,
) -> None:
    """制作离线安装包（在能上网的电脑上运行）：目标平台的全部安装包和“安装”脚本，拷到办公电脑上不联网即可安装。"""
    from .bundle import Target, build_bundle

    try:
        made = build_bundle(Target(platform, python), out_dir, find_links=find_links, no_index=no_index)
    except HuizongError as exc:
        _fail(exc)
        return
    wheels = sorted(p.name for p in (out_dir / "wheels").glob("*.whl"))
    out.print(f"已制作离线安装包：{made}（{len(wheels)} 个安装包，已检查齐全）", markup=False)
    script = "安装.bat" if platform.startswith("win") else "安装.sh"
    out.print(f"拷到办公电脑后运行 {script}；安装只使用其中的文件，不连接任何网站。", markup=False)
