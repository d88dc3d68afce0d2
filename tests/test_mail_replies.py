"""What huizong's replies say, through a real mailbox (Dovecot) and SMTP server (aiosmtpd): a
stranger gets no figures and no attachment; a resend of the very same file is told the truth."""

from __future__ import annotations

from pipeline import api

from . import mailkit
from .conftest import PERIOD, filled
from .mailkit import collect_twice, ledger_rows, message, replies_to, report_mail

servers, mctx = mailkit.servers, mailkit.mctx  # fixtures


def _body(mail) -> str:
    return mail.get_body(("plain",)).get_content()


def test_a_reply_to_an_unregistered_address_carries_no_attachment_and_no_figures(mctx):
    """Anyone can write any address into From: the township's mailbox must not relay a stranger's
    workbook (with its live links) or its words to that address."""
    ctx, imap, smtp = mctx
    v1, v2 = ctx.registry.villages[1:3]
    bad = filled(ctx, 1, births_total="十二")
    good = filled(ctx, 2, special_family_visits=7)
    imap.append(report_mail(ctx, 0))
    imap.append(message("victim@example.com", [(f"{v1.name}月报.xlsx", bad), (f"{v2.name}月报.xlsx", good)], subject="请查收 http://evil.example"))
    imap.append(message(v1.emails[0], [(f"{v1.name}月报.xlsx", bad)]))  # the same rejected file, from its own village
    imap.append(report_mail(ctx, 3))
    collect_twice(ctx, smtp)

    (to_stranger,) = replies_to(smtp, "victim@example.com")
    assert list(to_stranger.iter_attachments()) == []
    body = _body(to_stranger)
    assert "待核实" in str(to_stranger["Subject"]) and "不是村名册中登记的上报邮箱" in body and "2 份报表" in body
    for words in ("十二", "本月出生数", "单元格", "7", v1.name, v2.name, "evil", "月报.xlsx"):
        assert words not in body + str(to_stranger["Subject"])
    # the village itself gets its problems and the annotated copy, as before
    (to_village,) = replies_to(smtp, v1.emails[0])
    assert "十二" in _body(to_village) and len(list(to_village.iter_attachments())) == 1
    # both of the stranger's files wait for the clerk; the villages around are recorded
    rows = ledger_rows(ctx, "SELECT s.status FROM submissions s JOIN receipts r ON r.id = s.receipt_id WHERE r.sender = ?",
                       ("victim@example.com",))
    assert [r["status"] for r in rows] == ["退回", "待确认"]
    assert {ctx.registry.villages[0].code, ctx.registry.villages[3].code} <= mailkit.accepted_villages(ctx)


def test_a_resent_identical_file_is_told_its_true_status(mctx):
    """Resending the very same rejected file once got 【已收到】…校验通过 while the status stayed 退回."""
    ctx, imap, smtp = mctx
    v0, v1 = ctx.registry.villages[:2]
    bad = filled(ctx, 1, births_total="十二")
    first, second = filled(ctx, 0), filled(ctx, 0, special_family_visits=7)
    imap.append(message(v1.emails[0], [("月报.xlsx", bad)], subject="第一次"))
    imap.append(message(v0.emails[0], [("月报.xlsx", first)], subject="第一版"))
    imap.append(message(v0.emails[0], [("月报.xlsx", second)], subject="更正"))
    collect_twice(ctx, smtp)
    before = len(smtp.received)
    imap.append(message(v1.emails[0], [("月报.xlsx", bad)], subject="再发一次"))
    imap.append(message(v0.emails[0], [("月报.xlsx", first)], subject="再发第一版"))
    imap.append(report_mail(ctx, 2))
    collect_twice(ctx, smtp)
    new = smtp.received[before:]

    (again,) = [m for m in new if v1.emails[0] in str(m["To"])]
    assert "请修改后重发" in str(again["Subject"]) and "校验通过" not in str(again["Subject"])
    assert "与此前退回的文件完全相同" in _body(again) and "十二" in _body(again)
    assert len(list(again.iter_attachments())) == 1  # the annotated copy again
    (old,) = [m for m in new if v0.emails[0] in str(m["To"])]
    assert "校验通过" not in str(old["Subject"]) and "不重复计入" in str(old["Subject"])
    assert "第 1 版完全相同" in _body(old) and "目前以第 2 版为准" in _body(old)
    states = {s.code: s for s in api.status(ctx, PERIOD)}
    assert (states[v1.code].state, states[v0.code].state, states[v0.code].version) == ("退回", "已报", 2)
    assert ctx.registry.villages[2].code in mailkit.accepted_villages(ctx)


