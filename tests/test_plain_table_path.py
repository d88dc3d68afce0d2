"""A register read by the plain-table path (no merged cells, formulas or error values under its header)
gives exactly what the cell-by-cell path gives: values, cells, raw values, problems and invalid keys."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.workbook import reader

from .conftest import filled

MESSY = [
    {"baby_name": "张 小明", "sex": "男", "birth_date": dt.date(2026, 10, 3), "birth_order": 1, "mother_name": "李红",
     "mother_id": "11010519491231002X", "report_status": "已报"},
    {"baby_name": "王　小花", "sex": "女孩", "birth_date": "2026-10-05", "birth_order": "２", "mother_name": "赵敏",
     "mother_id": "110105194912310021", "report_status": "已报"},
    {"baby_name": "", "sex": "男", "birth_date": "10月7日", "birth_order": "二", "mother_name": "钱芳",
     "mother_id": "11010519491231002x", "report_status": "未报"},
    {"baby_name": "刘一", "sex": None, "birth_date": None, "birth_order": "1.5", "mother_name": "孙丽",
     "mother_id": "1101051949", "report_status": "?"},
    {"baby_name": "刘一", "sex": "男", "birth_date": dt.date(2026, 10, 3), "birth_order": 1, "mother_name": "李红",
     "mother_id": "11010519491231002X", "report_status": "已报"},
]


def outcome(res: reader.ReadResult) -> tuple:
    return ([(r.row, r.values, r.cells, r.raw) for r in res.register], [p.__dict__ for p in res.problems], sorted(res.invalid))


@pytest.mark.parametrize("rows", [MESSY, MESSY[:1], []])
def test_plain_path_equals_the_cell_by_cell_path(ctx, monkeypatch, rows):
    data = filled(ctx, 0, register=rows)
    plain = reader.read_report(data, "报表.xlsx", ctx.programme, ctx.workspace.limits)
    taken = []
    real = reader._plain_table
    monkeypatch.setattr(reader, "_plain_table", lambda *a: taken.append(real(*a)) or None)
    slow = reader.read_report(data, "报表.xlsx", ctx.programme, ctx.workspace.limits)
    assert taken and taken[0] is not None  # the template's register is plain, so the first read took the plain path
    assert outcome(plain) == outcome(slow)
    assert len(plain.register) == len([r for r in rows if any(v not in (None, "") for v in r.values())])
