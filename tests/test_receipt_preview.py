"""The receipt says what the village's own reports come to — the score, the subsidies, a criticism —
so that a typo no rule can tell from a real month (诱杀 1 typed 0) is seen by the one person who knows
the true number before the 通报 publishes it. Through a real mailbox (Dovecot) and SMTP server."""

from __future__ import annotations

from pipeline import api
from pipeline.ledger.db import Ledger
from pipeline.programme.calendar import year_months
from pipeline.programme.periods import Month
from pipeline.score.preview import preview

from . import mailkit
from .conftest import filled
from .mailkit import message, replies_to, use_mail

servers = mailkit.servers  # fixture

JUN, JUL = Month(2026, 6), Month(2026, 7)


def _body(mail) -> str:
    return mail.get_body(("plain",)).get_content()


def _preview(ctx: api.Context, index: int, period: Month) -> list[str]:
    v = ctx.registry.villages[index]
    with Ledger(ctx.workspace.ledger_path) as ledger:
        rows = list(ledger.latest_accepted(ctx.programme.id, [str(m) for m in year_months(ctx.programme, period)], v.code))
    return preview(ctx.programme, v, period, rows)


def _collect(ctx: api.Context, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (ctx.workspace.inbox / name).write_bytes(data)
    api.collect(ctx)


def test_a_typo_that_brings_a_criticism_is_said_in_the_receipt(tmp_path, servers, monkeypatch):
    """Programme C criticises a village with fewer than 3 诱杀 from July on. 诱杀 1 typed 0 in July passes every
    check (0–3 are usual); the July receipt now says the season's sums, the rate it is ranked on, the reward tier
    it stands at and that it will be criticised — the village sees the 1 it did not count."""
    imap, smtp = servers
    api.init_workspace(tmp_path / "ws", programme="fruitfly-c", example=True)
    ctx = use_mail(tmp_path / "ws", imap, smtp, monkeypatch)
    v = ctx.registry.villages[0]
    june = filled(ctx, 0, JUN, fruits_checked=800, fruits_infested=1, bait_rounds=2, spray_rounds=1)
    july = filled(ctx, 0, JUL, fruits_checked=1200, fruits_infested=1, bait_rounds=0, spray_rounds=1)
    imap.append(message(v.emails[0], [("6月.xlsx", june)], subject="6月"))
    api.collect(ctx)
    imap.append(message(v.emails[0], [("7月.xlsx", july)], subject="7月"))
    api.collect(ctx)

    first, second = (_body(m) for m in replies_to(smtp, v.emails[0]))
    assert "按本村2026年6月已通过的报表（含本份）计算" in first
    assert "通报批评" not in first  # 诱杀 is judged from July: June's 2 is progress, not a shortfall
    assert "按本村2026年6—7月已通过的报表（含本份）计算，供核对，以镇里的通报为准：" in second
    assert "虫果率（‰）：1" in second  # (1 + 1) / (800 + 1200) × 1000
    assert "累计：检查果数 2,000 个，虫果数 2 个，诱杀次数 2 次，全园喷药次数 2 次" in second
    assert "联防专班分档奖励：按目前的数为 800 元（防治季结束时按那时的累计数核定）" in second
    assert "！按这些数，本村将被通报批评：组织不力、措施不实（诱杀不足 3 次）。如有填错，请改正后重新发送整个文件" in second

    # the village corrects July (it did 1): the new receipt no longer speaks of criticism
    fixed = filled(ctx, 0, JUL, fruits_checked=1200, fruits_infested=1, bait_rounds=1, spray_rounds=1)
    imap.append(message(v.emails[0], [("7月更正.xlsx", fixed)], subject="7月更正"))
    api.collect(ctx)
    third = _body(replies_to(smtp, v.emails[0])[-1])
    assert "诱杀次数 3 次" in third and "通报批评" not in third


def test_a_preview_that_fails_leaves_the_receipt_and_the_report_as_they_were(tmp_path, servers, monkeypatch):
    """The preview is an addition to the reply: a defect in it must not hold the reply back or the report."""
    import pipeline.score.preview as module

    imap, smtp = servers
    api.init_workspace(tmp_path / "ws", programme="fruitfly-c", example=True)
    ctx = use_mail(tmp_path / "ws", imap, smtp, monkeypatch)
    v = ctx.registry.villages[0]

    def broken(*args, **kwargs):
        raise ValueError("a defect in the preview")

    monkeypatch.setattr(module, "preview", broken)
    imap.append(message(v.emails[0], [("6月.xlsx", filled(ctx, 0, JUN))], subject="6月"))
    api.collect(ctx)
    (reply,) = replies_to(smtp, v.emails[0])
    assert "校验通过" in str(reply["Subject"]) and "按本村" not in _body(reply)
    assert v.code in mailkit.accepted_villages(ctx)


def test_programme_b_says_the_month_s_subsidies_and_a_denominator_of_0(tmp_path):
    """B pays 50 元 per 早孕建册 and per 产后访视 each month: a 5 typed 50 is 2,250 元 more, shown to the
    community before the money goes out; a denominator typed 0 scores full marks, and says so."""
    api.init_workspace(tmp_path / "ws", programme="monthly-b", example=True)
    ctx = api.load_context(tmp_path / "ws")
    sep = Month(2026, 9)
    _collect(ctx, {"a.xlsx": filled(ctx, 0, sep, pregnancies_new=50, early_registered=50, postpartum_due=4, postpartum_done=3),
                   "b.xlsx": filled(ctx, 1, sep, births_total=0, births_reported=0)})
    lines = _preview(ctx, 0, sep)
    assert lines[0] == "按本表计算，供核对，以镇里的通报为准："
    assert "早孕建册工作补贴：2,500 元" in lines and "产后访视工作补贴：150 元" in lines
    assert "注：本月无出生（出生登记按满分）" in _preview(ctx, 1, sep)
    # B's score reads the 街道考核登记: not the community's own, not said
    assert not any(line.startswith("总分") for line in lines)


def test_programme_a_says_the_items_its_reports_decide_and_leaves_the_total_to_the_notice(ctx):
    """A's 1000 points read the 镇考核登记 (meetings, errors, vetoes): a total from the report alone would be a number
    the 通报 then contradicts. The items the village's reports alone decide are said, each as the 通报 scores it."""
    from pipeline.score.preview import _names_of

    oct_ = Month(2026, 10)
    _collect(ctx, {f"{i}.xlsx": filled(ctx, i, oct_) for i in range(3)})
    lines = _preview(ctx, 0, oct_)
    assert not any(line.startswith("总分") for line in lines)
    [items] = [line for line in lines if line.startswith("只由本村报表决定的各项得分")]
    scored = api.consolidate(ctx, oct_).scored
    k = scored.codes.index(ctx.registry.villages[0].code)
    registers = {f["id"] for f in ctx.programme.raw["assessment_register"]["fields"]}
    said = 0
    for item in scored.plan.items:
        if _names_of(item) & registers:  # 组织制度 reads committee_items: not the village's own
            assert f"{item.name} " not in items
            continue
        base = round(float(scored.item_value(item.code, "base")[k]), 2)
        assert f"{item.name} {base:g}/" in items.replace(",", ""), item.name
        said += 1
    assert said >= 10


def test_a_village_out_of_the_ranking_is_told_why_and_promised_nothing(tmp_path):
    """A review: 检查果数 0 in June — the receipt said 虫果率 0 and 分档奖励 800 元 beside 不能参加排名, while the
    通报 leaves the village unranked and pays it nothing."""
    api.init_workspace(tmp_path / "ws", programme="fruitfly-c", example=True)
    ctx = api.load_context(tmp_path / "ws")
    _collect(ctx, {"a.xlsx": filled(ctx, 0, JUN, fruits_checked=0, fruits_infested=0)})
    lines = _preview(ctx, 0, JUN)
    assert any("不能参加排名：未开展检查" in line for line in lines)
    assert not any(line.startswith(("虫果率", "联防专班分档奖励")) for line in lines)


def test_a_total_that_registers_or_rank_bonuses_add_to_is_left_to_the_notice(tmp_path):
    """A programme scored on the report alone but with a 加分扣分登记: the receipt said 总分 99 where the 通报, with a
    通报批评 −5 in the register, said 94."""
    from dataclasses import replace

    api.init_workspace(tmp_path / "ws", programme="fruitfly-c", example=True)
    ctx = api.load_context(tmp_path / "ws")
    _collect(ctx, {"a.xlsx": filled(ctx, 0, JUN, fruits_checked=800, fruits_infested=1)})
    assert any(line.startswith("虫果率（‰）：") for line in _preview(ctx, 0, JUN))
    with_register = replace(ctx, programme=replace(ctx.programme, raw={**ctx.programme.raw, "adjustments": {"items": []}}))
    v = ctx.registry.villages[0]
    with Ledger(ctx.workspace.ledger_path) as ledger:
        rows = list(ledger.latest_accepted(ctx.programme.id, [str(JUN)], v.code))
    lines = preview(with_register.programme, v, JUN, rows)
    assert not any(line.startswith("虫果率（‰）：") for line in lines)
    assert not any("分档奖励" in line for line in lines)  # a reward on the total is not the village's own either