def test_an_old_refused_file_sent_again_after_a_good_version_asks_for_nothing(mctx):
    """The old refused file forwarded after a good version: 重复, and the reply says that version counts,
    not 请修改后重发."""
    ctx, imap, smtp = mctx
    v1 = ctx.registry.villages[1]
    bad, good = filled(ctx, 1, births_total="十二"), filled(ctx, 1)
    imap.append(message(v1.emails[0], [("月报.xlsx", bad)], subject="第一次"))
    imap.append(message(v1.emails[0], [("月报.xlsx", good)], subject="改好了"))
    collect_twice(ctx, smtp)
    before = len(smtp.received)
    imap.append(message(v1.emails[0], [("月报.xlsx", bad)], subject="转发旧邮件"))
    collect_twice(ctx, smtp)
    (reply,) = smtp.received[before:]
    assert "请修改后重发" not in str(reply["Subject"]) and "不重复计入" in str(reply["Subject"])
    assert "退回的文件完全相同" in _body(reply) and "仍以第 1 版为准" in _body(reply)
    assert list(reply.iter_attachments()) == []
    statuses = [r["status"] for r in ledger_rows(ctx, "SELECT status FROM submissions ORDER BY id")]
    assert statuses == ["退回", "已接收", "重复"]  # an old file: never checked again over the correction
    state = {s.code: s for s in api.status(ctx, PERIOD)}[v1.code]
    assert (state.state, state.version) == ("已报", 1)


def test_a_refused_correction_sent_again_is_still_asked_to_be_fixed(mctx):
    """第 1 版 accepted, a correction refused, the same correction sent again: the village is still trying to
    correct its report, so the reply lists the problems again with the annotated copy (it once said 不重复计入)."""
    ctx, imap, smtp = mctx
    v1 = ctx.registry.villages[1]
    good, bad = filled(ctx, 1), filled(ctx, 1, births_total="十二")
    imap.append(message(v1.emails[0], [("月报.xlsx", good)], subject="月报"))
    imap.append(message(v1.emails[0], [("更正.xlsx", bad)], subject="更正"))
    collect_twice(ctx, smtp)
    before = len(smtp.received)
    imap.append(message(v1.emails[0], [("更正.xlsx", bad)], subject="再发更正"))
    collect_twice(ctx, smtp)
    (reply,) = smtp.received[before:]
    assert "请修改后重发" in str(reply["Subject"])
    assert "与此前退回的文件完全相同" in _body(reply) and "十二" in _body(reply)
    assert len(list(reply.iter_attachments())) == 1


def test_a_sender_s_message_id_cannot_write_headers_into_the_reply_or_stop_it(mctx):
    """A Message-ID given as an encoded word with line breaks was copied into In-Reply-To and References: the
    township's receipt carried the sender's Bcc:, X-Injected: and a second body. A Message-ID in raw GBK
    stopped the receipt from being built at all (M018): the village never heard its report arrived."""
    import base64
    import re

    ctx, imap, smtp = mctx
    v0, v1, v2 = ctx.registry.villages[:3]
    evil = "x@y\nBcc: evil@example.com\nX-Injected: 1\nContent-Type: text/plain\n\n请把报表改发到 fake@example.com"
    encoded = b"=?utf-8?B?" + base64.b64encode(evil.encode()) + b"?="

    def with_id(raw: bytes, value: bytes) -> bytes:
        return re.sub(rb"Message-ID: <[^>]*>", b"Message-ID: " + value, raw, count=1)

    imap.append(with_id(report_mail(ctx, 0), b"<" + encoded + b">"))
    imap.append(with_id(report_mail(ctx, 1), "<龙泉村.报表@126.com>".encode("gbk")))
    imap.append(report_mail(ctx, 2))  # an ordinary one: its reply still names the mail it answers
    collect_twice(ctx, smtp)

    for village in (v0, v1):
        (reply,) = replies_to(smtp, village.emails[0])
        assert "校验通过" in str(reply["Subject"])
        assert reply["In-Reply-To"] is None and reply["References"] is None
        assert reply["Bcc"] is None and reply["X-Injected"] is None
        assert "fake@example.com" not in reply.as_string()
    (ordinary,) = replies_to(smtp, v2.emails[0])
    assert str(ordinary["In-Reply-To"]).startswith("<") and "@" in str(ordinary["In-Reply-To"])
    assert {v0.code, v1.code, v2.code} <= mailkit.accepted_villages(ctx)


def test_a_mail_of_many_files_is_summed_up_in_its_subject(programme):
    """An audit: one village's mail with its ten months and the other 18 villages' October reports got a subject
    naming all 19 villages and all 10 months — as if every village had reported every month."""
    from types import SimpleNamespace

    from pipeline.intake.replies import _title

    rows = [SimpleNamespace(row={"village_name": "青龙村", "period": f"2026-{m:02d}"}) for m in range(1, 11)]
    rows += [SimpleNamespace(row={"village_name": f"村{i}", "period": "2026-10"}) for i in range(18)]
    assert _title(rows, programme) == "您发来的 28 份月报表（19 个村、10 个报告期，见正文）"
    assert _title(rows[:2], programme) == "青龙村 2026年1月、2026年2月月报"
