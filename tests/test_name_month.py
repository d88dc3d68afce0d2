"""A village that fills its new month's numbers into last month's template: the file says 1月, the template
says December. As a second version of December it replaced the accepted one, unsaid; it now waits for the
township (I011), while a first report so named, or a name with a date in it, goes through as before."""

from __future__ import annotations

from pipeline import api
from pipeline.ledger.db import Ledger
from pipeline.programme.periods import Month
from pipeline.validate.identity import name_month

from .conftest import filled

DEC = Month(2026, 12)


def _collect(ctx: api.Context, name: str, data: bytes) -> dict:
    (ctx.workspace.inbox / name).write_bytes(data)
    api.collect(ctx)
    with Ledger(ctx.workspace.ledger_path) as ledger:
        return dict(ledger.conn.execute("SELECT * FROM submissions ORDER BY id DESC LIMIT 1").fetchone())


def test_january_s_numbers_in_december_s_template_do_not_replace_december_unsaid(ctx):
    v = ctx.registry.villages[0]
    first = _collect(ctx, f"{v.name}1月报表.xlsx", filled(ctx, 0, DEC))  # a first report so named: as before
    assert first["status"] == "已接收"
    second = _collect(ctx, f"{v.name}1月报表（1月数据）.xlsx", filled(ctx, 0, DEC, special_family_visits=9))
    assert second["status"] == "待确认" and '"I011"' in second["problems_json"]
    state = {s.code: s for s in api.status(ctx, DEC)}[v.code]
    assert (state.state, state.version) == ("已报", 1)
    fixed = _collect(ctx, f"{v.name}12月报表更正.xlsx", filled(ctx, 0, DEC, special_family_visits=8))
    assert fixed["status"] == "已接收" and fixed["version"] == 2


def test_which_names_speak_of_another_month():
    assert name_month("柳塘村1月报表.xlsx", DEC) == "1月" and name_month("柳塘村一月份报表.xlsx", DEC) == "一月"
    for same in ("柳塘村12月报表.xlsx", "柳塘村十二月.xlsx", "柳塘村报表1月5日.xlsx", "12月报表（1月3日报）.xlsx",
                 "村月报-01_空白模板.xlsx", "20270105.xlsx", "月报.xlsx"):
        assert name_month(same, DEC) == "", same
