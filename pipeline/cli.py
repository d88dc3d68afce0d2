"""The ``huizong`` command. Thin: parse options, call pipeline.api, print, set the exit code.

Exit codes: 0 success (validate: every file valid), 1 some files invalid / work left undone,
2 usage or configuration error, 3 the machine's trouble (disk full, a read-only folder) or an
internal error — a Chinese message with a problem code says which, never a traceback.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__, api
from .problems import HuizongError, Problem, show_value
from .programme.config import load_programme
from .programme.periods import Month
from .quality import empty_months_line
from .views import state_counts
from .workspace import quoted, unexpected

if TYPE_CHECKING:  # imported by the commands that use them: consolidate starts without the checking code
    from rich.progress import Progress

    from .check import FileCheck

app = typer.Typer(
    help="汇总（huizong）：村级月报的收取、校验、汇总与排名。",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

WorkspaceOpt = Annotated[Path, typer.Option("-w", "--workspace", help="工作目录（huizong init 创建的文件夹）")]
PeriodOpt = Annotated[str, typer.Option("--period", "-p", help="报告期（月份），如 2026-10")]
JsonOpt = Annotated[bool, typer.Option("--json", help="以 JSON 输出（供其他程序使用）")]


MACHINE = {"X011", "X012", "X013"}  # disk full, not writable, internal error: exit code 3


def _say(p: Problem) -> None:
    where = "，".join(x for x in (p.file and f"文件 {p.file}", p.where, p.field and f"配置项 {p.field}" if p.code.startswith("C") else "") if x)
    if p.code in MACHINE:
        where = ""  # the message names the place already
    err.print(f"[{p.severity.value} {p.code}] {p.message}" + (f"（{where}）" if where else ""), markup=False)


def _fail(exc: HuizongError, code: int = 2) -> None:
    for p in exc.problems:
        _say(p)
    raise typer.Exit(3 if any(p.code in MACHINE for p in exc.problems) else code)


def _no_period(hint: str = "") -> None:
    _say(Problem("X010", detail=hint))
    raise typer.Exit(2)


def _shipped() -> str:
    from .resources import shipped_programmes

    return "、".join(shipped_programmes())


def _period(text: str) -> Month:
    try:
        return Month.parse(text)
    except HuizongError as exc:
        _fail(exc)
        raise


def _context(workspace: Path) -> api.Context:
    try:
        ctx = api.load_context(workspace)
    except HuizongError as exc:
        _fail(exc)
        raise
    for p in ctx.registry_problems:
        err.print(f"[{p.severity.value} {p.code}] 村名册：{p.where + '：' if p.where else ''}{p.message}", markup=False)
    return ctx


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[name]}"), console=err, transient=True)


@app.command()
def version() -> None:
    """显示版本号。"""
    out.print(f"huizong {__version__}")


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="要创建的工作目录")],
    force: Annotated[bool, typer.Option("--force", help="覆盖已有的工作目录设置")] = False,
    programme: Annotated[str, typer.Option("--programme", help=f"考核方案：内置方案名（{_shipped()}）或本镇的方案文件（.yaml）")] = "qianfen",
    example: Annotated[bool | None, typer.Option("--example/--empty", help="村名册填示例镇的 19 个村（内置方案默认），或只有表头（本镇方案默认）")] = None,
    repair: Annotated[bool, typer.Option("--repair", help="只补建缺少的文件夹和签名密钥，设置、村名册、登记表和台账都不动")] = False,
) -> None:
    """创建乡镇工作目录：设置文件、村名册、镇考核登记、加分扣分登记和收件/归档/报表文件夹。"""
    try:
        if repair:
            ws = api.repair_workspace(directory)
            out.print(f"已补建工作目录中缺少的部分：{ws.root}（设置、村名册、登记表和台账没有改动）", markup=False)
            return
        existed = (directory / "huizong.yaml").is_file()
        ws = api.init_workspace(directory, force=force, programme=programme, example=example)
    except HuizongError as exc:
        _fail(exc)
        return
    out.print(f"已创建工作目录：{ws.root}", markup=False)
    backups = sorted((ws.state / "backup").glob("*")) if existed else []
    if backups:  # --force: what was replaced, and where it is kept (a deduction gone from the ranking was found only later)
        out.print(f"原来的设置、村名册和登记表已换成新建的；原文件备份在 {backups[-1]}。"
                  "台账和归档没有改动：要用原来的村名册和登记表，从备份复制回来。", markup=False, style="red")
    empty = example is False or (example is None and Path(programme).suffix in (".yaml", ".yml"))
    what = "只有表头：请先填写本镇各村的代码、名称、上报邮箱、户籍人口和年度任务" if empty else "示例镇 19 个村：请改成本镇的村名、邮箱和年度任务"
    out.print(f"  设置：{ws.root / 'huizong.yaml'}\n  村名册：{ws.registry_path}（{what}）", markup=False)
    out.print("  收件箱：inbox/   归档：archive/   报表：reports/")
    out.print(f"下一步：huizong templates -w {quoted(ws.root)} --period 2026-10", markup=False)


@app.command()
def templates(
    workspace: WorkspaceOpt = Path("."),
    period: Annotated[str | None, typer.Option("--period", "-p", help="报告期，如 2026-10")] = None,
    blank: Annotated[bool, typer.Option("--blank", help="只生成一份不带村名的空白模板")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="输出文件夹（默认 工作目录/templates/报告期）")] = None,
) -> None:
    """为每个村生成本月的报表模板（已填好村名、代码和报告期，带签名）。"""
    ctx = _context(workspace)
    if period is None and not blank:
        _no_period("（或用 --blank 生成空白模板）")
    month = _period(period) if period else None
    try:
        paths = api.make_templates(ctx, month, blank=blank, out_dir=out_dir)
    except HuizongError as exc:
        _fail(exc)
        return
    out.print(f"已生成 {len(paths)} 份模板，位于 {paths[0].parent}", markup=False)


def _print_check(check: FileCheck, issues: list[dict[str, Any]]) -> None:
    """One file's verdict and its problems (``issues``: as dictionaries, personal values masked unless asked)."""
    from .check import MAX_SHOWN

    name = Path(check.file).name
    n_err, n_warn = len(check.errors), len(check.warnings)
    if check.valid:
        out.print(f"✔ {name}：校验通过" + (f"（提示 {n_warn} 处）" if n_warn else ""), markup=False)
    else:
        out.print(f"✘ {name}：错误 {n_err} 处" + (f"，提示 {n_warn} 处" if n_warn else ""), markup=False)
    for p in issues[:MAX_SHOWN]:
        where = " ".join(x for x in (p["sheet"] and f"[{p['sheet']}]", p["cell"]) if x)
        shown = "" if p["value"] is None else f" 值“{show_value(p['value'])}”"
        out.print(f"  {p['severity']} {p['code']} {where} {p['label'] or p['field']}{shown}：{p['message']}".replace("  ", " ", 1), markup=False)
    hidden = len(issues) - MAX_SHOWN
    if hidden > 0:
        out.print(f"  ……还有 {hidden} 处问题未列出（用 --json 查看全部，或用 --feedback 生成标注文件）。", markup=False)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="要检查的工作簿（可多个）")],
    workspace: Annotated[Path | None, typer.Option("-w", "--workspace", help="工作目录：提供村名册和签名密钥，检查更完整")] = None,
    programme: Annotated[str, typer.Option("--programme", help="不指定工作目录时使用的考核方案")] = "qianfen",
    as_json: JsonOpt = False,
    feedback: Annotated[Path | None, typer.Option("--feedback", help="为每个有错误的文件生成标注副本，放到此文件夹")] = None,
    show_personal: Annotated[bool, typer.Option("--show-personal", help="显示完整的身份证号和姓名（默认遮盖；标注副本中总是完整的）")] = False,
) -> None:
    """检查填好的工作簿，一次列出每个文件的全部问题（文件、工作表、单元格、填写的值、修改方法）。"""
    ctx = _context(workspace) if workspace else None
    try:
        prog = ctx.programme if ctx else load_programme(programme)
        checks = api.validate_files(files, ctx=ctx, programme=prog, feedback_dir=feedback)
    except HuizongError as exc:
        _fail(exc)
        return
    shown = [c.to_dict(None if show_personal else prog) for c in checks]
    if as_json:
        out.print_json(json.dumps(shown, ensure_ascii=False))
    else:
        for c, d in zip(checks, shown):
            _print_check(c, d["issues"])
        bad = sum(1 for c in checks if not c.valid)
        out.print(f"共 {len(checks)} 个文件：通过 {len(checks) - bad} 个，有错误 {bad} 个。" + (f"标注副本在 {feedback}" if feedback and bad else ""), markup=False)
    raise typer.Exit(0 if all(c.valid for c in checks) else 1)


