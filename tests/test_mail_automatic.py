"""Automatic mail in a real mailbox (Dovecot) with a real SMTP server (aiosmtpd): bounces,
auto-replies, newsletters, system notices and spam are archived, never answered, and what they
carry is never recorded as a village's report (RFC 3834, RFC 3464). Our own mail is marked so
that no auto-responder answers it."""

from __future__ import annotations

from email import message_from_bytes, policy

from pipeline import api

from . import mailkit
from .conftest import PERIOD, filled
from .mailkit import collect_twice, ledger_rows, message, replies_to, report_mail

servers, mctx = mailkit.servers, mailkit.mctx  # fixtures

ZHANGWAN = 7  # 张湾村: the village whose reminder bounced in the report


def _archived_emls(ctx) -> set[bytes]:
    return {p.read_bytes() for p in ctx.workspace.archive.rglob("*.eml")}


def dsn(original: bytes, recipient: str) -> bytes:
    """A delivery report as Postfix writes it (RFC 3464), returning the whole original message."""
    return b"\r\n".join([
        b"Return-Path: <>",
        b"From: Mail Delivery System <MAILER-DAEMON@mx.township.test>",
        b"To: clerk@township.test",
        b"Subject: Undelivered Mail Returned to Sender",
        b"Date: Tue, 03 Nov 2026 10:00:00 +0800",
        b"Message-ID: <20261103100000.bounce1@mx.township.test>",
        b"Auto-Submitted: auto-replied",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"',
        b"",
        b"--BOUND",
        b"Content-Type: text/plain; charset=us-ascii",
        b"",
        b"I'm sorry to have to inform you that your message could not be delivered.",
        f"<{recipient}>: host mx.village.test said: 550 5.1.1 User unknown".encode(),
        b"",
        b"--BOUND",
        b"Content-Type: message/delivery-status",
        b"",
        b"Reporting-MTA: dns; mx.township.test",
        b"",
        f"Final-Recipient: rfc822; {recipient}".encode(),
        f"Original-Recipient: rfc822;{recipient}".encode(),
        b"Action: failed",
        b"Status: 5.1.1",
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown".encode(),
        b"",
        b"--BOUND",
        b"Content-Type: message/rfc822",
        b"",
        original.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
        b"--BOUND--",
        b"",
    ])


def netease_bounce(original: bytes) -> bytes:
    """163's 系统退信: plain multipart/mixed from postmaster, the original attached, no delivery status."""
    return b"\r\n".join([
        b"From: postmaster@163.com",
        b"To: clerk@township.test",
        "Subject: =?UTF-8?B?{}?=".format(__import__("base64").b64encode("系统退信".encode()).decode()).encode(),
        b"Date: Tue, 03 Nov 2026 10:05:00 +0800",
        b"Message-ID: <netease.bounce2@163.com>",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="NB"',
        b"",
        b"--NB",
        b"Content-Type: text/plain; charset=utf-8",
        b"",
        "抱歉，您的邮件被退回。".encode(),
        b"--NB",
        b'Content-Type: message/rfc822; name="original.eml"',
        b'Content-Disposition: attachment; filename="original.eml"',
        b"",
        original.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
        b"--NB--",
        b"",
    ])


