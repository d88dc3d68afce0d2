"""What villages are told over a month — replies, reminders, templates — through a real mailbox (Dovecot)
and SMTP server (aiosmtpd): no reminder beside the receipt it chases, none twice, none stopped by one
village, and a reply that says which of two files counts."""

from __future__ import annotations

import json
import sqlite3

from pipeline import actions, api

from . import mailkit
from .conftest import PERIOD, filled
from .mailkit import collect_twice, ledger_rows, message, replies_to
from .test_joining import _registry_rows

servers, mctx = mailkit.servers, mailkit.mctx  # fixtures


def _body(mail) -> str:
    return mail.get_body(("plain",)).get_content()


def test_a_village_not_taking_part_with_a_refused_report_does_not_stop_the_reminders(mctx):
    """Its report (a 起始月份 typed a year late) was sent back; `remind` then failed for every village
    (KeyError: no template is made for a village not taking part)."""
    ctx, imap, smtp = mctx
    v = ctx.registry.villages
    _registry_rows(ctx, **{v[3].code: {"start_month": "2027-10"}})
    ctx = api.load_context(ctx.workspace.root)
    imap.append(message(v[3].emails[0], [("月报.xlsx", filled(ctx, 3, births_total="十二"))]))
    collect_twice(ctx, smtp)
    before = len(smtp.received)
    sent = api.remind(ctx, PERIOD, today="2026-11-04")
    assert sent.sent == len(v) - 1  # everyone else; not the village that does not take part this month
    assert not any(v[3].emails[0] in str(m["To"]) for m in smtp.received[before:])


def test_a_reminder_after_the_deadline_does_not_ask_for_a_date_gone_by(mctx):
    ctx, imap, smtp = mctx
    api.remind(ctx, PERIOD, today="2026-11-20")
    (mail,) = replies_to(smtp, ctx.registry.villages[0].emails[0])
    assert "报送截止日期（2026年11月5日）已过，请尽快填好报送" in _body(mail) and "请于 2026年11月5日 前" not in _body(mail)
    api.remind(ctx, PERIOD, today="2026-11-03")  # another day, before the deadline: the date to keep
    assert "请于 2026年11月5日 前填好报送" in _body(replies_to(smtp, ctx.registry.villages[0].emails[0])[-1])


def test_a_reminder_left_unsent_is_dropped_once_the_village_reports_and_replaced_by_a_newer_one(mctx, monkeypatch):
    """The server was away when `remind` ran; the village reported; the next collect sent the reminder beside
    the receipt of that very report. And reminders of two days, both left unsent, went out twice."""
    ctx, imap, smtp = mctx
    from pipeline.intake import outbox

    with monkeypatch.context() as away:
        away.setattr(outbox, "send_pending", lambda *a, **k: outbox.SendReport())  # the server is away
        api.remind(ctx, PERIOD, today="2026-11-06")
        api.remind(ctx, PERIOD, today="2026-11-07")
    queued = ledger_rows(ctx, "SELECT village_code, dedupe_key FROM outbox WHERE kind = 'reminder'")
    assert len(queued) == len(ctx.registry.villages) and all(r["dedupe_key"].endswith("2026-11-07") for r in queued)
    v0 = ctx.registry.villages[0]
    imap.append(message(v0.emails[0], [("月报.xlsx", filled(ctx, 0))]))
    api.collect(ctx)
    to_v0 = replies_to(smtp, v0.emails[0])
    assert [("催报" in str(m["Subject"])) for m in to_v0] == [False]  # the receipt alone
    others = [m for m in smtp.received if "催报" in str(m["Subject"])]
    assert len(others) == len(ctx.registry.villages) - 1  # each other village once, not twice


def test_a_corrected_address_gets_its_template(mctx):
    """A template refused for good (550) was never sent again, even after the 村名册 address was corrected."""
    ctx, imap, smtp = mctx
    v0 = ctx.registry.villages[0]
    for address in v0.emails:
        smtp.refuse_rcpt[address] = "550 5.1.1 no such user"
    api.send_templates(ctx, PERIOD)
    assert not any(a in str(m["To"]) for m in smtp.received for a in v0.emails)
    assert [r["failed_at"] is not None for r in ledger_rows(ctx, "SELECT failed_at FROM outbox WHERE village_code = ?", (v0.code,))] == [True]
    _registry_rows(ctx, **{v0.code: {"emails": "new0@qq.com"}})
    ctx = api.load_context(ctx.workspace.root)
    again = api.send_templates(ctx, PERIOD)
    assert again.sent == 1 and len(replies_to(smtp, "new0@qq.com")) == 1
    assert api.send_templates(ctx, PERIOD).sent == 0  # and once only