@app.command()
def collect(workspace: WorkspaceOpt = Path("."), as_json: JsonOpt = False) -> None:
    """收取 inbox/ 中的文件和邮箱中的新邮件：先归档原件，再识别村和报告期、校验、登记、回复；退回的生成标注副本。"""
    ctx = _context(workspace)
    try:
        with _progress() as bar:
            task = bar.add_task("收取", total=None, name="")

            def tick(i: int, n: int, name: str) -> None:
                bar.update(task, total=n, completed=i, name=name)

            summary = api.collect(ctx, progress=tick)
    except HuizongError as exc:
        _fail(exc)
        return
    if as_json:
        out.print_json(json.dumps({"summary": summary.line, "items": [i.__dict__ for i in summary.items],
                                   "resumed": [i.__dict__ for i in summary.resumed],
                                   "problems": [p.to_dict() for p in summary.problems],
                                   "notices": [p.to_dict() for p in summary.notices]}, ensure_ascii=False))
        raise typer.Exit(1 if summary.problems else 0)
    if summary.items:
        out.print(_collected_table("本次收取", summary.items))
    else:
        out.print("没有新收到的报表。")
    if summary.resumed:
        out.print(_collected_table("上次运行中断前已登记（本次已移出收件箱）", summary.resumed))
    out.print(summary.line)
    for p in summary.notices:  # bounces, auto-replies, newsletters (archived, not answered); numbers found out of line later
        where = "，".join(x for x in (p.file and f"文件 {p.file}", p.where) if x)
        out.print(f"[提示 {p.code}] {p.message}" + (f"（{where}）" if where else ""), markup=False)
    for p in summary.problems:
        _say(p)
    why = [i for i in summary.items if i.reason]
    if why:  # the first problem of each, as its reply says it: the clerk need not open every annotated copy
        out.print("退回和待确认的原因（第一处；全部问题见标注副本）：")
        for i in why:
            out.print(f"  {i.name}：{i.reason}" + (f"（共 {i.errors} 处）" if i.errors > 1 else ""), markup=False)
    if any(i.feedback for i in summary.items + summary.resumed):
        out.print(f"退回文件的标注副本在 {ctx.workspace.feedback}", markup=False)
    if summary.problems:
        raise typer.Exit(1)