def test_a_bounced_reminder_is_never_a_submission_and_is_never_answered(mctx):
    """The report: a bounce of a reminder (quoting it with 张湾村's template) was recorded as a 退回
    submission of 张湾村 from mailer-daemon, and an annotated copy mailed to mailer-daemon."""
    ctx, imap, smtp = mctx
    zhangwan = ctx.registry.villages[ZHANGWAN]
    sent = api.remind(ctx, PERIOD)
    assert sent.sent == len(ctx.registry.villages)
    reminder = next(raw for raw, m in zip(smtp.raw, smtp.received) if zhangwan.emails[0] in str(m["To"]))
    assert b"Auto-Submitted: auto-generated" in reminder and b".xlsx" in reminder  # the template is attached
    smtp.received.clear()
    bounces = [dsn(reminder, zhangwan.emails[0]), netease_bounce(reminder)]
    imap.append(report_mail(ctx, 0))
    imap.append(bounces[0])
    imap.append(report_mail(ctx, 1))
    imap.append(bounces[1])
    imap.append(report_mail(ctx, 2))
    summary = collect_twice(ctx, smtp)

    # nothing of 张湾村 was recorded, nothing was sent to the daemons; the reports around them were
    assert ledger_rows(ctx, "SELECT id FROM submissions WHERE village_code = ?", (zhangwan.code,)) == []
    assert mailkit.accepted_villages(ctx) == {v.code for v in ctx.registry.villages[:3]}
    assert sorted(str(m["To"]) for m in smtp.received) == sorted(v.emails[0] for v in ctx.registry.villages[:3])
    state = next(s for s in api.status(ctx, PERIOD) if s.code == zhangwan.code)
    assert state.state == "未报"
    # nothing lost: both bounces are archived byte for byte and recorded with the reason
    assert set(bounces) <= _archived_emls(ctx)
    msgs = ledger_rows(ctx, "SELECT uid, attachments, code, note FROM messages ORDER BY uid")
    assert [(m["uid"], m["code"]) for m in msgs] == [(1, None), (2, "M006"), (3, None), (4, "M006"), (5, None)]
    assert "退信" in msgs[1]["note"] and "退信" in msgs[3]["note"]
    # the clerk is told whose address bounced, and that a report inside was not recorded
    codes = [p.code for p in summary.notices]
    assert codes.count("M006") == 2 and "M009" in codes
    postfix, netease = [p for p in summary.notices if p.code == "M007"]
    assert all(zhangwan.emails[0] in p.message and zhangwan.name in p.message for p in (postfix, netease))
    assert "550 5.1.1" in postfix.message  # the receiving server's words, from the delivery status
    assert summary.problems == []


def read_receipt(sender: str) -> bytes:
    """A read receipt (RFC 8098 MDN), as QQ Mail and Outlook send when asked."""
    return b"\r\n".join([
        f"From: {sender}".encode(),
        b"To: clerk@township.test",
        b"Subject: =?UTF-8?B?5bey6K+7?=",
        b"Date: Tue, 03 Nov 2026 11:00:00 +0800",
        b"Message-ID: <mdn1@village.test>",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="MDN"',
        b"",
        b"--MDN",
        b"Content-Type: text/plain; charset=utf-8",
        b"",
        "您的邮件已被阅读。".encode(),
        b"--MDN",
        b"Content-Type: message/disposition-notification",
        b"",
        b"Final-Recipient: rfc822; " + sender.encode(),
        b"Disposition: manual-action/MDN-sent-manually; displayed",
        b"",
        b"--MDN--",
        b"",
    ])


AUTOMATIC = [  # (sender, extra headers, subject): each carries exactly one signal
    ("v", {"Auto-Submitted": "auto-replied"}, "Re: 【催报】请报送2026年10月月报表"),
    ("v", {"Auto-Submitted": "auto-generated"}, "月报"),
    ("v", {"Auto-Submitted": "auto-notified"}, "月报"),
    ("v", {"Precedence": "bulk"}, "月报"),
    ("v", {"Precedence": "list"}, "月报"),
    ("v", {"Precedence": "junk"}, "月报"),
    ("v", {"List-Id": "<county-news.example.com>"}, "县计生简报"),
    ("news@example.com", {"List-Unsubscribe": "<mailto:unsubscribe@example.com>"}, "本周新闻"),
    ("v", {"Return-Path": "<>"}, "月报"),
    ("MAILER-DAEMON@mx.example.com", {}, "Delivery failure"),
    ("postmaster@example.com", {}, "月报"),
    ("no-reply@example.com", {}, "您的账单"),
    ("noreply@example.com", {}, "通知"),
    ("10000@qq.com", {}, "QQ邮箱安全提醒"),
    ("v", {"X-Spam-Flag": "YES"}, "月报"),
    ("v", {}, "自动回复：月报"),
]


