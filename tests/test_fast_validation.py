"""The compiled fast path for valid records reports exactly what jsonschema's iter_errors reports."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.programme.config import load_programme
from pipeline.programme.periods import Month
from pipeline.validate.record import validate_report
from pipeline.workbook.reader import ReadResult, RegisterRow

P = load_programme("qianfen")
PERIOD = Month(2026, 10)
GOOD_ROW = {"baby_name": "张一", "sex": "男", "birth_date": date(2026, 10, 5), "birth_order": 1, "mother_name": "李梅",
            "mother_id": "11010519491231002X", "report_status": "按时上报"}
JUNK = st.one_of(st.none(), st.integers(-5, 5), st.floats(-2, 2, allow_nan=False), st.text(max_size=4),
                 st.sampled_from(["男", "女", "迟报", "2026-10-05", "11010519491231002X", "x" * 30]))


def base_result() -> ReadResult:
    res = ReadResult(file="t.xlsx", sheet="月报", register_sheet="出生登记")
    for i, f in enumerate(P.fields):
        res.values[f.id] = 1.0 if f.type == "number" else 1
        res.cells[f.id] = f"D{8 + i}"
    res.values |= {"births_total": 1, "births_reported": 1, "births_reported_late": 0, "unit_head": "王", "filled_by": "李", "phone": "13800138000"}
    res.register = [RegisterRow(4, dict(GOOD_ROW), {k: f"{chr(66 + j)}4" for j, k in enumerate(GOOD_ROW)})]
    return res


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field_edits=st.dictionaries(st.sampled_from([f.id for f in P.all_inputs]), JUNK, max_size=4),
    drop=st.lists(st.sampled_from([f.id for f in P.all_inputs]), max_size=3),
    row_edits=st.dictionaries(st.sampled_from(list(GOOD_ROW)), JUNK, max_size=3),
    extra_rows=st.integers(0, 2),
)
def test_fast_and_full_validation_report_the_same_problems(field_edits, drop, row_edits, extra_rows):
    res = base_result()
    for k, v in field_edits.items():
        if v is None:
            res.values.pop(k, None)
        else:
            res.values[k] = v
    for k in drop:
        res.values.pop(k, None)
    row = res.register[0]
    for k, v in row_edits.items():
        if v is None:
            row.values.pop(k, None)
        else:
            row.values[k] = v
    for i in range(extra_rows):
        res.register.append(RegisterRow(5 + i, dict(GOOD_ROW), dict(row.cells)))
    fast = [p.to_dict() for p in validate_report(res, P, PERIOD, fast=True)]
    full = [p.to_dict() for p in validate_report(res, P, PERIOD, fast=False)]
    assert fast == full


def test_a_valid_record_has_no_problems_either_way():
    res = base_result()
    assert validate_report(res, P, PERIOD, fast=True) == validate_report(res, P, PERIOD, fast=False) == []