def _collected_table(title: str, items: list[Any]) -> Table:
    table = Table(title=title, show_lines=False)
    for col in ("记录号", "文件", "来源", "村", "报告期", "状态", "版本", "错误", "提示"):
        # a long file name or address folds onto more lines: cut to "青龙村202…" the clerk cannot tell which file it was
        table.add_column(col, overflow="fold", no_wrap=col in ("记录号", "报告期", "版本", "错误", "提示"))
    for i in items:  # 记录号: what accept and void are given
        table.add_row(*(escape(str(x)) for x in (i.submission_id, i.name, i.sender or "文件夹", i.village, i.period, i.status,
                                                 i.version or "", i.errors, i.warnings)))
    return table


@app.command()
def status(workspace: WorkspaceOpt = Path("."), period: PeriodOpt = "", as_json: JsonOpt = False) -> None:
    """显示某月各村的上报情况：已报（时间、版本）、退回（问题数）、待确认、未报。"""
    ctx = _context(workspace)
    if not period:
        _no_period()
    month = _period(period)
    try:
        api.not_reported(ctx.programme, month)
    except HuizongError as exc:
        _fail(exc)
    rows = api.status(ctx, month)
    if as_json:
        out.print_json(json.dumps([r.to_dict() for r in rows], ensure_ascii=False))
        return
    table = Table(title=f"{ctx.programme.label(month)} 上报情况")
    for col in ("村（社区）", "状态", "收到时间", "版本", "问题数", "来源", "备注"):
        table.add_column(col, no_wrap=col not in ("来源", "备注"), overflow="fold")
    colours = {"已报": "green", "退回": "red", "待确认": "yellow", "未报": "bright_black"}
    for r in rows:
        state = r.state + ("（迟报）" if r.late else "")
        note = r.note + (f"记录号 {r.submissions[-1]}，确认：huizong accept {r.submissions[-1]} --note 理由" if r.state == "待确认" else "")
        table.add_row(
            escape(r.name), f"[{colours.get(r.state, 'white')}]{state}[/]", r.received_at.replace("T", " ")[5:16],
            str(r.version or ""), str(r.errors or ""), escape("文件夹" if r.sender == "folder" else r.sender), escape(note),
        )
    out.print(table)
    out.print(state_counts(rows))
    _say_codes_gone(ctx, month)
    refused = api.undelivered(ctx, month)
    if refused:
        out.print(f"另有 {len(refused)} 封邮件被发信服务器永久拒收，没有送达，也不会再发：")
        for mail in refused:
            to = "、".join(str(a) for a in mail["to"]) if isinstance(mail["to"], list) else str(mail["to"])
            out.print(f"  · {str(mail['failed_at'])[:16].replace('T', ' ')} 发给 {to}：{mail['subject']}（{mail['response']}）", markup=False)


