"""A valid filled template passes; typical mistakes are reported at their cells."""

from __future__ import annotations

from pipeline.check import check_bytes

from .conftest import PERIOD, filled


def codes(check):
    return sorted({p.code for p in check.problems})


def test_valid_report_is_accepted(ctx):
    check = check_bytes(filled(ctx, 0), "a.xlsx", ctx.programme, ctx.registry, ctx.secret)
    assert check.errors == [], [p.message for p in check.errors]
    assert check.status == "已接收"
    assert check.identity.village.code == ctx.registry.villages[0].code
    assert check.identity.period == PERIOD
    assert check.identity.signed


def test_chinese_numeral_and_mismatch_are_errors_at_their_cells(ctx):
    data = filled(ctx, 0, births_total="十二", deaths_total=3, deaths_reported_timely=5)
    check = check_bytes(data, "b.xlsx", ctx.programme, ctx.registry, ctx.secret)
    by_code = {p.code: p for p in check.problems}
    assert by_code["V007"].field == "births_total"
    assert by_code["V007"].cell == "D8"
    assert by_code["V007"].sheet == "月报"
    assert "12" in by_code["V007"].message
    assert by_code["R001"].field == "deaths_reported_timely"
    assert check.status == "退回"