def test_a_bad_file_and_its_fixed_version_in_one_mail_ask_for_nothing(mctx):
    ctx, imap, smtp = mctx
    v1 = ctx.registry.villages[1]
    imap.append(message(v1.emails[0], [("原表.xlsx", filled(ctx, 1, births_total="十二")), ("改好的.xlsx", filled(ctx, 1))]))
    collect_twice(ctx, smtp)
    (reply,) = replies_to(smtp, v1.emails[0])
    assert "请修改后重发" not in str(reply["Subject"]) and "校验通过" in str(reply["Subject"])
    assert "同一邮件中的“改好的.xlsx”已校验通过（第 1 版），以它为准，这一份不必再改" in _body(reply)
    assert list(reply.iter_attachments()) == []


def test_two_good_versions_in_one_mail_say_which_counts(mctx):
    ctx, imap, smtp = mctx
    v1 = ctx.registry.villages[1]
    imap.append(message(v1.emails[0], [("更正后.xlsx", filled(ctx, 1, special_family_visits=5)), ("原表.xlsx", filled(ctx, 1))]))
    collect_twice(ctx, smtp)
    (reply,) = replies_to(smtp, v1.emails[0])
    assert _body(reply).count("有 2 份通过校验，以附件中排在后面的“原表.xlsx”为准；如不对，请只重发正确的那一份") == 2


def test_an_address_written_twice_is_mailed_once(workspace):
    ctx = api.load_context(workspace)
    v0 = ctx.registry.villages[0]
    _registry_rows(ctx, **{v0.code: {"emails": "a0@qq.com；A0@QQ.com; a0@qq.com"}})
    assert api.load_context(workspace).registry.by_code(v0.code).emails == ("a0@qq.com",)


def test_a_village_whose_registry_row_has_a_bad_address_is_named_as_not_sent(mctx):
    """`wanggang_jsb@126` (no address in the cell): send-templates said 18 sent and listed no one as skipped. The
    village stays in the 村名册 without the address (C015 at its cell), and is named as not sent."""
    ctx, imap, smtp = mctx
    v5 = ctx.registry.villages[5]
    _registry_rows(ctx, **{v5.code: {"emails": v5.emails[0].rsplit(".", 1)[0]}})
    ctx = api.load_context(ctx.workspace.root)
    assert any(p.code == "C015" for p in ctx.registry_problems) and ctx.registry.by_code(v5.code).emails == ()
    result = api.send_templates(ctx, PERIOD)
    assert result.sent == len(ctx.registry.villages) - 1 and any(s.startswith(v5.name) for s in result.skipped)


def test_a_stranger_s_file_for_a_village_neither_spares_it_nor_blames_it(mctx):
    """From an address not in the 村名册: a refused file naming 龙泉村 made its reminder say 收到的报表未通过校验
    (a file it never sent, problems it never saw); a 待确认 one naming 白石村 spared 白石村 the reminder."""
    ctx, imap, smtp = mctx
    v = ctx.registry.villages
    imap.append(message("personal.clerk@qq.com", [("龙泉.xlsx", filled(ctx, 2, births_total="十二")), ("白石.xlsx", filled(ctx, 1))]))
    collect_twice(ctx, smtp)
    api.remind(ctx, PERIOD, today="2026-11-04")
    (to_v2,) = [m for m in replies_to(smtp, v[2].emails[0]) if "催报" in str(m["Subject"])]
    assert "还没有收到" in _body(to_v2) and "未通过校验" not in _body(to_v2)
    assert [m for m in replies_to(smtp, v[1].emails[0]) if "催报" in str(m["Subject"])]


def test_a_number_found_out_of_line_after_the_reply_is_told_to_the_sender(mctx):
    """First month: 75 typed for 20, in the first mail of the run. Its reply said 校验通过 (no other report yet to
    compare with); the comparison with the whole month found it afterwards — and only the clerk saw it."""
    ctx, imap, smtp = mctx
    v5 = ctx.registry.villages[5]
    imap.append(message(v5.emails[0], [("月报.xlsx", filled(ctx, 5, PERIOD, elderly_checks=75))], subject="五"))
    for i in range(4):
        imap.append(message(ctx.registry.villages[i].emails[0], [("月报.xlsx", filled(ctx, i, PERIOD, elderly_checks=20))], subject=f"{i}"))
    collect_twice(ctx, smtp)  # the second run sends nothing more
    receipt, follow_up = replies_to(smtp, v5.emails[0])
    assert "校验通过" in str(receipt["Subject"]) and "差异过大" not in _body(receipt)
    assert str(follow_up["Subject"]).startswith("【请核实】") and "中位数为 20" in _body(follow_up)
    assert follow_up["In-Reply-To"] and list(follow_up.iter_attachments()) == []
    for i in range(4):  # the others are not told anything more
        assert len(replies_to(smtp, ctx.registry.villages[i].emails[0])) == 1


