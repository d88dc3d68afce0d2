"""One bad message never stops the mailbox: whatever fails while handling it becomes a located
problem on that message (its raw bytes archived, the message recorded), the rest of the mailbox
goes on, and the message is not tried again — through a real Dovecot and aiosmtpd."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline import api
from pipeline.intake import mail_message

from . import mailkit
from .conftest import filled
from .mailkit import collect_twice, ledger_rows, message, replies_to, report_mail

servers, mctx = mailkit.servers, mailkit.mctx  # fixtures


def test_a_300_character_attachment_name_does_not_stop_the_mailbox(mctx):
    """Its feedback copy's name was too long for the file system (Errno 36): the whole batch rolled
    back and every later collect crashed on the same message."""
    ctx, imap, smtp = mctx
    v1 = ctx.registry.villages[1]
    long_name = "白石村" + "二〇二六年十月份计划生育工作月度报表更正版" * 15 + ".xlsx"
    assert len(long_name) > 300
    imap.append(report_mail(ctx, 0))
    imap.append(message(v1.emails[0], [(long_name, filled(ctx, 1, births_total="十二"))], subject="长文件名"))
    imap.append(message("someone@example.com", [(long_name, filled(ctx, 1, births_total="十三"))], subject="长文件名"))
    imap.append(report_mail(ctx, 2))
    summary = collect_twice(ctx, smtp)
    assert {p.code for p in summary.problems} <= {"M016"}  # (none once feedback names are bounded)
    rows = ledger_rows(ctx, "SELECT r.original_name, r.sender, s.status FROM submissions s JOIN receipts r ON r.id = s.receipt_id"
                            " WHERE r.original_name = ? ORDER BY s.id", (long_name,))
    assert [(r["sender"], r["status"]) for r in rows] == [(v1.emails[0], "退回"), ("someone@example.com", "退回")]
    (reply,) = replies_to(smtp, v1.emails[0])
    assert "十二" in reply.get_body(("plain",)).get_content()
    assert mailkit.accepted_villages(ctx) == {ctx.registry.villages[i].code for i in (0, 2)}


def test_a_failure_while_handling_a_message_is_a_problem_on_that_message(mctx, monkeypatch):
    ctx, imap, smtp = mctx
    v1 = ctx.registry.villages[1]
    real = mail_message.outcome_for

    def failing(ctx_, check, feedback):
        if check.file == "坏.xlsx":
            raise ValueError("内部错误（测试注入）")
        return real(ctx_, check, feedback)

    monkeypatch.setattr(mail_message, "outcome_for", failing)
    imap.append(report_mail(ctx, 0))
    poison = message(v1.emails[0], [("好.xlsx", filled(ctx, 1)), ("坏.xlsx", filled(ctx, 3))], subject="两个附件")
    imap.append(poison)
    imap.append(report_mail(ctx, 2))
    summary = collect_twice(ctx, smtp)
    (problem,) = summary.problems
    assert problem.code == "M013" and "两个附件" in problem.message and v1.emails[0] in problem.message
    assert "ValueError" in problem.message and "第 2 封" in problem.message
    msgs = ledger_rows(ctx, "SELECT uid, code, note FROM messages ORDER BY uid")
    assert [(m["uid"], m["code"]) for m in msgs] == [(1, None), (2, "M013"), (3, None)]
    assert poison.replace(b"\n", b"\r\n") in {p.read_bytes() for p in ctx.workspace.archive.rglob("*.eml")}  # as stored (CRLF)
    assert mailkit.accepted_villages(ctx) == {ctx.registry.villages[i].code for i in (0, 2)}  # none of the poison's
    assert replies_to(smtp, v1.emails[0]) == []
    monkeypatch.setattr(mail_message, "outcome_for", real)  # fixed: still not tried again
    assert api.collect(ctx).items == []


def test_a_reply_that_cannot_be_written_leaves_the_reports_recorded(mctx, monkeypatch):
    ctx, imap, smtp = mctx
    v1 = ctx.registry.villages[1]
    real = mail_message.message_reply

    def failing(message_, *args, **kwargs):
        if message_.sender == v1.emails[0]:
            raise KeyError("模板")
        return real(message_, *args, **kwargs)

    monkeypatch.setattr(mail_message, "message_reply", failing)
    for i in range(3):
        imap.append(report_mail(ctx, i))
    summary = collect_twice(ctx, smtp)
    (problem,) = summary.problems
    assert problem.code == "M017" and "回复没有生成" in problem.message and v1.emails[0] in problem.message
    assert mailkit.accepted_villages(ctx) == {ctx.registry.villages[i].code for i in range(3)}
    assert replies_to(smtp, v1.emails[0]) == [] and len(smtp.received) == 2


def _run(ctx, crash_at: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("HUIZONG_CRASH_AT", None)
    if crash_at:
        env["HUIZONG_CRASH_AT"] = crash_at
    cmd = [sys.executable, "-m", "pipeline", "collect", "-w", str(ctx.workspace.root)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("point", ["mail_parsed"])
def test_a_message_that_stops_two_runs_is_set_aside_on_the_third(mctx, point):
    """A native crash (the process dies: kill -9, an abort in a reader) cannot be caught: the message
    is counted before it is handled, and after two runs that died on it, it is recorded unhandled."""
    ctx, imap, smtp = mctx
    imap.append(report_mail(ctx, 0))
    imap.append(report_mail(ctx, 1, subject="毒邮件"))
    imap.append(report_mail(ctx, 2))
    assert _run(ctx, f"{point}:2").returncode == 137  # the 1st message is done, the 2nd kills the run
    assert _run(ctx, f"{point}:1").returncode == 137  # and again
    third = _run(ctx, None)
    assert third.returncode == 1 and "[错误 M013]" in third.stderr and "Traceback" not in third.stderr
    msgs = ledger_rows(ctx, "SELECT uid, code, note FROM messages ORDER BY uid")
    assert [(m["uid"], m["code"]) for m in msgs] == [(1, None), (2, "M013"), (3, None)]
    assert "两次中断" in msgs[1]["note"] and "毒邮件" in msgs[1]["note"]
    assert mailkit.accepted_villages(ctx) == {ctx.registry.villages[i].code for i in (0, 2)}
    assert sorted(str(m["To"]) for m in smtp.received) == sorted(ctx.registry.villages[i].emails[0] for i in (0, 2))
    state = mailkit.ledger_state(ctx)
    assert _run(ctx, None).returncode == 0 and mailkit.ledger_state(ctx) == state


def test_this_computers_trouble_stops_the_run_but_never_sets_the_message_aside(mctx, monkeypatch):
    """A full disk is not the message's fault: the run stops (nothing recorded for the message), and
    however many runs it stops, the message is handled normally once there is room again."""
    import errno

    from pipeline.ledger.archive import Archive

    ctx, imap, smtp = mctx
    real = Archive.put
    second = filled(ctx, 1)

    def full(self, data, ext):
        if data == second:  # the disk fills up just as the second message's report is archived
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data, ext)

    imap.append(report_mail(ctx, 0))
    imap.append(message(ctx.registry.villages[1].emails[0], [("白石村月报.xlsx", second)]))
    monkeypatch.setattr(Archive, "put", full)
    for _ in range(3):
        with pytest.raises((OSError, api.HuizongError)):  # (the workspace says it in Chinese)
            api.collect(ctx)
    assert [m["uid"] for m in ledger_rows(ctx, "SELECT uid FROM messages")] == [1]
    monkeypatch.setattr(Archive, "put", real)
    summary = collect_twice(ctx, smtp)
    assert summary.problems == [] and summary.count("已接收") == 1
    assert mailkit.accepted_villages(ctx) == {ctx.registry.villages[i].code for i in (0, 1)}
    assert [m["code"] for m in ledger_rows(ctx, "SELECT code FROM messages ORDER BY uid")] == [None, None]


def test_an_attachment_that_crashes_the_reader_is_refused_and_the_mailbox_goes_on(mctx, monkeypatch):
    """Attachments are read in worker processes, as inbox files are: a native crash of the reader
    (injected: the worker aborts, as a crashing library would) kills a worker, not the collection."""
    ctx, imap, smtp = mctx
    v1 = ctx.registry.villages[1]
    monkeypatch.setenv("HUIZONG_CRASH_READING", "崩溃.xlsx")
    imap.append(report_mail(ctx, 0))
    imap.append(message(v1.emails[0], [("崩溃.xlsx", filled(ctx, 1, followups_due=9, followups_done=9)), ("好.xlsx", filled(ctx, 1))],
                        subject="两个附件"))
    imap.append(report_mail(ctx, 2))
    collect_twice(ctx, smtp)
    rows = ledger_rows(ctx, "SELECT r.original_name, s.status, s.problems_json FROM submissions s JOIN receipts r ON r.id = s.receipt_id"
                            " WHERE r.sender = ? ORDER BY s.id", (v1.emails[0],))
    by_name = {r["original_name"]: r for r in rows}
    assert by_name["崩溃.xlsx"]["status"] == "退回" and "F014" in by_name["崩溃.xlsx"]["problems_json"]
    assert by_name["好.xlsx"]["status"] == "已接收"
    assert mailkit.accepted_villages(ctx) == {ctx.registry.villages[i].code for i in (0, 1, 2)}
