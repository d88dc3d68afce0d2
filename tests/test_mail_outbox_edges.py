"""One reply that cannot go never holds up the others, and every message gets its own reply — through a real
mailbox (Dovecot) and SMTP server (aiosmtpd). Each case once stopped replies for good: an address that
cannot be written into a header stopped every collect (X013); an annotated copy that went missing, or a
server that hangs up on one message, was taken for an outage and the replies queued behind it never left;
messages sharing one Message-ID got one reply between them; a message with no readable sender was
accepted without the sender check.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from pipeline import api

from . import mailkit
from .conftest import filled
from .mailkit import CST, XLSX, ledger_rows, message, replies_to, report_mail

servers, mctx = mailkit.servers, mailkit.mctx  # fixtures


def _pending(ctx) -> list:
    return ledger_rows(ctx, "SELECT subject FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")


def test_an_address_no_header_can_carry_is_given_up_and_the_rest_are_answered(mctx):
    ctx, imap, smtp = mctx
    v = ctx.registry.villages
    raw = message("someone@example.com", [(f"{v[1].name}月报.xlsx", filled(ctx, 1))])
    head, sep, body = raw.partition(b"\n\n")
    lines = [line for line in head.split(b"\n") if not line.lower().startswith(b"from:")]
    imap.append(b"\n".join([*lines, "From: 张三 <报表员@例子.中国>".encode()]) + sep + body)  # an internationalised address, raw UTF-8
    imap.append(report_mail(ctx, 2))
    summary = api.collect(ctx)
    assert {i.status for i in summary.items} == {"待确认", "已接收"}
    assert replies_to(smtp, v[2].emails[0]) and _pending(ctx) == []
    [given_up] = [p for p in summary.problems if p.code == "M018"]  # any queued mail: not "the report is recorded"
    assert "无法生成" in given_up.message and "已登记" not in given_up.message
    imap.append(report_mail(ctx, 3))
    again = api.collect(ctx)  # before: X013 here and on every later run, no reply ever sent again
    assert [i.status for i in again.items] == ["已接收"] and replies_to(smtp, v[3].emails[0])


def test_a_reply_whose_annotated_copy_went_missing_holds_up_no_other(mctx):
    ctx, imap, smtp = mctx
    v = ctx.registry.villages
    smtp.refuse_data["请修改"] = "451 4.3.0 try again later"  # the rejection (【请修改后重发】…) waits in the outbox, once
    imap.append(report_mail(ctx, 1, births_total="十二"))
    api.collect(ctx)
    (row,) = ledger_rows(ctx, "SELECT feedback_path FROM submissions WHERE status = '退回'")
    (ctx.workspace.root / row["feedback_path"]).unlink()  # the clerk tidied feedback/ meanwhile
    smtp.refuse_data.clear()
    imap.append(report_mail(ctx, 2))
    summary = api.collect(ctx)
    assert replies_to(smtp, v[2].emails[0]), "the new report's receipt went out"
    assert "M018" in [p.code for p in summary.problems] and _pending(ctx) == []


def test_a_message_the_server_hangs_up_on_is_given_up_the_second_time(mctx):
    ctx, imap, smtp = mctx
    v = ctx.registry.villages
    smtp.hang_up.add(v[1].name)
    imap.append(report_mail(ctx, 1))
    imap.append(report_mail(ctx, 2))
    first = api.collect(ctx)
    assert replies_to(smtp, v[2].emails[0]) and not replies_to(smtp, v[1].emails[0])
    assert [r["subject"] for r in _pending(ctx)] and "M004" in [p.code for p in first.problems]
    imap.append(report_mail(ctx, 3))
    second = api.collect(ctx)  # hung up on again while the server takes other mail: this message, not an outage
    assert replies_to(smtp, v[3].emails[0])
    assert "M012" in [p.code for p in second.problems] and _pending(ctx) == []
    (failed,) = ledger_rows(ctx, "SELECT smtp_response FROM outbox WHERE failed_at IS NOT NULL")
    assert "两次" in failed["smtp_response"]


def test_an_outage_gives_up_no_reply(mctx):
    """Every message hung up on in one run: nothing went through, so nothing is blamed on a message."""
    ctx, imap, smtp = mctx
    smtp.hang_up.add("月报")
    for i in range(2):
        imap.append(report_mail(ctx, i))
    for _ in range(3):
        api.collect(ctx)
    assert len(_pending(ctx)) == 2
    smtp.hang_up.clear()
    api.collect(ctx)
    assert _pending(ctx) == [] and len(smtp.received) == 2


def test_messages_sharing_one_message_id_each_get_their_reply(mctx):
    """A broken client or gateway gives every message one Message-ID: the village's correction and the next
    village's report got no reply at all (only the first rejection went out)."""
    ctx, imap, smtp = mctx
    v = ctx.registry.villages
    sent = [(1, filled(ctx, 1, births_total="十二")), (1, filled(ctx, 1)), (2, filled(ctx, 2))]
    for n, (i, data) in enumerate(sent):
        raw = message(v[i].emails[0], [(f"{v[i].name}月报.xlsx", data)], subject=f"{v[i].name}月报（{n}）")
        imap.append(_with_message_id(raw, "<20261103093000.1@localhost>"))
    api.collect(ctx)
    assert len(replies_to(smtp, v[1].emails[0])) == 2 and len(replies_to(smtp, v[2].emails[0])) == 1


def _with_message_id(raw: bytes, message_id: str) -> bytes:
    head, sep, body = raw.partition(b"\n\n")
    lines = [line for line in head.split(b"\n") if not line.lower().startswith(b"message-id:")]
    return b"\n".join([*lines, f"Message-ID: {message_id}".encode()]) + sep + body


def test_a_message_without_a_readable_sender_waits_for_the_township(mctx):
    ctx, imap, smtp = mctx
    msg = EmailMessage()
    msg["To"] = "clerk@township.test"
    msg["Subject"] = "月报"
    msg["Date"] = format_datetime(datetime(2026, 11, 3, 9, 30, tzinfo=CST))
    msg["Message-ID"] = "<nofrom@example.com>"
    msg.set_content("请查收。")
    msg.add_attachment(filled(ctx, 1), maintype=XLSX[0], subtype=XLSX[1], filename="月报.xlsx")
    imap.append(msg.as_bytes())
    summary = api.collect(ctx)
    assert [i.status for i in summary.items] == ["待确认"]
    (row,) = ledger_rows(ctx, "SELECT problems_json FROM submissions")
    assert "I007" in row["problems_json"] and "没有可读的发件地址" in row["problems_json"]
    assert ledger_rows(ctx, "SELECT * FROM outbox") == [] and smtp.received == []