def test_a_preview_after_a_real_run_does_not_list_mail_that_will_not_go(mctx):
    ctx, imap, smtp = mctx
    first = api.remind(ctx, PERIOD, today="2026-11-04")
    preview = api.remind(ctx, PERIOD, dry_run=True, today="2026-11-04")
    assert preview.replies == [] and len(preview.already) == first.sent == len(ctx.registry.villages)
    again = api.remind(ctx, PERIOD, today="2026-11-04")
    assert again.replies == [] and again.sent == 0 and len(again.already) == first.sent


def test_a_stranger_s_file_the_clerk_accepted_for_the_village_spares_it_the_reminder(mctx):
    ctx, imap, smtp = mctx
    v1 = ctx.registry.villages[1]
    imap.append(message("personal.clerk@qq.com", [("白石.xlsx", filled(ctx, 1))]))
    collect_twice(ctx, smtp)
    (pending,) = ledger_rows(ctx, "SELECT id FROM submissions WHERE status = '待确认'")
    api.accept(ctx, pending["id"], "电话核实：专干用私人邮箱所发")
    out = api.remind(ctx, PERIOD, today="2026-11-04")
    assert v1.name not in " ".join(r.subject for r in out.replies)


# ---- found by a review of the changes above: addresses corrected, shared, written twice; the buttons' line ----

def test_unsent_template_to_a_corrected_address_still_goes_to_the_old_one(mctx, monkeypatch):
    """Server away when send-templates ran; the clerk corrects v0's address and runs it again."""
    ctx, imap, smtp = mctx
    from pipeline.intake import outbox
    v0 = ctx.registry.villages[0]
    old = list(v0.emails)
    with monkeypatch.context() as away:
        away.setattr(outbox, "send_pending", lambda *a, **k: outbox.SendReport())
        api.send_templates(ctx, PERIOD)
    _registry_rows(ctx, **{v0.code: {"emails": "new0@qq.com"}})
    ctx = api.load_context(ctx.workspace.root)
    api.send_templates(ctx, PERIOD)
    assert len(replies_to(smtp, "new0@qq.com")) == 1
    assert not any(a in str(m["To"]) for m in smtp.received for a in old), "template also went to the corrected-away address"


def test_unsent_reminder_same_day_corrected_address_two_reminders(mctx, monkeypatch):
    ctx, imap, smtp = mctx
    from pipeline.intake import outbox
    v0 = ctx.registry.villages[0]
    old = list(v0.emails)
    with monkeypatch.context() as away:
        away.setattr(outbox, "send_pending", lambda *a, **k: outbox.SendReport())
        api.remind(ctx, PERIOD, today="2026-11-04")
    _registry_rows(ctx, **{v0.code: {"emails": "new0@qq.com"}})
    ctx = api.load_context(ctx.workspace.root)
    api.remind(ctx, PERIOD, today="2026-11-04")
    rem = [m for m in smtp.received if "催报" in str(m["Subject"]) and v0.name in str(m["Subject"])]
    assert len(rem) == 1, "two reminders for one village (one to the old address)"
    assert "new0@qq.com" in str(rem[0]["To"]) and not any(a in str(rem[0]["To"]) for a in old)


def test_a_delivered_template_goes_again_when_an_address_is_added(mctx):
    ctx, imap, smtp = mctx
    v0 = ctx.registry.villages[0]
    first = v0.emails[0]
    api.send_templates(ctx, PERIOD)
    assert len(replies_to(smtp, first)) == 1
    _registry_rows(ctx, **{v0.code: {"emails": f"{';'.join(v0.emails)};extra0@qq.com"}})
    ctx = api.load_context(ctx.workspace.root)
    api.send_templates(ctx, PERIOD)
    assert len(replies_to(smtp, first)) == 1, "the delivered template went to the same address again"


def test_older_outbox_row_with_an_address_written_twice_is_sent_again(mctx):
    """Queued (and sent) before the de-duplication: to_addrs ["a","a"]; now ["a"]."""
    ctx, imap, smtp = mctx
    v0 = ctx.registry.villages[0]
    api.send_templates(ctx, PERIOD)
    assert len(replies_to(smtp, v0.emails[0])) == 1
    con = sqlite3.connect(ctx.workspace.ledger_path)
    con.execute("UPDATE outbox SET to_addrs = ? WHERE village_code = ?", (json.dumps(list(v0.emails) + [v0.emails[0]]), v0.code))
    con.commit(); con.close()
    out = api.send_templates(ctx, PERIOD)
    assert out.sent == 0 and len(replies_to(smtp, v0.emails[0])) == 1, "template sent twice after upgrade"


