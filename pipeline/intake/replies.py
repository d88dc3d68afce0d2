"""The words of huizong's mail: receipts, requests to correct, reminders, templates — in Chinese.

Pure functions: they compose a :class:`Reply`; queuing and sending are the outbox's job.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..check import FileCheck
from ..ledger.db import ACCEPTED, DUPLICATE, PENDING, REJECTED
from ..ledger.mail import Reply
from ..programme.config import Programme
from ..programme.periods import Month

SHOWN_PROBLEMS = 30


def make_message_id(key: str, domain: str) -> str:
    return f"<huizong.{hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]}@{domain or 'huizong.local'}>"


def _figures(check: FileCheck, p: Programme) -> list[str]:
    lines = []
    for f in p.fields:
        if f.id in check.read.values:
            v = check.read.values[f.id]
            shown = f"{v:g}" if isinstance(v, float) else str(v)
            lines.append(f"  {f.label}：{shown} {f.unit}".rstrip())
    if p.register:
        lines.append(f"  {p.register.label}：{len(check.read.register)} 行")
    return lines


def _problem_lines(check: FileCheck) -> list[str]:
    lines = []
    for n, p in enumerate(check.problems[:SHOWN_PROBLEMS], 1):
        where = " ".join(x for x in (p.sheet and f"工作表“{p.sheet}”", p.cell and f"单元格 {p.cell}") if x)
        lines.append(f"  {n}. 【{p.severity.value}】{where}：{p.message}")
    if len(check.problems) > SHOWN_PROBLEMS:
        lines.append(f"  ……另有 {len(check.problems) - SHOWN_PROBLEMS} 处，详见附件中的“校验结果”工作表。")
    return lines


def message_reply(
    message: Any,
    results: list[tuple[str, FileCheck, dict[str, Any], str | None]],
    programme: Programme,
    organ: str,
    domain: str,
) -> Reply:
    """One reply per received message, covering every report in it (and what was ignored).

    ``results``: (attachment name, check, ledger row, workspace-relative feedback path or None).
    """
    parts: list[str] = [f"{message.sender_name or message.sender}：", ""]
    attachments: list[tuple[str, str]] = []
    statuses = [row["status"] for _, _, row, _ in results]
    for name, check, row, feedback in results:
        village = row["village_name"] or "（未能识别的村）"
        period = Month.parse(row["period"]).chinese if row["period"] else "（报告期不明）"
        status = row["status"]
        if status == ACCEPTED:
            parts.append(f"■ {name}：{village} {period}月报已收到，校验通过（第 {row['version']} 版，以最后一次通过的为准）。请核对以下主要数据：")
            parts += _figures(check, programme)
            if check.warnings:
                parts.append("  读取时自动规范了以下填写，请核对：")
                parts += _problem_lines(FileCheck(check.file, check.read, check.identity, check.warnings))
        elif status == REJECTED:
            parts.append(f"■ {name}：{village} {period}月报未通过校验，发现错误 {len(check.errors)} 处，请修改后重新发送整个文件：")
            parts += _problem_lines(check)
            if feedback:
                attachments.append((f"{_stem(name)}_校验结果.xlsx", feedback))
                parts.append("  附件是标注后的原表：红色单元格为错误，鼠标移到单元格上可看说明，第一个工作表列出全部问题。")
        elif status == PENDING:
            parts.append(f"■ {name}：{village} {period}月报已收到，内容校验通过，但需镇里核实后才计入（原因见下）：")
            parts += _problem_lines(FileCheck(check.file, check.read, check.identity, [p for p in check.problems if p.code.startswith("I")]))
        elif status == DUPLICATE:
            parts.append(f"■ {name}：与此前收到的文件完全相同，已登记，不重复计入。")
        parts.append("")
    if message.ignored:
        parts.append("以下附件不是报表，未处理：")
        parts += [f"  · {i.name}：{i.reason}" for i in message.ignored]
        parts.append("")
    if not results:
        parts.append("您的邮件已收到，但其中没有找到报表（Excel 工作簿）附件。请把填好的月报表作为附件重新发送（不要截图或拍照）。")
        parts.append("")
    parts += [f"{organ}", "（本邮件由汇总系统自动发送，如有疑问请直接回复或电话联系镇计生办。）"]
    if not results:
        kind, subject = "no_report", "【未找到报表】请把月报表作为附件重新发送"
    elif REJECTED in statuses:
        kind, subject = "rejection", f"【请修改后重发】{_title(results)}：发现错误"
    elif PENDING in statuses:
        kind, subject = "pending", f"【已收到，待核实】{_title(results)}"
    else:
        kind, subject = "receipt", f"【已收到】{_title(results)}：校验通过"
    key = f"reply:{message.message_id}"
    return Reply(kind, key, [message.sender], subject, "\n".join(parts), attachments, make_message_id(key, domain),
                 in_reply_to=f"<{message.message_id}>" if "@" in message.message_id else None,
                 village_code=next((r["village_code"] for _, _, r, _ in results if r["village_code"]), None),
                 period=next((r["period"] for _, _, r, _ in results if r["period"]), None))


def _title(results: list[tuple[str, FileCheck, dict[str, Any], str | None]]) -> str:
    names = sorted({r["village_name"] for _, _, r, _ in results if r["village_name"]})
    periods = sorted({Month.parse(r["period"]).chinese for _, _, r, _ in results if r["period"]})
    return f"{'、'.join(names) or '报表'} {'、'.join(periods)}月报".strip()


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


def reminder(village: Any, period: Month, state: str, deadline: str, organ: str, template: tuple[str, str], domain: str, today: str) -> Reply:
    why = "还没有收到" if state == "未报" else "收到的报表未通过校验，还没有收到改好的"
    body = "\n".join([
        f"{village.name}：",
        "",
        f"截至目前，镇里{why}贵{'社区' if village.name.endswith('社区') else '村'} {period.chinese} 的月报表。请于 {deadline} 前填好报送（作为邮件附件发送即可）。",
        "附件是贵单位本月的报表模板（村名、报告期已填好），请直接在黄色格子中填写。",
        "如已发送，请忽略本邮件；如有困难，请电话联系镇计生办。",
        "",
        organ,
    ])
    key = f"reminder:{village.code}:{period}:{today}"
    return Reply("reminder", key, list(village.emails), f"【催报】请报送{period.chinese}月报表（{village.name}）", body, [template],
                 make_message_id(key, domain), village_code=village.code, period=str(period))


def template_mail(village: Any, period: Month, deadline: str, organ: str, template: tuple[str, str], domain: str) -> Reply:
    body = "\n".join([
        f"{village.name}：",
        "",
        f"附件是贵单位 {period.chinese} 的月报表模板（村名、报告期已填好，带校验签名），请在黄色格子中填写，",
        f"于 {deadline} 前作为邮件附件回复本邮箱。请不要使用别村或往月的表格。",
        "",
        organ,
    ])
    key = f"template:{village.code}:{period}"
    return Reply("template", key, list(village.emails), f"【报表模板】{period.chinese}月报表（{village.name}）", body, [template],
                 make_message_id(key, domain), village_code=village.code, period=str(period))