@app.command()
def accept(
    submission: Annotated[int, typer.Argument(help="待确认或含待核实数据的记录号（huizong status 中显示）")],
    note: Annotated[str, typer.Option("--note", help="确认的理由，如“已电话核实为该村所报”")],
    workspace: WorkspaceOpt = Path("."),
    village: Annotated[str | None, typer.Option("--village", help="村代码（文件未能识别村时必填）")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="该村该月已有之后收到的报表时，仍以这份较早的为准")] = False,
) -> None:
    """确认接收一份“待确认”的报表，或确认一份含待核实数据（※）的报表的数字无误（记录确认人填写的理由）。"""
    ctx = _context(workspace)
    try:
        row = api.accept(ctx, submission, note, village, replace)
    except HuizongError as exc:
        _fail(exc)
        return
    confirmed = [str(m) for m in row["confirmed"]]  # type: ignore[attr-defined]
    what = f"记录 {row['id']}，{row['village_name'] or row['village_code']} {row['period']}，第 {row['version']} 版"
    out.print(f"已确认：{what}。", markup=False)
    for message in confirmed:
        out.print(f"  已核实：{message}", markup=False)
    if confirmed:
        out.print("汇总时该村不再标 ※。", markup=False)
    for message in row.get("found", []):  # type: ignore[attr-defined]
        out.print(f"  [提示 R006] {message}", markup=False)


@app.command()
def void(
    submission: Annotated[int, typer.Argument(help="要作废的记录号（huizong collect 的结果表第一列）")],
    note: Annotated[str, typer.Option("--note", help="作废的理由，如“镇里误放入收件箱的空白模板”")],
    workspace: WorkspaceOpt = Path("."),
    undo: Annotated[bool, typer.Option("--undo", help="撤销作废（记录号填错了）：恢复成作废之前的状态")] = False,
) -> None:
    """作废一份误收的文件（镇里自己试填的、误放进收件箱的模板或标注副本）：不再计入任何上报情况和汇总，原件仍在归档中。"""
    ctx = _context(workspace)
    try:
        row = api.void(ctx, submission, note, undo)
    except HuizongError as exc:
        _fail(exc)
        return
    village = f"{row['village_name'] or '未识别的村'} {row['period'] or ''}".strip()
    if undo:
        out.print(f"已撤销作废：记录 {row['id']}（{row['original_name']}，{village}）恢复为“{row['status']}”。理由已记入台账；需要时请重新汇总。",
                  markup=False)
        return
    what = f"记录 {row['id']}（{row['original_name']}，{village}，原为“{row['status']}”）"
    out.print(f"已作废：{what}。理由已记入台账，原件仍在归档中；需要时请重新汇总。", markup=False)


