"""The one registry of the buttons' actions: 生成模板, 发送模板, 收取邮件, 校验, 汇总排名, 催报, 打开汇总表.

Every face runs them from here and only shows what comes back: the ``huizong button`` command, the
Excel console and add-in (through xlwings or the command line), the macro-free console's ``main()``,
the local service ``huizong serve`` and the WPS add-in's ribbon. Names, labels, confirmations, the one
line said to the clerk and the sheets written back are therefore the same everywhere; the VBA button
list, the Excel ribbon and the WPS ribbon and script table are generated from ``ACTIONS``.

An action that mails every village does nothing unless the caller says the clerk confirmed it
(``confirmed=True``): a face that forgets to ask gets X030, never a mass mailing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import api
from .problems import HuizongError, Problem
from .programme.periods import Month
from .views import View, inbox_checks_rows, problems_view, ranking_view, status_view

Progress = Callable[[int, int, str], None]
CANCELLED = "已取消。"  # what every face says when the clerk answers No to a confirmation
SHOWN_PROBLEMS = 5  # detail lines under the one-line message; the rest are counted


@dataclass
class Outcome:
    """What an action did: one line for the clerk, the sheets to write back, the file to open."""

    action: str
    message: str
    views: list[View] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    path: str = ""  # the file made or meant (汇总表, 模板文件夹)
    open_path: bool = False  # the face opens ``path`` in its own program (Excel, WPS)

    @property
    def text(self) -> str:
        """What every face shows: the message, then the first problems' messages, one a line."""
        return display_text(self.message, self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, "action": self.action, "message": self.message, "text": self.text,
                "views": [v.to_dict() for v in self.views], "problems": [p.to_dict() for p in self.problems],
                "path": self.path, "open": self.open_path}


def display_text(message: str, problems: list[Problem]) -> str:
    lines = [message] if message else []
    lines += [p.message for p in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"……另有 {len(problems) - SHOWN_PROBLEMS} 条")
    return "\n".join(lines)


def failure_text(problems: list[Problem]) -> str:
    """What every face shows when an action could not run (HuizongError)."""
    return display_text("", problems)


@dataclass(frozen=True)
class Action:
    name: str  # in URLs (/collect), on the command line (huizong button collect) and in the VBA
    label: str  # the button's caption
    macro: str  # the console's VBA macro (Excel form button, ribbon callback Ribbon<macro>)
    button: str  # the WPS ribbon control id
    icon: str  # the Excel ribbon's built-in image (imageMso)
    run: Callable[[api.Context, Month, Progress | None, bool], Outcome]
    confirm: str = ""  # asked before it runs ({period} filled in); empty: no question
    writes: tuple[str, ...] = ()  # the sheets it writes back

    def confirm_text(self, period: Month, programme: Any = None) -> str:
        return self.confirm.format(period=programme.label(period) if programme is not None else period.chinese)


def _templates(ctx: api.Context, period: Month, progress: Progress | None, dry_run: bool) -> Outcome:
    paths = api.make_templates(ctx, period)
    folder = str(paths[0].parent) if paths else ""
    return Outcome("templates", f"已生成{ctx.programme.label(period)}的模板 {len(paths)} 份：{folder}", path=folder)


def _mail_line(what: str, out: api.MailOut, dry_run: bool) -> str:
    line = f"将发送{what} {len(out.replies)} 封（预览，未发送）" if dry_run else f"已发送{what} {out.sent} 封"
    if out.already:
        line += f"；另有 {len(out.already)} 封此前已发过，不再发送"
    if out.skipped:
        line += f"；没有发送（没有上报邮箱，或村名册这一行有错）：{'、'.join(out.skipped)}"
    return line


def _send_templates(ctx: api.Context, period: Month, progress: Progress | None, dry_run: bool) -> Outcome:
    out = api.send_templates(ctx, period, dry_run=dry_run)
    return Outcome("send-templates", _mail_line(f"{ctx.programme.label(period)}模板", out, dry_run), problems=out.problems)


