"""Property tests: whatever a clerk legitimately types into a named input comes back exactly.

Values are written with ``fill_template`` into the cells the template's defined names point at, and
read back with ``read_report`` (python-calamine). Examples are few and the fixtures are shared by all
examples of a test, so the module stays fast.
"""

from __future__ import annotations

import string
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.programme.config import load_programme
from pipeline.validate.record import validate_report
from pipeline.workbook.fill import fill_template
from pipeline.workbook.normalise import normalise
from pipeline.workbook.reader import read_report

from .conftest import PERIOD, template_for

_P = load_programme("qianfen")
INTEGER_FIELDS = [f.id for f in _P.all_inputs if f.type == "integer"]
MONEY_FIELDS = [f.id for f in _P.all_inputs if f.type == "number"]
TEXT_FIELDS = [f.id for f in _P.all_inputs if f.type == "text"]
REGISTER_COLUMNS = [c.id for c in _P.register.columns]
INT_SPEC = _P.field("births_total")
DATE_SPEC = _P.field("report_date")

FILE_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FAST_SETTINGS = settings(max_examples=200, deadline=None)

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
ascii_letters = st.sampled_from(string.ascii_letters)
safe_text = st.text(alphabet=st.one_of(cjk, ascii_letters), min_size=1, max_size=20)
# text that a spreadsheet would take for a formula if it were not stored as text
formula_like = st.builds(lambda op, s: op + s, st.sampled_from(["=", "=SUM(", "+", "-", "@"]), safe_text)


def _read(ctx, values: dict, register: list[dict] | None = None):
    data = fill_template(template_for(ctx, 0), values, register, register_columns=REGISTER_COLUMNS)
    return read_report(data, "p.xlsx", ctx.programme)


def _field_problems(res, fid: str) -> list[tuple[str, str]]:
    return [(p.code, p.cell) for p in res.problems if p.field == fid]


def test_the_field_lists_are_not_empty():
    assert len(INTEGER_FIELDS) >= 20 and "births_total" in INTEGER_FIELDS
    assert MONEY_FIELDS == ["relief_amount_due", "relief_amount_paid"]
    assert TEXT_FIELDS == ["unit_head", "filled_by"]


# ---- through a real workbook ----------------------------------------------------------------------


@FILE_SETTINGS
@given(fid=st.sampled_from(INTEGER_FIELDS), n=st.integers(min_value=0, max_value=10**7))
def test_any_integer_in_any_integer_input_comes_back(ctx, fid, n):
    res = _read(ctx, {fid: n})
    assert res.values[fid] == n
    assert type(res.values[fid]) is int
    assert _field_problems(res, fid) == []


@FILE_SETTINGS
@given(fid=st.sampled_from(MONEY_FIELDS), cents=st.integers(min_value=0, max_value=10**9))
def test_any_amount_with_two_decimals_comes_back(ctx, fid, cents):
    amount = cents / 100
    res = _read(ctx, {fid: amount})
    assert res.values[fid] == amount
    assert round(res.values[fid], 2) == res.values[fid]
    assert _field_problems(res, fid) == []


@FILE_SETTINGS
@given(fid=st.sampled_from(TEXT_FIELDS), text=st.one_of(safe_text, formula_like))
def test_any_text_comes_back_as_the_same_text_never_evaluated(ctx, fid, text):
    res = _read(ctx, {fid: text})
    assert res.values[fid] == text
    assert _field_problems(res, fid) == []


@FILE_SETTINGS
@given(days=st.lists(st.dates(min_value=PERIOD.first_day, max_value=PERIOD.last_day), min_size=1, max_size=5))
def test_any_date_in_the_period_comes_back_in_the_register(ctx, days):
    rows = [{"sex": "女", "birth_date": d, "birth_order": 1} for d in days]
    res = _read(ctx, {}, rows)
    assert [r.values["birth_date"] for r in res.register] == days
    assert all(type(r.values["birth_date"]) is date for r in res.register)
    assert [r.cells["birth_date"] for r in res.register] == [f"D{4 + i}" for i in range(len(days))]
    assert not [p for p in res.problems if p.field.endswith("birth_date")]
    assert not [p for p in validate_report(res, ctx.programme, PERIOD) if p.code == "V012"]


@FILE_SETTINGS
@given(d=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_any_report_date_comes_back(ctx, d):
    res = _read(ctx, {"report_date": d})
    assert res.values["report_date"] == d
    assert _field_problems(res, "report_date") == []


# ---- the normaliser alone -------------------------------------------------------------------------


@FAST_SETTINGS
@given(n=st.integers(min_value=0, max_value=10**12))
def test_integer_typed_as_text_is_that_integer(n):
    out = normalise(str(n), INT_SPEC)
    assert out.value == n and out.ok
    assert [c for c, _, _ in out.notes] == ["V017"]


@FAST_SETTINGS
@given(n=st.integers(min_value=0, max_value=10**12))
def test_full_width_digits_give_the_same_integer(n):
    out = normalise(str(n).translate(FULL_WIDTH), INT_SPEC)
    assert out.value == n and out.ok
    assert [c for c, _, _ in out.notes] == ["V010"]


@FAST_SETTINGS
@given(n=st.integers(min_value=0, max_value=10**12), sep=st.sampled_from([",", "，", " "]))
def test_thousands_separators_give_the_same_integer(n, sep):
    out = normalise(f"{n:,}".replace(",", sep), INT_SPEC)
    assert out.value == n and out.ok


@FAST_SETTINGS
@given(n=st.integers(min_value=0, max_value=10**12))
def test_integer_as_float_cell_is_that_integer_without_a_note(n):
    out = normalise(float(n), INT_SPEC)
    assert out.value == n and out.notes == []


@FAST_SETTINGS
@given(
    d=st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)),
    fmt=st.sampled_from(
        ["{y}-{m:02d}-{d:02d}", "{y}.{m}.{d}", "{y}/{m:02d}/{d:02d}", "{y}年{m}月{d}日", "{y}{m:02d}{d:02d}"]
    ),
    full_width=st.booleans(),
)
def test_any_date_typed_as_text_is_that_date(d, fmt, full_width):
    text = fmt.format(y=d.year, m=d.month, d=d.day)
    if full_width:
        text = text.translate(FULL_WIDTH)
    out = normalise(text, DATE_SPEC)
    assert out.value == d and out.ok


@FAST_SETTINGS
@given(d=st.dates(min_value=date(1955, 1, 1), max_value=date(2099, 12, 31)))
def test_any_excel_serial_is_that_date(d):
    serial = (d - date(1899, 12, 30)).days
    out = normalise(float(serial), DATE_SPEC)
    assert out.value == d and out.ok
    assert [c for c, _, _ in out.notes] == ["V010"]