def _print_mail_out(result: api.MailOut, what: str, dry_run: bool) -> None:
    table = Table(title=f"{what}（{'预览，未发送' if dry_run else '已处理'}）")
    for col in ("收件人", "主题", "附件"):
        table.add_column(col, overflow="fold")
    for r in result.replies:
        table.add_row(escape("、".join(r.to)), escape(r.subject), escape("、".join(a[0] for a in r.attachments)))
    out.print(table)
    if result.skipped:
        out.print("没有发送（村名册中没有上报邮箱，或这一行有错）：" + "、".join(result.skipped), markup=False)
    if result.already:
        out.print(f"另有 {len(result.already)} 封此前已发过（或已在待发队列中），不再发送。", markup=False)
    if not dry_run:
        out.print(f"已发送 {result.sent} 封。")
    for p in result.problems:
        err.print(f"[{p.severity.value} {p.code}] {p.message}", markup=False)
    if result.problems:
        raise typer.Exit(1)


DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="只显示将发送的邮件，不发送")]


def _mail_command(workspace: Path, period: str, dry_run: bool, action: Any, what: str, codes_gone: bool = False) -> None:
    ctx = _context(workspace)
    month = _period(period)
    try:
        result = action(ctx, month, dry_run=dry_run)
    except HuizongError as exc:
        _fail(exc)
        return
    _print_mail_out(result, f"{ctx.programme.label(month)} {what}", dry_run)
    if codes_gone:  # a reminder chases villages: one whose reports sit under a code gone from the 村名册 is said
        _say_codes_gone(ctx, month)


def _say_codes_gone(ctx: api.Context, month: Month) -> None:
    """Reports in the ledger under a code the 村名册 no longer has (a code retyped 002 → 2): their village reads
    未报 here and is chased, though it reported. Said where status and reminders are shown, not only at consolidation."""
    for p in api.reports_of_no_village(ctx, month):
        _say(p)


@app.command()
def remind(workspace: WorkspaceOpt = Path("."), period: PeriodOpt = "", dry_run: DryRunOpt = False) -> None:
    """催报：给本月未报或被退回的村发送提醒邮件，附上该村本月的模板。"""
    _mail_command(workspace, period, dry_run, api.remind, "催报", codes_gone=True)


@app.command("send-templates")
def send_templates(workspace: WorkspaceOpt = Path("."), period: PeriodOpt = "", dry_run: DryRunOpt = False) -> None:
    """把本月的模板（已填好村名和报告期）分别发给每个村。"""
    _mail_command(workspace, period, dry_run, api.send_templates, "模板")


def _print_ranking(result: api.Consolidation, limit: int | None = None) -> None:
    scored = result.scored
    rules = scored.rules
    label = rules.total_label if rules else "总分"
    ascending = rules is not None and rules.order == "asc"
    title = f"按{label}从低到高" if ascending else f"满分 {scored.attainable:g}" + (f"，加分最多 {scored.bonus_attainable:g}" if scored.bonus_attainable else "")
    table = Table(title=f"{scored.data.programme.label(scored.data.period)} 排名（{title}）")
    for col in ("名次", "变化", scored.plan.programme.unit_label + "名", label, "基本分", "加分", "登记加减"):
        table.add_column(col, justify="left" if col == "变化" or col.endswith("名") else "right", no_wrap=True)
    # the remarks wrap (a narrow window gives them the room the numbers leave) rather than squeezing every number to "…"
    table.add_column("备注", overflow="fold", min_width=8)
    from .workbook.summary import rank_change
    from .workbook.summary.notice import not_ranked_names, verdicts

    verdict = verdicts(scored)
    waiting = {v["code"] for v in result.table["villages"] if v.get("unconfirmed")}
    for n, k in enumerate(scored.order()):
        if limit is not None and n >= limit:
            break
        adj = scored.adj_bonus[k] - scored.adj_deduction[k] + scored.rank_bonus[k]
        mark = "※" if scored.codes[k] in waiting else ""
        table.add_row(
            str(int(scored.rank[k])), rank_change(int(scored.rank[k]), int(scored.previous_rank[k])),
            escape(scored.data.villages[scored.index[k]].name + mark), f"{scored.total[k]:.2f}", f"{scored.base_total[k]:.2f}",
            f"{scored.bonus_total[k]:.2f}", f"{adj:+g}",
            "；".join(x for x in [verdict[k], "含待核实数据" if mark else "", *scored.flags[k]] if x),
        )
    out.print(table)
    missing = not_ranked_names(scored, result.statuses)
    if missing:
        out.print("未参评：" + "、".join(missing), markup=False)
    if waiting:
        out.print("※ 含待核实数据（与往月差异过大），见汇总表“数据质量”；镇里核实后用 huizong accept 记录号 --note 理由 确认。", markup=False)