def test_second_run_after_corrected_address_lists_mail_that_will_not_go(mctx):
    ctx, imap, smtp = mctx
    v0 = ctx.registry.villages[0]
    for address in v0.emails:
        smtp.refuse_rcpt[address] = "550 5.1.1 no such user"
    api.send_templates(ctx, PERIOD)
    _registry_rows(ctx, **{v0.code: {"emails": "new0@qq.com"}})
    ctx = api.load_context(ctx.workspace.root)
    assert api.send_templates(ctx, PERIOD).sent == 1
    preview = api.send_templates(ctx, PERIOD, dry_run=True)
    assert preview.replies == [], "preview lists the corrected-address template again, though it will not go"


def test_shared_address_second_village_gets_no_follow_up(mctx):
    ctx, imap, smtp = mctx
    v = ctx.registry.villages
    v4, v5 = v[4], v[5]
    _registry_rows(ctx, **{v4.code: {"emails": f"{v4.emails[0]};{v5.emails[0]}"}})
    ctx = api.load_context(ctx.workspace.root)
    imap.append(message(v5.emails[0], [("月报.xlsx", filled(ctx, 5, PERIOD, elderly_checks=75))], subject="五"))
    for i in range(4):
        imap.append(message(ctx.registry.villages[i].emails[0], [("月报.xlsx", filled(ctx, i, PERIOD, elderly_checks=20))], subject=f"{i}"))
    collect_twice(ctx, smtp)
    mails = replies_to(smtp, v5.emails[0])
    assert any(str(m["Subject"]).startswith("【请核实】") for m in mails), "no follow-up for a village sharing an address"


def test_shared_address_refused_file_reminder_says_not_received(mctx):
    ctx, imap, smtp = mctx
    v = ctx.registry.villages
    v4, v5 = v[4], v[5]
    _registry_rows(ctx, **{v4.code: {"emails": f"{v4.emails[0]};{v5.emails[0]}"}})
    ctx = api.load_context(ctx.workspace.root)
    imap.append(message(v5.emails[0], [("月报.xlsx", filled(ctx, 5, births_total="十二"))]))
    collect_twice(ctx, smtp)
    api.remind(ctx, PERIOD, today="2026-11-04")
    rem = [m for m in replies_to(smtp, v5.emails[0]) if "催报" in str(m["Subject"]) and v5.name in str(m["Subject"])]
    assert len(rem) == 1
    assert "未通过校验" in _body(rem[0]), "reminder says 还没有收到 although the village's own file was sent back"


def test_button_line_after_a_real_run(mctx):
    ctx, imap, smtp = mctx
    api.remind(ctx, PERIOD, today="2026-11-04")
    out = api.remind(ctx, PERIOD, dry_run=True, today="2026-11-04")
    line = actions._mail_line("催报", out, True)
    assert str(len(out.already)) in line, "button line does not say how many went before"


def test_a_waiting_report_s_reply_also_says_its_out_of_line_numbers(mctx):
    """On the township's blank template (待确认) with 75 typed for 20: the reply gave only the identity reason;
    accepting the report later sends nothing more, so the village never heard of the 75."""
    from pipeline.programme.periods import Month

    from .test_corrections import _on_a_blank_template

    ctx, imap, smtp = mctx
    v1 = ctx.registry.villages[1]
    for m in (7, 8, 9):
        imap.append(message(v1.emails[0], [("月报.xlsx", filled(ctx, 1, Month(2026, m), elderly_checks=20))], subject=f"{m}月"))
    imap.append(message(v1.emails[0], [("十月.xlsx", _on_a_blank_template(ctx, 1, elderly_checks=75))], subject="十月"))
    collect_twice(ctx, smtp)
    (reply,) = [m for m in replies_to(smtp, v1.emails[0]) if "待核实" in str(m["Subject"])]
    assert "以下数字与往月差异过大，请核实" in _body(reply) and "75" in _body(reply)


def test_demo_into_a_file_of_that_name_is_refused_plainly(tmp_path):
    import pytest

    from pipeline.demo import run_demo
    from pipeline.problems import HuizongError

    (tmp_path / "演示").write_text("不是目录", encoding="utf-8")
    with pytest.raises(HuizongError) as refused:
        run_demo(tmp_path / "演示", PERIOD)
    assert refused.value.problems[0].code == "X007"


def test_a_dry_run_writes_no_template(mctx):
    """`remind --dry-run` and `send-templates --dry-run` rewrote every village's template file: a preview must leave
    the workspace as it was."""
    ctx, imap, smtp = mctx
    folder = ctx.workspace.templates / str(PERIOD)
    before = sorted(folder.rglob("*")) if folder.exists() else []
    preview = api.send_templates(ctx, PERIOD, dry_run=True)
    assert preview.replies and (sorted(folder.rglob("*")) if folder.exists() else []) == before
    api.remind(ctx, PERIOD, dry_run=True, today="2026-11-04")
    assert (sorted(folder.rglob("*")) if folder.exists() else []) == before and smtp.received == []
