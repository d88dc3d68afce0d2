"""Gaps of generality a township's own programme runs into (issue: authoring without code): a detail
sheet summed into a derived value and cross-checked against a main field, an average over months,
text fields captured but never computed with, and a field added mid-year."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from pipeline import api
from pipeline.check import check_bytes
from pipeline.programme.periods import Month
from pipeline.workbook.fill import fill_template

RELIEF = {
    "id": "relief", "name": "困难群众救助月报考核", "version": "1", "unit_label": "村",
    "report": {"form_no": "救助月报-01", "title": "困难群众救助月报表", "sheet": "月报", "sections": [{"title": "一、救助", "fields": [
        {"id": "amount_paid", "label": "本月发放救助金额", "type": "number", "min": 0, "decimals": 2, "unit": "元"},
        {"id": "households_visited", "label": "本月走访困难户数", "type": "integer", "min": 0, "unit": "户", "aggregate": "average"},
        {"id": "remark", "label": "备注", "type": "text", "required": False},
        {"id": "hotline_calls", "label": "本月热线来电数", "type": "integer", "min": 0, "unit": "次", "since": "2026-07"},
    ]}]},
    "register": {"id": "payments", "label": "发放明细", "sheet": "发放明细", "name": "payment_register", "rows": 20, "columns": [
        {"id": "payee", "label": "领取人", "type": "text", "max_length": 20, "personal": True},
        {"id": "kind", "label": "方式", "type": "enum", "values": ["现金", "实物"]},
        {"id": "amount", "label": "金额", "type": "number", "min": 0, "decimals": 2},
    ]},
    "rules": [{"type": "register_sum", "field": "amount_paid", "column": "amount"}],
    "derived": [{"id": "cash_paid", "label": "现金发放金额", "sum_register": "amount", "where": {"kind": ["现金"]}},
                {"id": "cash_rows", "label": "现金发放笔数", "count_register": {"kind": ["现金"]}}],
    "periods": {"year_start_month": 1, "assessment": [{"name": "全年", "months": list(range(1, 13))}]},
    "scoring": {"items": [
        {"code": "S1", "name": "现金发放占比", "max": 50, "base": "IF(amount_paid=0,50,50*cash_paid/amount_paid)"},
        {"code": "S2", "name": "月均走访", "max": 50, "base": "MIN(50,5*households_visited)"},
    ]},
    "township": {"indicators": [{"name": "现金发放占比", "numerator": "cash_paid", "denominator": "amount_paid", "unit": "%"}]},
}


@pytest.fixture
def ws(tmp_path):
    path = tmp_path / "relief.yaml"
    path.write_text(yaml.safe_dump(RELIEF, allow_unicode=True), encoding="utf-8")
    api.init_workspace(tmp_path / "ws", programme=str(path), example=True)
    return api.load_context(tmp_path / "ws")


def report(ctx, index, month, payments, **values):
    template = next(p for p in api.make_templates(ctx, month) if ctx.registry.villages[index].name in p.name).read_bytes()
    rows = [{"payee": f"张{i}", "kind": kind, "amount": amount} for i, (kind, amount) in enumerate(payments)]
    base = {"amount_paid": sum(a for _, a in payments), "households_visited": 4}
    return fill_template(template, {**base, **values}, rows, register_name="payment_register", register_columns=["payee", "kind", "amount"])


def test_a_main_field_must_equal_the_sum_of_its_detail_sheet(ws):
    data = report(ws, 0, Month(2026, 7), [("现金", 300.0), ("实物", 200.0)], amount_paid=600.0, hotline_calls=3)
    check = check_bytes(data, "a.xlsx", ws.programme, ws.registry, ws.secret)
    [p] = [p for p in check.problems if p.code == "R002"]
    assert p.field == "amount_paid" and "“发放明细”表中“金额”之和 500" in p.message and p.cell


def test_derived_sums_averages_and_text_fields_in_the_summary(ws):
    for month, visited in ((Month(2026, 7), 2), (Month(2026, 8), 6)):
        (ws.workspace.inbox / f"{month}.xlsx").write_bytes(
            report(ws, 0, month, [("现金", 300.0), ("实物", 200.0), ("现金", 100.0)], households_visited=visited, remark="无异常", hotline_calls=1))
        (ws.workspace.inbox / f"{month}-b.xlsx").write_bytes(
            report(ws, 1, month, [("实物", 50.0)], households_visited=10, hotline_calls=0, remark="=1+1"))
        summary = ws and api.collect(ws)
        assert summary.count("已接收") == 2, [(i.name, i.status, i.errors) for i in summary.items]
    result = api.consolidate(ws, Month(2026, 8))
    first = next(v for v in result.table["villages"] if v["code"] == ws.registry.villages[0].code)
    assert first["inputs"]["households_visited"] == pytest.approx(4)  # (2 + 6) / 2: an average, not a sum of 8
    assert first["items"]["S1"]["base"] == pytest.approx(50 * 800 / 1200)  # 现金 400 a month of 600
    d = result.scored.data
    from pipeline.score.township import field_total

    assert field_total(d, "cash_paid", d.months) == 800
    assert field_total(d, "households_visited", d.months) == pytest.approx(4 + 10)
    assert "remark" not in d.monthly[Month(2026, 8)]  # text is captured and shown, never computed with
    import openpyxl

    raw = openpyxl.load_workbook(result.path)["原始数据"]
    cells = [c for r in raw.iter_rows() for c in r if c.value in ("无异常", "=1+1")]
    assert {c.value for c in cells} == {"无异常", "=1+1"} and all(c.data_type == "s" for c in cells)  # inert text


def test_a_field_added_mid_year_is_not_asked_of_earlier_months(ws, tmp_path):
    june = Month(2026, 6)
    # an old template (before the field existed) for June: accepted, and the summary shows — for it
    raw = json.loads(json.dumps(RELIEF))
    del raw["report"]["sections"][0]["fields"][3]
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    (ws.workspace.root / "programme.yaml").write_bytes(old.read_bytes())
    before = api.load_context(ws.workspace.root)
    data = report(before, 0, june, [("现金", 100.0)])
    (ws.workspace.root / "programme.yaml").write_text(yaml.safe_dump(RELIEF, allow_unicode=True), encoding="utf-8")
    now = api.load_context(ws.workspace.root)
    check = check_bytes(data, "june.xlsx", now.programme, now.registry, now.secret)
    assert check.status == "已接收", [p.message for p in check.problems]
    july = report(now, 0, Month(2026, 7), [("现金", 100.0)])  # the new template, the field left empty in July: asked
    july_check = check_bytes(july, "july.xlsx", now.programme, now.registry, now.secret)
    assert any(p.field == "hotline_calls" and p.code == "V001" for p in july_check.problems)
    (now.workspace.inbox / "june.xlsx").write_bytes(data)
    api.collect(now)
    result = api.consolidate(now, june)
    assert np.isnan(result.scored.data.monthly[june]["hotline_calls"]).all()
    assert result.path.is_file()


def test_a_quarterly_programme(tmp_path):
    """Villages report once a quarter: the period is the quarter (named by its last month), shown as 2026年第二季度."""
    import openpyxl

    from .test_programme_check import RIVER

    raw = json.loads(json.dumps(RIVER))
    raw["period_kind"] = "quarter"
    raw["report"]["title"] = "村级河长巡河季报表"
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    api.init_workspace(tmp_path / "ws", programme=str(path), example=True)
    ctx = api.load_context(tmp_path / "ws")
    assert ctx.programme.report_months == (3, 6, 9, 12)
    assert Month.parse("2026年第二季度") == Month(2026, 6) == Month.parse("2026-Q2")
    for quarter in (Month(2026, 3), Month(2026, 6), Month(2026, 9)):
        paths = api.make_templates(ctx, quarter)
        assert ctx.programme.label(quarter) in paths[0].name  # 巡河月报-01_青龙村_2026年第一季度.xlsx
        for i in range(4):
            values = {"patrols_due": 12, "patrols_done": 12 - i}
            (ctx.workspace.inbox / f"{quarter}-{i}.xlsx").write_bytes(fill_template(paths[i].read_bytes(), values, []))
        summary = api.collect(ctx)
        assert summary.count("已接收") == 4, [(x.name, x.status) for x in summary.items]
    first = openpyxl.load_workbook(paths[0])["月报"]
    assert any(c.value == "2026年第三季度" for r in first.iter_rows() for c in r)
    result = api.consolidate(ctx, Month(2026, 9))
    assert [str(m) for m in result.scored.data.months] == ["2026-03", "2026-06", "2026-09"]
    village = result.table["villages"][0]
    assert village["inputs"]["patrols_done"] == 36  # three quarters of 12
    notice = openpyxl.load_workbook(result.path)["通报"]
    text = " ".join(str(c.value) for r in notice.iter_rows(max_row=4) for c in r if c.value)
    assert "2026年第三季度" in text and "第一季度至第三季度" in text
