"""The words of huizong's mail: receipts, requests to correct, reminders, templates — in Chinese.

Pure functions: they compose a :class:`Reply`; queuing and sending are the outbox's job.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..check import FileCheck
from ..ledger.db import ACCEPTED, DUPLICATE, PENDING, REJECTED
from ..ledger.mail import Reply
from ..problems import Problem, show_value
from ..programme.config import Programme
from ..programme.periods import Month
from ..validate.plausibility import OUTLIER, changed_much, receipt_margin
from .mimetext import reference

SHOWN_PROBLEMS = 30
OWN_FILES = {  # a file we mailed, forwarded or kept in a reply as it was (by the kind of mail that carried it)
    "template": "镇里发出的模板原件（没有填写），不作为报表计入",
    "reminder": "镇里催报时附上的模板原件（没有填写），不作为报表计入",
    "rejection": "镇里退回时附上的标注副本原件（没有修改），不作为报表计入",
    "": "镇里发出的文件原件，不作为报表计入",
}
FOOTER = "（本邮件由汇总系统自动发送，如有疑问请直接回复本邮件，或电话联系{organ}。）"


def make_message_id(key: str, domain: str) -> str:
    return f"<huizong.{hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]}@{domain or 'huizong.local'}>"


def _figures(check: FileCheck, p: Programme) -> list[str]:
    lines = []
    month, before = check.previous or ("", {})
    when = _month_word(month, check.identity.period, p)
    for f in p.fields:
        if f.id in check.read.values:
            v = check.read.values[f.id]
            line = f"  {f.label}：{show_value(v)} {f.unit}".rstrip()
            margin = receipt_margin(p, f.id) if f.numeric else None
            if margin is not None and changed_much(v, before.get(f.id), margin):  # a typo no rule can tell from a real month
                line += f"（{when} {show_value(before[f.id])}，请核对）"
            lines.append(line)
    if p.register:
        lines.append(f"  {p.register.label}：{len(check.read.register)} 行")
    return lines


def _month_word(month: str, period: Month | None, p: Programme) -> str:
    """上月, or the period itself as the programme names it (a quarter, or a month further back)."""
    earlier = Month.try_parse(month)
    if earlier is None:
        return "此前"
    return "上月" if p.period_kind == "month" and period is not None and earlier == period.shift(-1) else p.label(earlier)


def _problem_lines(problems: Sequence[Problem]) -> list[str]:
    lines = []
    for n, p in enumerate(problems[:SHOWN_PROBLEMS], 1):
        where = " ".join(x for x in (p.sheet and f"工作表“{p.sheet}”", p.cell and f"单元格 {p.cell}") if x)
        lines.append(f"  {n}. 【{p.severity.value}】{where}：{p.message}")
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"  ……另有 {len(problems) - SHOWN_PROBLEMS} 处，详见附件中的“校验结果”工作表。")
    return lines


@dataclass(frozen=True)
class Result:
    """One report of a message as recorded, with what the reply must say about it."""

    name: str
    check: FileCheck
    row: dict[str, Any]  # the submission as recorded
    feedback: str | None  # workspace-relative annotated copy, for a file sent back
    earlier: dict[str, Any] | None = None  # for 重复 (or a file refused again): the same bytes' first submission, as it stands now
    current_version: int | None = None  # the accepted version that counts now (after a refusal: one accepted since it)
    preview: tuple[str, ...] = ()  # what the village's reports come to (score, subsidies, judgements): heading, lines

    @property
    def standing(self) -> str:
        """What this file amounts to now: a resend is what its first arrival became."""
        if self.row["status"] not in (DUPLICATE, REJECTED) or self.earlier is None:
            return str(self.row["status"])
        if self.earlier["status"] == REJECTED:  # sent back once: nothing to fix if a good version came since
            return DUPLICATE if self.current_version else REJECTED
        return str(self.earlier["status"])


def message_reply(message: Any, results: list[Result], programme: Programme, organ: str, domain: str,
                  registered: bool = True, digest: str = "") -> Reply | None:
    """One reply per received message, covering every report in it (and what was ignored).

    None for a village's answer to one of our mails with nothing in it but words (or our own files):
    a thanks or a question is for the clerk to read, not for a request to attach the report.

    To an address that is not in the registry the reply says only that the mail arrived and waits
    for the township: no figures, no problems quoted, no attachment — anyone can put any address
    in From, and the township's mailbox must not relay a stranger's workbook or words to it.
    """
    if not registered and results:
        return _unregistered_reply(message, len(results), organ, domain, digest)
    if not results and message.answers_us and not message.big_link and all(i.ours for i in message.ignored):
        return None
    parts: list[str] = [f"{message.sender_name or message.sender}：", ""]
    attachments: list[tuple[str, str]] = []
    # several reports of one village and month in this mail: the one accepted last counts (say which), and a
    # refused one before it needs no fixing
    counted = {(r.row["village_code"], r.row["period"]): r for r in results if r.row["status"] == ACCEPTED and r.row["village_code"]}
    accepted_here = Counter((r.row["village_code"], r.row["period"]) for r in results if r.row["status"] == ACCEPTED)

    def fixed_here(r: Result) -> Result | None:
        """The file accepted after this refused one in the same mail, for the same village and month."""
        best = counted.get((r.row["village_code"], r.row["period"]))
        return best if r.row["status"] == REJECTED and best is not None and best.row["id"] > r.row["id"] else None

    for r in results:
        name, check, row, feedback = r.name, r.check, r.row, r.feedback
        village = row["village_name"] or "（未能识别的村）"
        period = programme.label(Month.parse(row["period"])) if row["period"] else "（报告期不明）"
        status = row["status"]
        best = counted.get((row["village_code"], row["period"]))
        if status == ACCEPTED:
            parts.append(f"■ {name}：{village} {period}{programme.report_word}已收到，校验通过（第 {row['version']} 版，以最后一次通过的为准）。请核对以下主要数据：")
            if accepted_here[(row["village_code"], row["period"])] > 1:
                parts.append(f"  本邮件中{village} {period}有 {accepted_here[(row['village_code'], row['period'])]} 份通过校验，"
                             f"以附件中排在后面的“{best.name if best else name}”为准；如不对，请只重发正确的那一份。")
            parts += _figures(check, programme)
            if best is r and r.preview:  # said once, under the file that counts
                parts += [f"  {r.preview[0]}", *(f"    {line}" for line in r.preview[1:])]
            outliers = [p for p in check.warnings if p.code == OUTLIER]
            others = [p for p in check.warnings if p.code != OUTLIER]
            if outliers:
                parts.append("  以下数字与往月差异过大，请核实（照常计分，镇里核实确认之前通报中标 ※）：")
                parts += _problem_lines(outliers)
            if others:
                parts.append("  读取时自动规范了以下填写，请核对：")
                parts += _problem_lines(others)
        elif (fixed := fixed_here(r)) is not None:
            parts.append(f"■ {name}：未通过校验，但同一邮件中的“{fixed.name}”已校验通过（第 {fixed.row['version']} 版），以它为准，这一份不必再改。")
        elif r.standing == REJECTED:
            if r.earlier is None or r.earlier["status"] != REJECTED:
                parts.append(f"■ {name}：{village} {period}{programme.report_word}未通过校验，发现错误 {len(check.errors)} 处，请修改后重新发送整个文件：")
            else:
                parts.append(f"■ {name}：与此前退回的文件完全相同（没有修改），仍未通过校验，错误 {len(check.errors)} 处，请修改后重新发送整个文件：")
            parts += _problem_lines(check.problems)
            if feedback:
                attachments.append((f"{_stem(name)}_校验结果.xlsx", feedback))
                parts.append("  附件是标注后的原表：红色单元格为错误，鼠标移到单元格上可看说明，第一个工作表列出全部问题。")
        elif status == PENDING:
            parts.append(f"■ {name}：{village} {period}{programme.report_word}已收到，内容校验通过，但需镇里核实后才计入（原因见下）：")
            parts += _problem_lines([p for p in check.problems if p.code.startswith("I")])
            outliers = [p for p in check.warnings if p.code == OUTLIER]
            if outliers:  # said now: accepting the report later sends no further mail
                parts.append("  另外，以下数字与往月差异过大，请核实（核实之前通报中标 ※）：")
                parts += _problem_lines(outliers)
        elif status == DUPLICATE or r.standing == DUPLICATE:
            parts.append(f"■ {name}：{_resend(r, village, period)}")
        parts.append("")
    if results and message.big_link:  # a file beside the reports came as a link: it may be one of them
        parts.append(f"邮件中还有以“{message.big_link}”下载链接发来的文件，系统无法从链接下载，没有收到。"
                     "如果那也是报表，请用普通的“添加附件”把它直接附上，重新发送。")
        parts.append("")
    if message.ignored:
        parts.append("以下附件不是报表，未处理：")
        parts += [f"  · {i.name}：{i.reason}" for i in message.ignored]
        parts.append("")
    if not results and message.big_link:
        parts.append(f"您的邮件已收到，但报表是以“{message.big_link}”的下载链接发来的，系统无法从链接下载文件。"
                     "请在写邮件时用普通的“添加附件”把填好的报表（Excel 文件，通常不到 1 MB）直接附上，重新发送。")
        parts.append("")
    elif not results:
        parts.append("您的邮件已收到，但其中没有找到报表（Excel 工作簿）附件。请把填好的报表作为附件重新发送（不要截图或拍照）。")
        parts.append("如果您只是来信说明情况或询问，不必理会本邮件：镇里会看到您的来信。")
        parts.append("")
    parts += [f"{organ}", FOOTER.format(organ=organ)]
    standings = [DUPLICATE if fixed_here(r) is not None else r.standing for r in results]
    if not results:
        kind, subject = "no_report", ("【未找到报表】请用普通附件重新发送" if message.big_link else "【未找到报表】请把报表作为附件重新发送")
    elif REJECTED in standings:
        kind, subject = "rejection", f"【请修改后重发】{_title(results, programme)}：发现错误"
    elif PENDING in standings:
        kind, subject = "pending", f"【已收到，待核实】{_title(results, programme)}"
    elif ACCEPTED in standings and any(r.row["status"] == ACCEPTED for r in results):
        kind, subject = "receipt", f"【已收到】{_title(results, programme)}：校验通过"
    else:
        kind, subject = "receipt", f"【已收到】{_title(results, programme)}：与此前的文件相同，不重复计入"
    return _reply_to(message, kind, subject, "\n".join(parts), attachments, results, domain, digest)


def _resend(r: Result, village: str, period: str) -> str:
    """A byte-identical resend, told truthfully: what the first arrival became, and what counts now."""
    e = r.earlier
    when = f"{str(e['received_at'])[5:7].lstrip('0')}月{str(e['received_at'])[8:10].lstrip('0')}日" if e and e["received_at"] else "此前"
    if e is None:
        return "与此前收到的文件完全相同，已登记，不重复计入。"
    if e["status"] == ACCEPTED:
        now = f"目前以第 {r.current_version} 版为准" if r.current_version and r.current_version != e["version"] else "仍以它为准"
        return f"与 {when}收到的{village} {period}报表第 {e['version']} 版完全相同，不重复计入；{now}。"
    if e["status"] == PENDING:
        return f"与 {when}收到、正在等待镇里核实的文件完全相同，不重复计入；核实后以镇里的通知为准。"
    return (f"与 {when}退回的文件完全相同，这份仍有错误，不计入；{village} {period}已有校验通过的第 "
            f"{r.current_version} 版，仍以第 {r.current_version} 版为准。")


def _unregistered_reply(message: Any, count: int, organ: str, domain: str, digest: str = "") -> Reply:
    body = "\n".join([
        "您好：",
        "",
        f"您的邮件已收到。发件邮箱 {message.sender} 不是村名册中登记的上报邮箱，邮件中的 {count} 份报表已转交镇里核实，"
        "核实之前不计入汇总，本邮件也不列出其内容。",
        f"如您是村里的报表员，请用村名册中登记的邮箱重新发送，或电话联系{organ}登记您的邮箱。",
        "",
        organ,
        FOOTER.format(organ=organ),
    ])
    return _reply_to(message, "unregistered", "【已收到，待核实】发件邮箱未登记", body, [], [], domain, digest)


def _reply_to(message: Any, kind: str, subject: str, body: str, attachments: list[tuple[str, str]], results: list[Result],
              domain: str, digest: str = "") -> Reply:
    # one reply per message: its Message-ID and its digest (a broken client or gateway gives several messages one ID)
    key = f"reply:{message.message_id}" + (f":{digest[:16]}" if digest else "")
    return Reply(kind, key, [message.sender], subject, body, attachments, make_message_id(key, domain),
                 in_reply_to=reference(message.message_id),
                 village_code=next((r.row["village_code"] for r in results if r.row["village_code"]), None),
                 period=next((r.row["period"] for r in results if r.row["period"]), None))


def _title(results: list[Result], programme: Programme) -> str:
    names = sorted({r.row["village_name"] for r in results if r.row["village_name"]})
    periods = [programme.label(m) for m in sorted({Month.parse(r.row["period"]) for r in results if r.row["period"]})]
    if not names and not periods:  # neither read: not "报表 月报"
        return f"您发来的{programme.report_word}"
    if len(names) > 3 or len(periods) > 3:  # a mail of many files: 19 villages × 10 months in one subject said every
        return f"您发来的 {len(results)} 份{programme.report_word}（{len(names)} 个{programme.unit_label}、{len(periods)} 个报告期，见正文）"
    return f"{'、'.join(names) or '报表'} {'、'.join(periods)}{programme.report_word[:-1]}".strip()


def _stem(name: str) -> str:
    """The name without extension, and without the suffix of an annotated copy (a copy of a copy is not 校验结果_校验结果)."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem.removesuffix("_校验结果")