def test_automatic_mail_of_every_kind_is_archived_not_recorded_not_answered(mctx):
    """Each message carries a valid report of 大岗村 (from its own address, where the signal allows):
    were the signal missed, a submission would be recorded and a reply sent."""
    ctx, imap, smtp = mctx
    v = ctx.registry.villages[4]
    report = [(f"{v.name}月报.xlsx", filled(ctx, 4))]
    imap.append(report_mail(ctx, 0))
    for n, (sender, headers, subject) in enumerate(AUTOMATIC):
        imap.append(message(v.emails[0] if sender == "v" else sender, report, subject=subject, headers=headers))
        if n == len(AUTOMATIC) // 2:
            imap.append(report_mail(ctx, 1))
    imap.append(read_receipt(v.emails[0]))
    imap.append(message(ctx.registry.villages[5].emails[0], [("王岗村月报.xlsx", filled(ctx, 5))], headers={"Auto-Submitted": "no"}))
    summary = collect_twice(ctx, smtp)

    assert mailkit.accepted_villages(ctx) == {ctx.registry.villages[i].code for i in (0, 1, 5)}
    assert ledger_rows(ctx, "SELECT id FROM submissions WHERE village_code = ?", (v.code,)) == []
    assert sorted(str(m["To"]) for m in smtp.received) == sorted(ctx.registry.villages[i].emails[0] for i in (0, 1, 5))
    msgs = ledger_rows(ctx, "SELECT sender, subject, code, note FROM messages ORDER BY uid")
    assert len(msgs) == len(AUTOMATIC) + 4
    automatic = [m for m in msgs if m["code"] == "M006"]
    assert len(automatic) == len(AUTOMATIC) + 1  # and the read receipt
    reasons = [m["note"].split("（", 1)[0] for m in automatic]
    assert reasons[:3] == ["自动回复", "自动发送的邮件", "自动发送的邮件"]
    assert reasons[3:9] == ["群发邮件或邮件列表", "群发邮件或邮件列表", "垃圾邮件", "群发邮件或邮件列表", "群发邮件或邮件列表", "退信"]
    assert reasons[9:] == ["退信", "退信", "系统通知", "系统通知", "系统通知", "垃圾邮件", "自动回复", "已读回执"]
    assert sum(p.code == "M009" for p in summary.notices) == len(AUTOMATIC)  # the receipt carries no report
    assert len(_archived_emls(ctx)) == len(msgs)


def test_unregistered_mail_without_a_report_is_not_answered_but_a_village_is(mctx):
    """Answering spam (or a stranger's photo) only confirms that the address is read."""
    ctx, imap, smtp = mctx
    v0 = ctx.registry.villages[0]
    imap.append(message("ads@spam.example", [], subject="发票代开"))
    imap.append(report_mail(ctx, 1))
    imap.append(message("stranger@example.com", [("报表照片.jpg", b"\xff\xd8\xff\xe0fake-jpeg" * 100)], subject="照片"))
    imap.append(message(v0.emails[0], [("报表照片.jpg", b"\xff\xd8\xff\xe0fake-jpeg" * 100)], subject="照片"))
    summary = collect_twice(ctx, smtp)
    assert [str(m["To"]) for m in smtp.received] == [ctx.registry.villages[1].emails[0], v0.emails[0]]
    assert "未找到报表" in str(replies_to(smtp, v0.emails[0])[0]["Subject"])
    assert [p.code for p in summary.notices] == ["M008", "M008", "M005"]  # the village's mail is named for the clerk to read
    msgs = ledger_rows(ctx, "SELECT uid, code FROM messages ORDER BY uid")
    assert [(m["uid"], m["code"]) for m in msgs] == [(1, "M008"), (2, None), (3, "M008"), (4, None)]
    assert mailkit.accepted_villages(ctx) == {ctx.registry.villages[1].code}


def test_our_mail_is_marked_automatic_so_two_auto_responders_cannot_loop(mctx):
    ctx, imap, smtp = mctx
    v0, v1 = ctx.registry.villages[:2]
    imap.append(report_mail(ctx, 0))
    api.collect(ctx)
    (receipt_raw,) = smtp.raw
    assert b"\r\nAuto-Submitted: auto-replied\r\n" in receipt_raw
    assert b"\r\nX-Auto-Response-Suppress: All\r\n" in receipt_raw
    templates = api.send_templates(ctx, PERIOD)
    assert templates.sent == len(ctx.registry.villages)
    assert all(b"\r\nAuto-Submitted: auto-generated\r\n" in raw for raw in smtp.raw[1:])
    # 青龙村's auto-responder answers our receipt, quoting it (and without marking its own answer);
    # our receipt also comes back to us, as a forwarding rule or a copy to self would bring it
    receipt = message_from_bytes(receipt_raw, policy=policy.default)
    echo = message(v0.emails[0], [], subject=f"自动回复: {receipt['Subject']}")
    imap.append(echo)
    imap.append(receipt_raw)
    imap.append(report_mail(ctx, 1))
    before = len(smtp.received)
    summary = collect_twice(ctx, smtp)
    assert [str(m["To"]) for m in smtp.received[before:]] == [v1.emails[0]]
    assert [p.value for p in summary.notices if p.code == "M006"] == ["自动回复", "自动回复"]
