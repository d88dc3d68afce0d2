"""The mail servers as providers run them, with a real Dovecot and a real aiosmtpd on loopback:
IMAP ID before SELECT (163/126/yeah.net), refused or misspelled folders, the first collect's start
day, after: move to a folder that does not exist yet, SMTP without AUTH and with it, permanent
and transient SMTP refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime

import pytest

from pipeline import api
from pipeline.intake.mailconfig import default_since

from . import mailkit
from .conftest import PERIOD
from .mailkit import CST, SINCE, collect_twice, ledger_rows, report_mail, use_mail
from .mailserver import NeteaseGuard, start_smtp

servers, mctx = mailkit.servers, mailkit.mctx  # fixtures


def _cli(ctx, *args):
    cmd = [sys.executable, "-m", "pipeline", *args, "-w", str(ctx.workspace.root)]
    return subprocess.run(cmd, env=dict(os.environ), capture_output=True, text=True, timeout=120)


def test_id_is_sent_before_select_where_the_server_offers_it(workspace, servers, monkeypatch):
    imap, smtp = servers
    guard = NeteaseGuard(imap, require_id=True)  # as 163 answers: no SELECT without ID
    try:
        ctx = use_mail(workspace, guard, smtp, monkeypatch)
        imap.append(report_mail(ctx, 0))
        imap.append(report_mail(ctx, 1))
        summary = collect_twice(ctx, smtp)
    finally:
        guard.stop()
    assert summary.problems == [] and summary.count("已接收") == 2
    assert guard.commands.index("ID") < guard.commands.index("SELECT")


def test_no_id_where_the_server_does_not_offer_it(workspace, servers, monkeypatch):
    imap, smtp = servers
    guard = NeteaseGuard(imap, require_id=False, offer_id=False)
    try:
        ctx = use_mail(workspace, guard, smtp, monkeypatch)
        imap.append(report_mail(ctx, 0))
        summary = collect_twice(ctx, smtp)
    finally:
        guard.stop()
    assert summary.problems == [] and summary.count("已接收") == 1
    assert "ID" not in guard.commands and "SELECT" in guard.commands


def test_a_refused_select_is_a_clear_chinese_problem_and_the_folder_inbox_still_works(workspace, servers, monkeypatch):
    """A server that refuses SELECT (here: one that wants ID but does not say so) once ended collect
    in a 56-line traceback."""
    imap, smtp = servers
    guard = NeteaseGuard(imap, require_id=True, offer_id=False)
    try:
        ctx = use_mail(workspace, guard, smtp, monkeypatch)
        imap.append(report_mail(ctx, 0))
        (ctx.workspace.inbox / "a.xlsx").write_bytes(mailkit.filled(ctx, 1))
        summary = api.collect(ctx)
        assert summary.count("已接收") == 1  # the folder's file
        (problem,) = summary.problems
        assert problem.code == "M010" and "Unsafe Login" in problem.message and "163" in problem.message
        run = _cli(ctx, "collect")
    finally:
        guard.stop()
    assert run.returncode == 1 and "M010" in run.stderr and "Traceback" not in run.stderr + run.stdout
    assert ledger_rows(ctx, "SELECT id FROM messages") == []  # nothing half-done: the mail waits for a fixed setting


def test_a_misspelled_folder_names_the_folders_there_are(workspace, servers, monkeypatch):
    imap, smtp = servers
    ctx = use_mail(workspace, imap, smtp, monkeypatch, extra=SINCE + "  folder: INBXO\n")
    imap.append(report_mail(ctx, 0))
    summary = api.collect(ctx)
    (problem,) = summary.problems
    assert problem.code == "M011" and "INBXO" in problem.message and "INBOX" in problem.message
    run = _cli(ctx, "collect")
    assert run.returncode == 1 and "M011" in run.stderr and "Traceback" not in run.stderr + run.stdout


def test_the_first_collect_does_not_replay_the_mailbox_history(workspace, servers, monkeypatch):
    """By default the first collect starts on the first day of the previous month, and keeps that
    day: mail the server received earlier is never collected, even if moved into the folder later."""
    imap, smtp = servers
    ctx = use_mail(workspace, imap, smtp, monkeypatch, extra="")
    old = datetime(2020, 3, 5, 9, 0, tzinfo=CST)
    imap.append(report_mail(ctx, 0, subject="旧邮件"), when=old)
    imap.append(report_mail(ctx, 1))  # arrived now
    imap.append(report_mail(ctx, 2, subject="旧邮件二"), when=old)
    before = date.today()
    collect_twice(ctx, smtp)
    after = date.today()
    (state,) = ledger_rows(ctx, "SELECT since, last_uid FROM mailbox_state")
    assert state["since"] in {default_since(before).isoformat(), default_since(after).isoformat()}
    assert mailkit.accepted_villages(ctx) == {ctx.registry.villages[1].code}
    assert [str(m["To"]) for m in smtp.received] == [ctx.registry.villages[1].emails[0]]
    imap.append(report_mail(ctx, 3, subject="从别的文件夹移来的旧邮件"), when=old)
    imap.append(report_mail(ctx, 4))
    collect_twice(ctx, smtp)
    assert mailkit.accepted_villages(ctx) == {ctx.registry.villages[i].code for i in (1, 4)}


def test_a_start_day_in_the_settings(workspace, servers, monkeypatch):
    imap, smtp = servers
    ctx = use_mail(workspace, imap, smtp, monkeypatch, extra="  since: 2026-10-01\n")
    imap.append(report_mail(ctx, 0, subject="九月底"), when=datetime(2026, 9, 30, 23, 0, tzinfo=CST))
    imap.append(report_mail(ctx, 1, subject="十月一日"), when=datetime(2026, 10, 1, 12, 0, tzinfo=CST))
    imap.append(report_mail(ctx, 2, subject="十一月"), when=datetime(2026, 11, 3, 9, 0, tzinfo=CST))
    collect_twice(ctx, smtp)
    assert mailkit.accepted_villages(ctx) == {ctx.registry.villages[i].code for i in (1, 2)}
    (state,) = ledger_rows(ctx, "SELECT since FROM mailbox_state")
    assert state["since"] == "2026-10-01"


def test_after_move_creates_its_folder(workspace, servers, monkeypatch):
    """The folder did not exist: the move failed and the mail stayed in INBOX forever."""
    imap, smtp = servers
    ctx = use_mail(workspace, imap, smtp, monkeypatch, extra=SINCE + "  after: move\n  move_to: 已收报表\n")
    assert "已收报表" not in imap.folders()
    for i in range(3):
        imap.append(report_mail(ctx, i))
    summary = collect_twice(ctx, smtp)
    assert summary.problems == [] and summary.count("已接收") == 3
    assert "已收报表" in imap.folders()
    assert (imap.count("INBOX"), imap.count("已收报表")) == (0, 3)
    imap.append(report_mail(ctx, 3))  # the folder is there now: moved again, nothing else happens
    collect_twice(ctx, smtp)
    assert (imap.count("INBOX"), imap.count("已收报表")) == (0, 4)


def test_after_seen_marks_the_mail_read(workspace, servers, monkeypatch):
    imap, smtp = servers
    ctx = use_mail(workspace, imap, smtp, monkeypatch, extra=SINCE + "  after: seen\n")
    imap.append(report_mail(ctx, 0))
    collect_twice(ctx, smtp)
    assert all("\\Seen" in flags for flags in imap.flags().values())


def test_smtp_without_auth_a_local_relay(workspace, servers, monkeypatch):
    imap, smtp = servers
    ctx = use_mail(workspace, imap, smtp, monkeypatch, smtp_user=False)
    monkeypatch.delenv("HUIZONG_MAIL_PASSWORD")  # the relay needs none; IMAP still does, so give it one
    monkeypatch.setattr("keyring.get_password", lambda service, user: mailkit.PASSWORD if user == mailkit.USER else None)
    imap.append(report_mail(ctx, 0))
    summary = collect_twice(ctx, smtp)
    assert summary.problems == [] and summary.replies_sent == 1
    assert str(smtp.received[0]["From"]).endswith(f"<{mailkit.USER}>")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback, in a test
def test_smtp_that_offers_auth_is_logged_in_to(workspace, servers, monkeypatch):
    imap, _ = servers
    smtp = start_smtp(auth=True)
    try:
        ctx = use_mail(workspace, imap, smtp, monkeypatch)
        imap.append(report_mail(ctx, 0))
        summary = collect_twice(ctx, smtp)
    finally:
        smtp.controller.stop()
    assert summary.problems == [] and summary.replies_sent == 1 and smtp.logins == [mailkit.USER]


def test_a_permanent_smtp_refusal_marks_the_reply_failed_and_status_shows_it(workspace, servers, monkeypatch):
    imap, smtp = servers
    ctx = use_mail(workspace, imap, smtp, monkeypatch)
    v0, v1, v2, v3 = ctx.registry.villages[:4]
    smtp.refuse_rcpt[v1.emails[0]] = "550 5.1.1 User unknown"
    smtp.refuse_data[v2.name] = "554 DT:SPM 163 smtp14, Content is spam"
    smtp.refuse_rcpt[v3.emails[0]] = "451 4.3.0 Try again later"
    for i in range(4):
        imap.append(report_mail(ctx, i))
    summary = api.collect(ctx)
    assert summary.count("已接收") == 4 and summary.replies_sent == 1
    codes = sorted(p.code for p in summary.problems)
    assert codes == ["M004", "M012", "M012"], [p.message for p in summary.problems]
    failed = ledger_rows(ctx, "SELECT village_code, smtp_response FROM outbox WHERE failed_at IS NOT NULL ORDER BY id")
    assert [(r["village_code"], r["smtp_response"][:3]) for r in failed] == [(v1.code, v1.emails[0][:3]), (v2.code, "554")]
    # the refused ones are never tried again; the one refused for now is, each run, until it goes
    state = mailkit.ledger_state(ctx)
    again = api.collect(ctx)
    assert [p.code for p in again.problems] == ["M004"] and mailkit.ledger_state(ctx) == state
    del smtp.refuse_rcpt[v3.emails[0]]
    third = api.collect(ctx)
    assert third.problems == [] and third.replies_sent == 1
    assert sorted(str(m["To"]) for m in smtp.received) == sorted([v0.emails[0], v3.emails[0]])
    states = {s.code: s for s in api.status(ctx, PERIOD)}
    assert "未送达" in states[v1.code].note and "550 5.1.1" in states[v1.code].note
    assert "未送达" in states[v2.code].note and states[v0.code].note == ""
    # a reply that names no village (here: to a photo without a report) is found by its address
    v4 = ctx.registry.villages[4]
    smtp.refuse_rcpt[v4.emails[0]] = "550 5.1.1 User unknown"
    imap.append(mailkit.message(v4.emails[0], [("照片.jpg", b"\xff\xd8\xff\xe0" + bytes(200))], subject="照片"))
    assert [p.code for p in api.collect(ctx).problems] == ["M012"]
    assert "回复未送达" in next(s for s in api.status(ctx, PERIOD) if s.code == v4.code).note
    run = _cli(ctx, "status", "--period", str(PERIOD))
    assert run.returncode == 0 and "永久拒收" in run.stdout and "554 DT:SPM" in run.stdout and v1.emails[0] in run.stdout


@pytest.mark.parametrize("value", ["2026/10/01", "上个月"])
def test_a_start_day_that_is_not_a_date_is_a_clear_problem(workspace, servers, monkeypatch, value):
    imap, smtp = servers
    ctx = use_mail(workspace, imap, smtp, monkeypatch, extra=f"  since: {value}\n")
    run = _cli(ctx, "collect")
    assert run.returncode != 0 and "mail.since" in run.stdout + run.stderr and "Traceback" not in run.stdout + run.stderr


def test_messages_are_fetched_and_handled_one_at_a_time(workspace, servers, monkeypatch):
    """Memory holds one message: each is fetched, recorded and marked before the next is fetched
    (the mail once all came into memory first: 60 messages, 488 MB → 664 MB)."""
    imap, smtp = servers
    guard = NeteaseGuard(imap, require_id=False)
    try:
        ctx = use_mail(workspace, guard, smtp, monkeypatch, extra=SINCE + "  after: seen\n")
        for i in range(4):
            imap.append(report_mail(ctx, i))
        collect_twice(ctx, smtp)
    finally:
        guard.stop()
    steps = [line.split()[1:3] for line in guard.lines if line.startswith("UID FETCH") or line.startswith("UID STORE")]
    assert steps == [[verb, str(uid)] for uid in range(1, 5) for verb in ("FETCH", "STORE")]
    assert mailkit.accepted_villages(ctx) == {v.code for v in ctx.registry.villages[:4]}


def test_memory_holds_one_message_however_many_there_are(mctx):
    """Python's own allocations while collecting eight 4 MB messages stay within what two of them
    would take: none is kept once handled."""
    import tracemalloc

    ctx, imap, smtp = mctx
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * (3 * 4096)  # 3 MB: about 4 MB encoded
    v = ctx.registry.villages[0]
    imap.append(report_mail(ctx, 0))
    api.collect(ctx)  # everything a collect imports is imported now
    size = 0
    for n in range(8):
        raw = mailkit.message(v.emails[0], [(f"照片{n}.jpg", photo + bytes([n]))], subject=f"照片{n}")
        size = max(size, len(raw))
        imap.append(raw)
    tracemalloc.start()
    try:
        summary = api.collect(ctx)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary.problems == [] and len(smtp.received) == 9
    assert peak < 2 * size * 1.6, f"peak {peak / 1e6:.1f} MB for messages of {size / 1e6:.1f} MB"