def period_status_view(ctx: api.Context, period: Month) -> View:
    """上报情况 of ``period``; for a month the programme has no reports for (C: June to December), no table of
    every village 未报 but the reason, as status and consolidate say it (X041)."""
    try:
        api.not_reported(ctx.programme, period)
    except HuizongError as exc:
        view = status_view([], period, ctx.programme.label(period))
        view.note = exc.problems[0].message
        return view
    return status_view(api.status(ctx, period), period, ctx.programme.label(period))


def _collect(ctx: api.Context, period: Month, progress: Progress | None, dry_run: bool) -> Outcome:
    summary = api.collect(ctx, progress=progress)
    views = [period_status_view(ctx, period), problems_view(ctx, period)]
    return Outcome("collect", summary.line, views, summary.problems)


def inbox_files(ctx: api.Context) -> list[Path]:
    """The files waiting in inbox/ (not yet collected), by name."""
    inbox = ctx.workspace.inbox
    if not inbox.is_dir():
        return []
    return sorted((p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)


def _validate(ctx: api.Context, period: Month, progress: Progress | None, dry_run: bool) -> Outcome:
    """校验: check every file now in inbox/ (nothing recorded, nothing moved), and list them with the
    problems already recorded for the period."""
    files = inbox_files(ctx)
    checks = api.validate_files(files, ctx=ctx, progress=progress) if files else []
    view = problems_view(ctx, period)
    recorded = len(view.rows)
    fresh, colours = inbox_checks_rows(checks, ctx.programme)
    view.rows[:0], view.colours[:0] = fresh, colours
    bad = sum(1 for c in checks if not c.valid)
    first = (f"校验收件箱中的 {len(checks)} 个文件：通过 {len(checks) - bad} 个，有错误 {bad} 个" if checks
             else "收件箱中没有待收取的文件")
    view.note = f"{first}；{ctx.programme.label(period)}已登记的问题 {recorded} 处。"
    return Outcome("validate", view.note, [view, period_status_view(ctx, period)])


def _consolidate(ctx: api.Context, period: Month, progress: Progress | None, dry_run: bool) -> Outcome:
    try:
        result = api.consolidate(ctx, period)
    except HuizongError as exc:
        raise HuizongError([*exc.problems, api.not_made(ctx.workspace.summary_path(period))]) from exc
    message = f"已汇总排名：{len(result.scored.index)} 个参评，汇总表 {result.path.name}"
    for note in result.notes:  # said on every face: tasks all 0, or last year's
        message += "。" + note
    if result.revision is not None:  # the month was made before with other numbers
        message += "。" + result.revision.line()
    return Outcome("consolidate", message, [ranking_view(result)], result.register_problems, str(result.path))


def _remind(ctx: api.Context, period: Month, progress: Progress | None, dry_run: bool) -> Outcome:
    out = api.remind(ctx, period, dry_run=dry_run)
    return Outcome("remind", _mail_line("催报", out, dry_run), problems=out.problems)


def _open_summary(ctx: api.Context, period: Month, progress: Progress | None, dry_run: bool) -> Outcome:
    path = ctx.workspace.summary_path(period)
    if not path.is_file():
        raise HuizongError(Problem("X006", detail=f"{path.name}（请先点“汇总排名”）"))
    return Outcome("open-summary", f"已打开 {path.name}", path=str(path), open_path=True)


ACTIONS: tuple[Action, ...] = (
    Action("templates", "生成模板", "HzTemplates", "btnTemplates", "FileNew", _templates),
    Action("send-templates", "发送模板", "HzSendTemplates", "btnSendTemplates", "EnvelopesAndLabelsDialog", _send_templates,
           confirm="将给村名册中登记了邮箱的每个村发送{period}的模板邮件，确定吗？"),
    Action("collect", "收取邮件", "HzCollect", "btnCollect", "GetExternalDataFromText", _collect, writes=("上报情况", "问题清单")),
    Action("validate", "校验", "HzValidate", "btnValidate", "ReviewAcceptChange", _validate, writes=("问题清单", "上报情况")),
    Action("consolidate", "汇总排名", "HzConsolidate", "btnConsolidate", "SortDialog", _consolidate, writes=("排名",)),
    Action("remind", "催报", "HzRemind", "btnRemind", "ReminderSound", _remind,
           confirm="将给{period}未报和被退回的村发送催报邮件，确定吗？"),
    Action("open-summary", "打开汇总表", "HzOpenSummary", "btnOpenSummary", "FileOpen", _open_summary),
)
BY_NAME = {a.name: a for a in ACTIONS}
BY_LABEL = {a.label: a for a in ACTIONS}


def find(name: str) -> Action:
    """The action called ``name`` (or labelled so); X015 when there is none."""
    action = BY_NAME.get(name.strip()) or BY_LABEL.get(name.strip())
    if action is None:
        raise HuizongError(Problem("X015", detail=f"操作“{name}”（可用：{'、'.join(a.name for a in ACTIONS)}）"))
    return action


def perform(name: str, ctx: api.Context, period: Month, *, confirmed: bool = False, dry_run: bool = False,
            progress: Progress | None = None) -> Outcome:
    """Run one action for ``period``. Raises HuizongError (with its problems) when it cannot."""
    action = find(name)
    if action.confirm and not (confirmed or dry_run):
        raise HuizongError(Problem("X030", detail=action.confirm_text(period, ctx.programme)))
    return action.run(ctx, period, progress, dry_run)


def default_period(ctx: api.Context, today: Month) -> Month:
    """The latest month any report was received for; before the first report, the month before ``today``."""
    months = api.all_year_months(ctx.programme, ctx)
    return months[-1] if months else today.shift(-1)


def period_or_default(text: object, ctx: api.Context, today: Month) -> Month:
    """The period a clerk chose (``2026-10``, a date cell, …) or, when none, :func:`default_period`.

    A wrong one is refused (X005), never replaced."""
    if text is None or str(text).strip() == "":
        return default_period(ctx, today)
    month = Month.try_parse(text)
    if month is None:
        raise HuizongError(Problem("X005", value=str(text).strip()))
    return month


# ---- the plain-text form of an outcome, for the VBA (it has no JSON parser) -------------------------
# One record a line, fields separated by tabs; in each field \ t n r are escaped with a backslash.
# A cell is "s<text>" (written as text) or "n<number>" (written as a number).

TEXT_MAGIC = "HUIZONG\t1"


def _esc(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "s" + ("" if value is None else _esc(value))
    if isinstance(value, (int, float)):
        return "n" + repr(float(value) if isinstance(value, float) else int(value))
    return "s" + _esc(value)


def outcome_text(outcome: Outcome | None, problems: list[Problem] | None = None) -> str:
    """The outcome (or, with ``problems``, the failure) as the lines the VBA's PaintText reads."""
    lines = [TEXT_MAGIC]
    if outcome is None:
        lines += ["ok\t0", "text\t" + _esc(failure_text(problems or []))]
    else:
        lines += ["ok\t1", "text\t" + _esc(outcome.text)]
        if outcome.path:
            lines.append(("open\t" if outcome.open_path else "path\t") + _esc(outcome.path))
        for view in outcome.views:
            lines.append("\t".join(["view", _esc(view.sheet), _esc(view.title), _esc(view.note)]))
            lines.append("\t".join(["head", *(_cell(h) for h in view.headers)]))
            for row, colour in zip(view.rows, view.colours):
                lines.append("\t".join(["row", colour or "", *(_cell(v) for v in row)]))
    lines.append("end")
    return "\r\n".join(lines) + "\r\n"


NO_SERVICE = "连接不上本机的汇总服务。请先启动汇总服务（huizong serve，或重新登录让它自动启动），再点按钮。"


def script_js() -> str:
    """js/actions.js, what the WPS script reads: the registry (what each ribbon button does) and its messages."""
    table = [{"name": a.name, "label": a.label, "button": a.button, "confirm": a.confirm, "writes": list(a.writes)} for a in ACTIONS]
    messages = {"bad_period": Problem("X005", value="{value}").message, "cancelled": CANCELLED, "no_service": NO_SERVICE}
    return ("/* 由 huizong 按 pipeline/actions.py 的按钮表和问题代码表生成。 */\n"
            f"var HUIZONG_ACTIONS = {json.dumps(table, ensure_ascii=False)};\n"
            f"var HUIZONG_TEXT = {json.dumps(messages, ensure_ascii=False)};\n")
