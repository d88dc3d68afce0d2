"""Mail from villages that holds no new report, through a real mailbox (Dovecot) and SMTP server (aiosmtpd):
a thanks or a question is the clerk's to read, a file we sent ourselves riding back is not a report, a
webmail's download link is named for what it is."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

from pipeline import api

from . import mailkit
from .conftest import PERIOD, filled
from .mailkit import CST, collect_twice, ledger_rows, message, replies_to, report_mail

servers, mctx = mailkit.servers, mailkit.mctx  # fixtures


def _body(mail) -> str:
    return mail.get_body(("plain",)).get_content()


def _attachments(mail) -> list[tuple[str, bytes]]:
    return [(part.get_filename(), part.get_payload(decode=True)) for part in mail.iter_attachments()]


def _states(ctx, *codes) -> dict[str, str]:
    return {s.code: s.state for s in api.status(ctx, PERIOD) if s.code in codes}


def test_a_village_s_thanks_is_not_answered_and_stays_for_the_clerk(workspace, servers, monkeypatch):
    """Every reply says 如有疑问请直接回复本邮件. A village that answers (a thanks, a question) was told
    【未找到报表】请把报表作为附件重新发送 — though its report was in — and the clerk saw a count; with
    ``after: move`` the question left the inbox unread."""
    imap, smtp = servers
    ctx = mailkit.use_mail(workspace, imap, smtp, monkeypatch, mailkit.SINCE + "  after: move\n  move_to: 已收报表\n")
    v0, v1 = ctx.registry.villages[:2]
    imap.append(report_mail(ctx, 0))
    api.collect(ctx)
    receipt = smtp.wait_for(1)[0]
    quoted = f"收到，谢谢！\n\n------------------ 原始邮件 ------------------\n{_body(receipt)}"
    imap.append(message(v0.emails[0], [], subject="回复：" + str(receipt["Subject"]), headers={"In-Reply-To": str(receipt["Message-ID"])},
                        body=quoted))
    imap.append(message(v1.emails[0], [], subject="请问出生登记表怎么填", body="您好，出生登记表里没有身份证号的怎么填？"))
    result = collect_twice(ctx, smtp)
    letters = {p.value: p.message for p in result.notices if p.code == "M005"}
    thanks = letters[f"{v0.name}（{v0.emails[0]}）"]
    assert "收到，谢谢！" in thanks and "原始邮件" not in thanks and "没有自动回复" in thanks  # its own words, not the quote
    assert "出生登记表里没有身份证号的怎么填" in letters[f"{v1.name}（{v1.emails[0]}）"]
    # the thanks is not answered; the question (not a reply to us) is told how to send a report, and that words are read
    assert len(replies_to(smtp, v0.emails[0])) == 1
    (asked,) = replies_to(smtp, v1.emails[0])
    assert "如果您只是来信说明情况或询问，不必理会本邮件" in _body(asked)
    # both letters stay unread in the inbox, where the clerk's mail program shows them; the report moved on
    assert imap.count("INBOX") == 2 and imap.count("已收报表") == 1
    assert all("\\Seen" not in flags for flags in imap.flags("INBOX").values())
    assert _states(ctx, v0.code, v1.code) == {v0.code: "已报", v1.code: "未报"}


def test_a_file_we_sent_that_comes_back_is_not_a_report(mctx):
    """A village that forwards our reminder (to ask about it) or answers it with the attachment kept sends us
    our own blank template: it was recorded as the village's refused report (未报 → 退回, 30 errors, later
    reminders saying its report failed). An annotated copy forwarded along with the fix turned the receipt
    into 【请修改后重发】 and attached a 校验结果_校验结果 copy."""
    ctx, imap, smtp = mctx
    v0, v1, v2 = ctx.registry.villages[:3]
    api.send_templates(ctx, PERIOD)
    sent = {m["To"].addresses[0].addr_spec: _attachments(m) for m in smtp.wait_for(len(ctx.registry.villages))}
    (template_name, template), = sent[v0.emails[0]]
    # 青龙村 forwards the template mail as it came, asking something; 白石村 answers with the template kept and its report
    imap.append(message(v0.emails[0], [(template_name, template)], subject="转发：模板", body="这个表的第 3 项怎么填？"))
    (t1_name, t1), = sent[v1.emails[0]]
    imap.append(message(v1.emails[0], [(t1_name, t1), (f"{v1.name}月报.xlsx", filled(ctx, 1))], subject="回复：模板"))
    # 龙泉村: a refused file, then the fix with our annotated copy still attached
    imap.append(message(v2.emails[0], [(f"{v2.name}月报.xlsx", filled(ctx, 2, births_total="十二"))]))
    first = api.collect(ctx)
    refusal = replies_to(smtp, v2.emails[0])[-1]
    (copy_name, copy), = _attachments(refusal)
    assert copy_name.endswith("_校验结果.xlsx")
    imap.append(message(v2.emails[0], [(f"{v2.name}月报(改).xlsx", filled(ctx, 2)), (copy_name, copy)], subject="改好了"))
    result = collect_twice(ctx, smtp)

    subs = {r["village_code"]: r["n"] for r in ledger_rows(ctx, "SELECT village_code, COUNT(*) AS n FROM submissions GROUP BY village_code")}
    assert v0.code not in subs and subs[v1.code] == 1 and subs[v2.code] == 2  # our files are not recorded as reports
    assert _states(ctx, v0.code, v1.code, v2.code) == {v0.code: "未报", v1.code: "已报", v2.code: "已报"}
    assert replies_to(smtp, v0.emails[0])[1:] == []  # a forward of our mail with words only: for the clerk
    assert any(p.code == "M005" and v0.name in p.value and "第 3 项怎么填" in p.message for p in first.notices)
    assert not any(p.code == "M005" for p in result.notices)
    (answer,) = replies_to(smtp, v1.emails[1] if len(v1.emails) > 1 else v1.emails[0])[1:]
    assert str(answer["Subject"]).startswith("【已收到】") and "镇里发出的模板原件（没有填写），不作为报表计入" in _body(answer)
    fixed = replies_to(smtp, v2.emails[0])[-1]
    assert str(fixed["Subject"]).startswith("【已收到】") and _attachments(fixed) == []
    assert "镇里退回时附上的标注副本原件（没有修改），不作为报表计入" in _body(fixed)


def test_a_webmail_download_link_is_named_and_the_village_told_to_attach(mctx):
    """QQ 超大附件 and 网易云附件 put only a download link in the letter; the village, sure it attached the
    file, was told only 没有找到报表."""
    ctx, imap, smtp = mctx
    v0 = ctx.registry.villages[0]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = v0.emails[0], "clerk@township.test", "青龙村10月报表"
    msg["Date"] = format_datetime(__import__("datetime").datetime(2026, 11, 3, 9, 30, tzinfo=CST))
    msg["Message-ID"] = "<big-link-1@163.com>"
    msg.set_content("请查收")
    msg.add_alternative('<div>请查收</div><div class="qqmail_bigattach">从QQ邮箱发来的超大附件<br>青龙村2026年10月报表.xlsx (45.2K)'
                        ' <a href="https://wx.mail.qq.com/ftn/download?func=3&k=abc">进入下载页面</a></div>', subtype="html")
    imap.append(msg.as_bytes())
    collect_twice(ctx, smtp)
    (reply,) = replies_to(smtp, v0.emails[0])
    assert str(reply["Subject"]) == "【未找到报表】请用普通附件重新发送"
    assert "“QQ邮箱超大附件”的下载链接" in _body(reply) and "添加附件" in _body(reply)

    # the village answers "好的，马上重发", quoting our reply (which names 超大附件): a letter for the clerk, not
    # another 【未找到报表】 — each answer quoting the last got one more
    answer = EmailMessage()
    answer["From"], answer["To"], answer["Subject"] = v0.emails[0], "clerk@township.test", "回复：" + str(reply["Subject"])
    answer["Date"] = format_datetime(__import__("datetime").datetime(2026, 11, 3, 10, 0, tzinfo=CST))
    answer["Message-ID"], answer["In-Reply-To"] = "<big-link-2@163.com>", str(reply["Message-ID"])
    answer.set_content("好的，马上重发\n\n------------------ 原始邮件 ------------------\n" + _body(reply))
    imap.append(answer.as_bytes())
    before = len(smtp.received)
    summary = collect_twice(ctx, smtp)
    assert len(smtp.received) == before and [n.code for n in summary.notices] == ["M005"]

    # a report attached, and a second file sent as a link beside it: the report counts, the link is not passed over
    v1 = ctx.registry.villages[1]
    both = EmailMessage()
    both["From"], both["To"], both["Subject"] = v1.emails[0], "clerk@township.test", "白石村10月报表和出生登记"
    both["Date"] = format_datetime(__import__("datetime").datetime(2026, 11, 3, 11, 0, tzinfo=CST))
    both["Message-ID"] = "<big-link-3@qq.com>"
    both.set_content("请查收")
    both.add_alternative('<div>请查收</div><div class="qqmail_bigattach">从QQ邮箱发来的超大附件<br>出生登记补充.xlsx (12.1M)'
                         ' <a href="https://wx.mail.qq.com/ftn/download?func=3&k=def">进入下载页面</a></div>', subtype="html")
    both.add_attachment(filled(ctx, 1), maintype="application", subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        filename="白石村10月报表.xlsx")
    imap.append(both.as_bytes())
    summary = collect_twice(ctx, smtp)
    (receipt,) = replies_to(smtp, v1.emails[0])
    assert str(receipt["Subject"]).startswith("【已收到】")
    assert "以“QQ邮箱超大附件”下载链接发来的文件，系统无法从链接下载，没有收到" in _body(receipt)
    assert [n.code for n in summary.notices] == ["M019"] and _states(ctx, v1.code) == {v1.code: "已报"}


def test_an_empty_text_cell_is_asked_to_be_filled_not_to_write_0(ctx, tmp_path):
    """单位负责人 / 填表人 / 联系电话 left empty were told 没有发生请填 0."""
    from pipeline.check import check_bytes

    data = filled(ctx, 0, filled_by=None, phone=None)
    problems = [p for p in check_bytes(data, "r.xlsx", ctx.programme, ctx.registry, ctx.secret, ctx.workspace.limits).problems if p.code == "V001"]
    assert problems and all("请填 0" not in p.message and p.message.endswith("请填写。") for p in problems)


def test_an_opaque_smime_mail_is_not_called_just_a_signature():
    """smime.p7m wraps the whole letter, report included: it was listed as 邮件数字签名 beside 没有找到报表."""
    from pipeline.intake.mime import parse_message

    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "longquan@126.com", "月报", "<p7m-1@126.com>"
    msg.set_content(b"0\x82\x01\x00" + bytes(200), maintype="application", subtype="pkcs7-mime", filename="smime.p7m")
    (ignored,) = parse_message(msg.as_bytes()).ignored
    assert "整体封装" in ignored.reason and "关闭邮件的签名/加密后重新发送" in ignored.reason


def test_files_mailed_before_they_were_remembered_are_known_when_they_come_back(mctx):
    """Mail sent by the version before sent_files existed: a village that forwards that template back was still
    recorded as reporting. The first mail collect notes the digests of every earlier mail's attachments that
    are still in the workspace, once."""
    from pipeline.ledger.db import Ledger

    ctx, imap, smtp = mctx
    v0 = ctx.registry.villages[0]
    api.send_templates(ctx, PERIOD)
    sent = {m["To"].addresses[0].addr_spec: _attachments(m) for m in smtp.wait_for(len(ctx.registry.villages))}
    with Ledger(ctx.workspace.ledger_path) as ledger, ledger.transaction() as db:  # as an older ledger has it
        db.execute("DELETE FROM sent_files")
        db.execute("UPDATE outbox SET files_noted = NULL")
    (template_name, template), = sent[v0.emails[0]]
    imap.append(message(v0.emails[0], [(template_name, template)], subject="转发：模板", body="收到"))
    api.collect(ctx)
    assert ledger_rows(ctx, "SELECT COUNT(*) AS n FROM submissions")[0]["n"] == 0
    noted = ledger_rows(ctx, "SELECT COUNT(*) AS n FROM sent_files")[0]["n"]
    assert noted == len(ctx.registry.villages)
    assert ledger_rows(ctx, "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NOT NULL AND files_noted IS NULL")[0]["n"] == 0


def test_a_receipt_asks_the_village_to_look_again_at_a_number_far_from_last_month(mctx):
    """Typos no rule can tell from a real month (a numerator 5 typed 0, 虫果数 1 typed 10) moved ranks and money
    with a receipt that said 校验通过. The receipt now puts last month's number beside one that went to 0, came
    from 0 to 3 or more, or is three times larger or smaller, and asks the village to look again."""
    from pipeline.programme.periods import Month

    ctx, imap, smtp = mctx
    v = ctx.registry.villages[1]
    september = filled(ctx, 1, Month(2026, 9), special_family_visits=4, big_campaigns=1, slogans=8)
    imap.append(message(v.emails[0], [(f"{v.name}9月报表.xlsx", september)], subject="9月报表"))
    api.collect(ctx)
    imap.append(report_mail(ctx, 1, special_family_visits=0, big_campaigns=1, slogans=9))
    api.collect(ctx)
    body = _body(replies_to(smtp, v.emails[0])[-1])
    assert "校验通过" in body
    assert "特殊家庭走访慰问户次：0 户次（上月 4，请核对）" in body
    assert "大型宣传活动次数：1 次\n" in body and "宣传标语条数：9 条\n" in body  # the same, or near it: nothing said