@app.command()
def consolidate(
    workspace: WorkspaceOpt = Path("."),
    period: PeriodOpt = "",
    programme: Annotated[str | None, typer.Option("--programme", help="考核方案（默认用工作目录设置中的方案）")] = None,
    as_json: JsonOpt = False,
) -> None:
    """汇总排名：按考核方案计算各村得分和名次，生成 reports/报告期-汇总排名.xlsx。"""
    ctx = _context(workspace)
    if not period:
        _no_period()
    month = _period(period)
    try:
        result = api.consolidate(ctx, month, programme=programme)
    except HuizongError as exc:
        if as_json:  # another program reads stdout: it gets every problem, located, as data
            out.print_json(json.dumps({"ok": False, "problems": [p.to_dict() for p in exc.problems]}, ensure_ascii=False))
        # the 村名册's problems were printed when the workspace was opened: not a second time
        _fail(HuizongError([*(p for p in exc.problems if p not in ctx.registry_problems), api.not_made(ctx.workspace.summary_path(month))]))
        return
    for p in result.register_problems:
        err.print(f"[{p.severity.value} {p.code}] {p.file} {p.where}：{p.message}", markup=False)
    if as_json:
        out.print_json(json.dumps(result.table, ensure_ascii=False))
        return
    _print_ranking(result)
    out.print(f"汇总表：{result.path}", markup=False)
    empty = empty_months_line(result.scored.data)
    if empty:
        out.print(empty, markup=False, style="red")
    for line in result.notes:
        out.print(line, markup=False, style="red")
    if result.revision is not None:
        for line in result.revision.lines():
            out.print(line, markup=False, style="red")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="演示工作目录（会被覆盖）")] = Path("huizong-demo"),
    period: PeriodOpt = "2026-10",
    programme: Annotated[str, typer.Option("--programme", help="考核方案：qianfen（千分制）、monthly-b（社区月考核）、fruitfly-c（大实蝇联防）")] = "qianfen",
) -> None:
    """演示：内置示例镇（19 个村）1 月至本期的全过程：发模板、填报、收取校验、登记、汇总排名。"""
    from .demo import run_demo

    month = _period(period)
    try:
        with _progress() as bar:
            task = bar.add_task("演示", total=None, name="")
            result = run_demo(out_dir, month, progress=lambda i, n, name: bar.update(task, total=n, completed=i, name=name), programme=programme)
    except HuizongError as exc:
        _fail(exc)
        return
    out.print(f"演示工作目录：{result.workspace}", markup=False)
    out.print(f"{month.chinese}：{result.collected.line}")
    status(result.workspace, str(month), False)
    if result.consolidation:
        _print_ranking(result.consolidation, limit=10)
        out.print(f"汇总表（通报、得分明细、计算说明……）：{result.consolidation.path}", markup=False)


