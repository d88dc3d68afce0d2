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


def test_header_and_signature_problems_are_named_in_chinese(ctx):
    """A problem with the header or the template's hidden marks showed its field id (village_name, hz_signature)
    where every other problem shows a label: in `huizong validate` and in the 项目 column of the feedback copy."""
    import io

    import openpyxl

    from pipeline.check import check_bytes

    from .conftest import filled

    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    meta = wb["_huizong"]
    for row in meta.iter_rows():
        if row[0].value == "签名":
            row[1].value = None
    buf = io.BytesIO()
    wb.save(buf)
    check = check_bytes(buf.getvalue(), "a.xlsx", ctx.programme, ctx.registry, ctx.secret)
    found = [p for p in check.problems if p.code.startswith("I")]
    assert [p.code for p in found] == ["I004"]
    assert found and all(p.label for p in found), [(p.code, p.field, p.label) for p in found]
    assert {p.label for p in found} <= {"填报单位", "报告期", "模板签名", "考核方案", "模板版本"}