def late_outliers(row: Any, problems: list[Problem], programme: Programme, organ: str, domain: str) -> Reply:
    """To the sender of a mailed report: numbers found out of line after its reply went (the first month of
    use, compared with the whole month once every report was in). Its reply had said 校验通过 and nothing more."""
    period = programme.label(Month.parse(row["period"]))
    body = "\n".join([
        f"{row['village_name']}：",
        "",
        f"贵单位 {period}的{programme.report_word}（{row['original_name']}）已按收到的数字计分。与全镇本月已收的报表比较后，"
        "以下数字差异过大，请核实：",
        *_problem_lines(problems),
        "",
        "如数字无误，不必回复，镇里核实后即取消标记；如填错了，请改正后重新发送整个文件。",
        "",
        organ,
    ])
    key = f"outlier:{row['id']}:{','.join(sorted(str(p.field) for p in problems))}"
    return Reply("outlier", key, [row["sender"]], f"【请核实】{row['village_name']} {period}{programme.report_word}：有数字与全镇差异过大",
                 body, [], make_message_id(key, domain),
                 in_reply_to=reference(row["message_id"]),
                 village_code=row["village_code"], period=row["period"])


def reminder(village: Any, period: Month, state: str, deadline: str, organ: str, template: tuple[str, str], domain: str, today: str,
             programme: Programme | None = None, late: bool = False) -> Reply:
    why = "还没有收到" if state == "未报" else "收到的报表未通过校验，还没有收到改好的"
    label, word = (programme.label(period), programme.report_word) if programme else (period.chinese, "月报表")
    body = "\n".join([
        f"{village.name}：",
        "",
        f"截至目前，镇里{why}贵{'社区' if village.name.endswith('社区') else '村'} {label} 的{word}。"
        + (f"报送截止日期（{deadline}）已过，请尽快填好报送（作为邮件附件发送即可）。" if late else f"请于 {deadline} 前填好报送（作为邮件附件发送即可）。"),
        "附件是贵单位本期的报表模板（村名、报告期已填好），请直接在黄色格子中填写。",
        f"如已发送，请忽略本邮件；如有困难，请电话联系{organ}。",
        "",
        organ,
    ])
    key = f"reminder:{village.code}:{period}:{today}"
    return Reply("reminder", key, list(village.emails), f"【催报】请报送{label}{word}（{village.name}）", body, [template],
                 make_message_id(key, domain), village_code=village.code, period=str(period))


def template_mail(village: Any, period: Month, deadline: str, organ: str, template: tuple[str, str], domain: str,
                  programme: Programme | None = None) -> Reply:
    label, word = (programme.label(period), programme.report_word) if programme else (period.chinese, "月报表")
    body = "\n".join([
        f"{village.name}：",
        "",
        f"附件是贵单位 {label} 的{word}模板（村名、报告期已填好，带校验签名），请在黄色格子中填写，",
        f"于 {deadline} 前作为邮件附件回复本邮箱。请不要使用别村或往月的表格。",
        "",
        organ,
    ])
    key = f"template:{village.code}:{period}"
    return Reply("template", key, list(village.emails), f"【报表模板】{label}{word}（{village.name}）", body, [template],
                 make_message_id(key, domain), village_code=village.code, period=str(period))