@app.command()
def serve(
    workspace: WorkspaceOpt = Path("."),
    port: Annotated[int | None, typer.Option("--port", help="端口（默认用设置中的 serve.port，或 8765）")] = None,
) -> None:
    """启动本机汇总服务（只监听 127.0.0.1），供 WPS 加载项和 Excel 控制台的按钮调用；按 Ctrl+C 停止。"""
    import logging

    from .serve import make_server, open_log

    try:
        server, service = make_server(workspace, port)
    except HuizongError as exc:
        _fail(exc)
        return
    except OSError as exc:
        _say(Problem("X009", detail=f"端口 {port or ''}：{exc.strerror or exc}"))
        raise typer.Exit(2) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[open_log(service.root), logging.StreamHandler()])
    out.print(f"汇总服务已启动：http://127.0.0.1:{service.port}/  工作目录 {service.root}", markup=False)
    out.print("按 Ctrl+C 停止。")
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        out.print("正在停止……")
    finally:
        server.server_close()
    out.print("汇总服务已停止。")


from . import cli_office, cli_programme  # noqa: E402,F401 - register the office and programme commands on `app`


def main(argv: list[str] | None = None) -> Any:
    if sys.platform == "win32":  # old consoles default to GBK; rich writes UTF-8 through the Windows API
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.reconfigure(errors="replace")  # type: ignore[attr-defined]
            except (AttributeError, ValueError):
                pass
    usage = _usage_errors()
    try:
        code = app(args=argv, prog_name="huizong", standalone_mode=False)
    except usage.UsageError as exc:  # said by the command-line library in English: in Chinese, with the fix
        if type(exc).__name__ == "NoArgsIsHelpError":  # `huizong` alone: its help, as always
            out.print(exc.format_message(), markup=False, highlight=False)
        else:
            _say(Problem("X050", detail=usage_chinese(exc, usage)))
        raise SystemExit(2) from None
    except typer.Abort:  # Ctrl+C at a prompt
        err.print("已中断。")
        raise SystemExit(1) from None
    except Exception as exc:  # never a traceback for the clerk: the problem, and where to turn
        problems = exc.problems if isinstance(exc, HuizongError) else [unexpected(exc)]
        try:
            _fail(HuizongError(problems))
        except typer.Exit as done:
            raise SystemExit(done.exit_code) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _usage_errors() -> Any:
    """The command-line library's exceptions: typer's own copy of click where it has one (typer ≥ 0.19), else click."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions  # type: ignore[no-redef,import-not-found,unused-ignore]
    return exceptions


def usage_chinese(exc: Any, usage: Any) -> str:
    """A command-line mistake (an option misspelt or without its value, a path with a space unquoted) in Chinese."""
    said = exc.format_message()
    param = getattr(exc, "param", None)
    opts = list(getattr(param, "opts", None) or [])
    # an argument by what its help calls it (“记录号”), an option by its flag (--note)
    label = "/".join(o for o in opts if o.startswith("-")) or str(getattr(param, "help", "") or getattr(param, "name", "")).split("（")[0]
    if isinstance(exc, usage.NoSuchOption):
        close = "、".join(exc.possibilities or ())
        return f"没有 {exc.option_name} 这个选项" + (f"（是不是 {close}？）" if close else "")
    if isinstance(exc, usage.MissingParameter):
        return f"缺少{' ' if label.startswith('-') else ''}{label}" + ("（后面写上理由，如 --note 已电话核实）" if label == "--note" else "")
    if isinstance(exc, usage.BadOptionUsage) and "requires an argument" in said:
        return f"{exc.option_name} 后面要写上值" + ("（如 --period 2026-10）" if exc.option_name == "--period" else "")
    extra = re.match(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", said)
    if extra:
        return (f"多出了“{extra[1]}”：路径中有空格的，请用英文双引号把整个路径括起来（如 -w \"D:\\汇总 2026\"）；"
                "报告期写在 --period 后面")
    command = re.match(r"No such command '(.*?)'\.(?: Did you mean '(.*?)'\?)?", said)
    if command:
        return f"没有 {command[1]} 这个命令" + (f"（是不是 {command[2]}？）" if command[2] else "")
    if isinstance(exc, usage.BadParameter):
        return f"{label}应为整数" if "integer" in said else f"{label}的值不对"
    return said


