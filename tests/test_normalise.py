"""Every normalisation a township clerk's typing needs: value AND note code, unit by unit, then end to end.

A normalisation is a 警告 (V010 / V017 / V021) and the value is kept; an ambiguity or a bad value is a
错误 and no value is kept. End-to-end tests build real workbooks from the shipped template and assert
the problem's code, sheet, cell and field.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime, timedelta
from typing import Any

import openpyxl
import pytest
import xlsxwriter

from pipeline.check import check_bytes
from pipeline.problems import CATALOGUE, Problem, Severity
from pipeline.programme.config import FieldSpec, load_programme
from pipeline.workbook.layout import a1
from pipeline.workbook.normalise import Outcome, normalise
from pipeline.workbook.reader import read_report
from pipeline.workbook.safety import DEFAULT_LIMITS
from pipeline.workbook.xlsx_parts import read_ooxml_info

from .conftest import filled

_P = load_programme("qianfen")
_REG = {c.id: c for c in _P.register.columns}

INT = _P.field("births_total")  # integer, unit 人
MONEY = _P.field("relief_amount_due")  # number, 2 decimals, unit 元
TEXT = _P.field("unit_head")
PHONE = _P.field("phone")
DATE = _P.field("report_date")
SEX = _REG["sex"]  # enum 男/女
ID = _REG["mother_id"]
BIRTH_DATE = _REG["birth_date"]
# The shipped programme has no percent field; a rate like 联系号码准确率 is the typical one.
PERCENT = FieldSpec(id="phone_ok_rate", label="联系号码准确率", type="percent", min=0, max=100)

ALL_SPECS = [INT, MONEY, PERCENT, TEXT, PHONE, DATE, SEX, ID, BIRTH_DATE]

VALID_ID = "340121199001011235"
VALID_ID_X = "11010519491231002X"


def test_specs_are_what_these_tests_assume():
    assert (INT.type, INT.unit) == ("integer", "人")
    assert (MONEY.type, MONEY.decimals, MONEY.unit) == ("number", 2, "元")
    assert TEXT.type == "text" and PHONE.type == "phone" and DATE.type == "date"
    assert SEX.type == "enum" and set(SEX.values) == {"男", "女"}
    assert ID.type == "id_number" and BIRTH_DATE.type == "date"


def codes(out: Outcome) -> list[str]:
    return [c for c, _, _ in out.notes]


def note(out: Outcome, code: str) -> tuple[str, Any, str]:
    found = [n for n in out.notes if n[0] == code]
    assert found, f"no {code} in {out.notes}"
    return found[0]


def is_warning(code: str) -> bool:
    return CATALOGUE[code].severity is Severity.WARNING


def assert_accepted(out: Outcome, value: Any, expected_codes: list[str]) -> None:
    assert out.value == value and type(out.value) is type(value), (out.value, out.notes)
    assert codes(out) == expected_codes, out.notes
    assert all(is_warning(c) for c in codes(out))
    assert out.ok and not out.empty


def assert_rejected(out: Outcome, code: str) -> tuple[str, Any, str]:
    assert out.value is None, (out.value, out.notes)
    assert code in codes(out), out.notes
    assert not is_warning(code)
    assert not out.ok and not out.empty
    return note(out, code)


# ---- integers (人数、次数) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, value, expected",
    [
        (12, 12, []),
        (12.0, 12, []),  # calamine returns every number as float
        (0.0, 0, []),
        ("12", 12, ["V017"]),  # number stored as text
        (" 12 ", 12, ["V017"]),
        ("0", 0, ["V017"]),
        ("1.0", 1, ["V017"]),
        ("１２", 12, ["V010"]),  # full-width digits
        ("１２０", 120, ["V010"]),
        ("12\u200b", 12, ["V010"]),  # zero-width space
        ("\ufeff12", 12, ["V010"]),  # BOM
        ("1,234", 1234, ["V010"]),
        ("1，234", 1234, ["V010"]),  # full-width comma
        ("12,345,678", 12345678, ["V010"]),
        ("1 234", 1234, ["V010"]),
        ("1\u00a0234", 1234, ["V010"]),  # NBSP as thousands separator
        ("12人", 12, ["V010"]),  # the field's unit
        ("12 人", 12, ["V010"]),
        ("１２人", 12, ["V010"]),
    ],
)
def test_integer_normalisations_are_warnings(raw, value, expected):
    out = normalise(raw, INT)
    assert_accepted(out, value, expected)


@pytest.mark.parametrize(
    "raw, detail",
    [
        ("1,234", "1234"),
        ("1 234", "1234"),
        ("12人", "12"),
        ("１２", "12"),
    ],
)
def test_integer_normalisation_says_what_was_read(raw, detail):
    _, shown, text = note(normalise(raw, INT), "V010")
    assert shown == raw
    assert detail in text


@pytest.mark.parametrize("raw", ["1，234", "１，２３４", "１２人", "1\u00a0234"])
def test_shown_value_is_what_the_clerk_typed(raw):
    """The V010 message quotes the value back to the clerk: it must be the text in the cell,
    not the text after full-width folding (“1，234” typed must not be shown as “1,234”)."""
    _, shown, _ = note(normalise(raw, INT), "V010")
    assert shown == raw


@pytest.mark.parametrize("raw", [3.5, "3.5", 0.5, "１.５"])
def test_fractional_people_is_v006(raw):
    assert_rejected(normalise(raw, INT), "V006")


def test_float_people_is_v006_only():
    out = normalise(3.5, INT)
    assert codes(out) == ["V006"]
    assert out.notes[0][1] == "3.5"


@pytest.mark.parametrize(
    "raw, arabic",
    [("十二", 12), ("二十", 20), ("一百零五", 105), ("十", 10), ("两", 2), ("三千零一", 3001)],
)
def test_chinese_numerals_are_v007_with_the_arabic_suggestion(raw, arabic):
    _, shown, detail = assert_rejected(normalise(raw, INT), "V007")
    assert shown == raw
    assert str(arabic) in detail and "阿拉伯数字" in detail
    assert codes(normalise(raw, INT)) == ["V007"]


@pytest.mark.parametrize(
    "raw", ["约20", "大约20", "20左右", "20多", "10-12", "10~12", "10～12", "10到12", "10至12"]
)
def test_approximations_and_ranges_are_v007(raw):
    _, _, detail = assert_rejected(normalise(raw, INT), "V007")
    assert "约数或范围" in detail


@pytest.mark.parametrize("raw", ["无", "没有", "/", "-", "—", "－", "--", "——"])
def test_nothing_words_are_v007_asking_for_zero(raw):
    _, _, detail = assert_rejected(normalise(raw, INT), "V007")
    assert detail == "没有请填 0"


@pytest.mark.parametrize("raw", ["75%", "75％"])
def test_percent_in_an_integer_field_is_v007(raw):
    _, _, detail = assert_rejected(normalise(raw, INT), "V007")
    assert "百分比" in detail


@pytest.mark.parametrize("raw", ["abc", "12户", "1,23", "12.3.4", "e5"])
def test_garbage_in_an_integer_field_is_v002(raw):
    out = normalise(raw, INT)
    assert_rejected(out, "V002")
    assert codes(out) == ["V002"]


def test_negative_number_is_read_and_left_to_the_minimum_check():
    # the schema's minimum (V004) reports it; the normaliser must not hide the sign
    assert normalise(-5.0, INT).value == -5
    assert normalise("-5", INT).value == -5


@pytest.mark.parametrize("raw", [date(2026, 10, 5), datetime(1900, 1, 12), timedelta(days=3)])
def test_a_date_in_a_number_cell_is_rejected(raw):
    # typing 12 into a date-formatted cell makes it 1900-01-12: never read that back as a number
    assert_rejected(normalise(raw, INT), "V002")
    assert_rejected(normalise(raw, MONEY), "V003")


@pytest.mark.parametrize("raw", [float("nan"), float("inf")])
def test_nan_and_inf_are_rejected(raw):
    assert_rejected(normalise(raw, MONEY), "V003")


# ---- money and percentages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, value, expected",
    [
        (1234.5, 1234.5, []),
        (0.1 + 0.2, 0.3, []),  # float noise rounded to the field's decimals
        (1500, 1500.0, []),
        ("1234.56", 1234.56, ["V017"]),
        ("1,234.50", 1234.5, ["V010"]),
        ("1234.56元", 1234.56, ["V010"]),
        ("１２３４.５６", 1234.56, ["V010"]),
    ],
)
def test_money(raw, value, expected):
    assert_accepted(normalise(raw, MONEY), value, expected)


@pytest.mark.parametrize(
    "raw, value, expected",
    [
        ("75%", 75.0, ["V010"]),
        ("75％", 75.0, ["V010"]),
        (" 75 % ", 75.0, ["V010"]),
        (0.75, 75.0, ["V010"]),  # a cell formatted as 75% holds 0.75
        (75, 75.0, []),
        (75.0, 75.0, []),
        ("75", 75.0, ["V017"]),
    ],
)
def test_percent_fields(raw, value, expected):
    assert_accepted(normalise(raw, PERCENT), value, expected)


def test_percent_note_explains_the_reading():
    _, shown, detail = note(normalise(0.75, PERCENT), "V010")
    assert "75" in detail and "%" in detail


# ---- dates ----------------------------------------------------------------------------------------

OCT5 = date(2026, 10, 5)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (OCT5, []),
        (datetime(2026, 10, 5, 0, 0), []),  # calamine's type for date cells
        (datetime(2026, 10, 5, 13, 45), []),
        ("2026-10-05", []),
        (" 2026-10-05 ", []),
        ("2026.10.5", ["V010"]),
        ("2026年10月5日", ["V010"]),
        ("2026年10月5", ["V010"]),
        ("2026 年 10 月 5 日", ["V010"]),
        ("2026/10/05", ["V010"]),
        ("2026/10/5", ["V010"]),
        ("2026-10-5", ["V010"]),
        ("20261005", ["V010"]),
        ("２０２６年１０月５日", ["V010"]),
        (20261005.0, ["V010"]),  # 20261005 typed into a number cell
        (46300, ["V010"]),  # Excel serial number: the cell lost its date format
        (46300.0, ["V010"]),
    ],
)
def test_dates(raw, expected):
    for spec in (DATE, BIRTH_DATE):
        assert_accepted(normalise(raw, spec), OCT5, expected)


def test_excel_serial_note_says_the_cell_is_a_number():
    _, shown, detail = note(normalise(46300.0, DATE), "V010")
    assert shown == "46300"
    assert "2026-10-05" in detail and "数字" in detail


@pytest.mark.parametrize(
    "raw",
    [
        "2026-13-01",
        "2026-02-30",
        "2026-10-32",
        "昨天",
        "上个月",
        "2026年10月",
        "10/5/2026",
        "26.10.5",
        46300.5,
        12.0,
        -1.0,
    ],
)
def test_invalid_dates_are_v011(raw):
    out = normalise(raw, DATE)
    assert_rejected(out, "V011")
    assert codes(out) == ["V011"]


# ---- phone numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, value, expected",
    [
        (13800138057.0, "13800138057", ["V021"]),  # stored as a number
        (13800138057, "13800138057", ["V021"]),
        ("13800138057", "13800138057", []),
        ("0551-12345678", "0551-12345678", []),
        (" 13800138057 ", "13800138057", []),
    ],
)
def test_phone(raw, value, expected):
    assert_accepted(normalise(raw, PHONE), value, expected)


def test_phone_stored_as_number_shows_the_digits():
    _, shown, _ = note(normalise(13800138057.0, PHONE), "V021")
    assert shown == "13800138057"


@pytest.mark.parametrize(
    "raw", ["abc", "12345", "138-0013-805a", "电话13800138057", "13800138057/13900139000", "无"]
)
def test_bad_phone_is_v019(raw):
    _, _, detail = assert_rejected(normalise(raw, PHONE), "V019")
    assert "数字" in detail


# ---- ID numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, value",
    [
        (VALID_ID, VALID_ID),
        (VALID_ID_X.lower(), VALID_ID_X),  # lowercase x
        (f" {VALID_ID} ", VALID_ID),
        ("'" + VALID_ID, VALID_ID),  # the apostrophe Excel uses to force text
    ],
)
def test_id_numbers(raw, value):
    out = normalise(raw, ID)
    assert out.value == value and out.ok
    assert all(is_warning(c) for c in codes(out)), out.notes


@pytest.mark.parametrize("raw", ["340121 19900101 1235", "340121 1990 0101 1235", "3401 2119 9001 0112 35"])
def test_id_numbers_with_spaces_inside(raw):
    out = normalise(raw, ID)
    assert out.value == VALID_ID and out.ok


@pytest.mark.parametrize("raw", [3.40121199001011e17, 340121199001011000.0])
def test_id_stored_as_number_is_v014_with_the_15_digit_explanation(raw):
    _, shown, detail = assert_rejected(normalise(raw, ID), "V014")
    assert "数字" in detail and "第 16 位" in detail and "文本" in detail
    assert shown.isdigit() and len(shown) == 18


def test_id_stored_as_number_is_shown_as_excel_shows_it():
    """Excel keeps 15 significant digits: 340121199001011235 typed becomes 340121199001011000, and the
    detail says so (“第 16 位以后改成 0”). The shown value must be those digits, not the binary float's
    expansion 340121199001011008 that the clerk has never seen."""
    _, shown, _ = note(normalise(3.40121199001011e17, ID), "V014")
    assert shown == "340121199001011000"


@pytest.mark.parametrize(
    "raw, detail",
    [
        ("3401211990010112", "共 16 位"),
        ("3401211990010112355", "共 19 位"),
        ("34012119900101123A", "最后一位"),
        ("34012119900101X235", "前 17 位"),
        ("张三", "共 2 位"),
    ],
)
def test_bad_id_is_v014(raw, detail):
    _, _, text = assert_rejected(normalise(raw, ID), "V014")
    assert detail in text


# ---- invisible characters and stray spaces --------------------------------------------------------

INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200c",
    "\u200d",
    "\u2060",  # word joiner
    "\ufeff",  # BOM
    "\u00ad",  # soft hyphen
    "\u202a",  # bidi marks U+202A–U+202E
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u200e",
    "\u200f",
    "\u2066",
    "\u2069",
]


@pytest.mark.parametrize("ch", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_characters_around_text_are_removed_with_v010(ch):
    out = normalise(f"{ch}张三{ch}", TEXT)
    assert_accepted(out, "张三", ["V010"])
    out = normalise(f"张{ch}三", TEXT)
    assert_accepted(out, "张三", ["V010"])


@pytest.mark.parametrize("ch", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_characters_in_numbers_are_removed_with_v010(ch):
    assert_accepted(normalise(f"{ch}12{ch}", INT), 12, ["V010"])


@pytest.mark.parametrize(
    "space", ["\u3000", "\u00a0", " ", "\t"], ids=["ideographic", "nbsp", "space", "tab"]
)
def test_outer_spaces_around_text_are_trimmed(space):
    # trimming the outside of a cell changes nothing the clerk meant: no note
    assert_accepted(normalise(f"{space}张三{space}", TEXT), "张三", [])


def test_ideographic_space_inside_text_is_folded_with_v010():
    assert_accepted(normalise("张\u3000三", TEXT), "张 三", ["V010"])


@pytest.mark.parametrize(
    "raw, spec, value",
    [
        ("13800138057\u200b", PHONE, "13800138057"),
        ("\u202a13800138057\u202c", PHONE, "13800138057"),
        ("１３８００１３８０５７", PHONE, "13800138057"),
        ("\u200b" + VALID_ID, ID, VALID_ID),
        ("３４０１２１１９９００１０１１２３５", ID, VALID_ID),
    ],
)
def test_invisible_and_full_width_characters_in_phone_and_id_are_reported(raw, spec, value):
    """Like in every other field (numbers, text, dates), removing characters the clerk cannot see or
    folding full-width digits is a normalisation, so it is a V010 warning — never silent."""
    assert_accepted(normalise(raw, spec), value, ["V010"])


def test_text_is_kept_as_typed():
    assert_accepted(normalise("张 三", TEXT), "张 三", [])
    assert_accepted(normalise("=1+1", TEXT), "=1+1", [])  # text, never evaluated
    assert_accepted(normalise(12.0, TEXT), "12", [])
    assert_accepted(normalise("ＡＢＣ", TEXT), "ABC", ["V010"])


# ---- enums and booleans ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, value, expected",
    [
        ("男", "男", []),
        (" 男 ", "男", []),
        ("男 ", "男", []),
        ("\u3000女", "女", []),
        ("女\u00a0", "女", []),
        ("男\u200b", "男", ["V010"]),
    ],
)
def test_enum_with_stray_spaces(raw, value, expected):
    assert_accepted(normalise(raw, SEX), value, expected)


def test_enum_value_outside_the_list_is_kept_for_the_schema_check():
    out = normalise("男性", SEX)
    assert out.value == "男性" and out.notes == []  # V013, with the allowed values, comes from the schema


@pytest.mark.parametrize(
    "spec, code",
    [(INT, "V002"), (MONEY, "V003"), (PERCENT, "V003"), (DATE, "V011"), (PHONE, "V019"), (ID, "V014")],
    ids=lambda x: x.type if isinstance(x, FieldSpec) else x,
)
@pytest.mark.parametrize("raw", [True, False])
def test_booleans_are_rejected(spec, code, raw):
    assert_rejected(normalise(raw, spec), code)


# ---- empty ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [None, "", " ", "   ", "\u3000", "\u00a0", "\u200b", "\ufeff\u200b "], ids=repr
)
@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.type + ":" + s.id)
def test_empty_is_empty(spec, raw):
    out = normalise(raw, spec)
    assert out.empty is True
    assert out.value is None
    assert out.notes == []
    assert not out.ok


def test_zero_is_not_empty():
    out = normalise(0.0, INT)
    assert out.value == 0 and out.ok and not out.empty


# ---- end to end: real workbooks ---------------------------------------------------------------------


def _check(ctx, data: bytes):
    return check_bytes(data, "report.xlsx", ctx.programme, ctx.registry, ctx.secret)


def _target(data: bytes, name: str) -> tuple[str, str, str]:
    """(sheet, cell, zip part) of a defined name in a workbook."""
    info = read_ooxml_info(data)
    t = info.names[name]
    return t.sheet, a1(*t.first), info.sheet_parts[t.sheet]


def _patch_cell(data: bytes, part: str, cell: str, new_xml: str) -> bytes:
    """Replace one <c> element of a sheet part (what Excel would have saved)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == part:
                pattern = rb'<c r="' + cell.encode() + rb'"[^>]*?(?:/>|>.*?</c>)'
                body, n = re.subn(pattern, new_xml.encode(), body, count=1, flags=re.S)
                assert n == 1, f"{cell} not found in {part}"
            dst.writestr(info, body)
    return out.getvalue()


def _births(ctx) -> int:
    """The example report's births_total (= its register rows), so a changed format can still pass."""
    res = read_report(filled(ctx, 0), "base.xlsx", ctx.programme)
    return res.values["births_total"]


def _at(check, code: str, field: str) -> Problem:
    found = [p for p in check.problems if p.code == code and p.field == field]
    assert found, [(p.code, p.field, p.cell) for p in check.problems]
    return found[0]


def test_the_example_report_is_clean(ctx):
    check = _check(ctx, filled(ctx, 0))
    assert check.problems == []
    assert _target(filled(ctx, 0), "births_total")[:2] == ("月报", "D8")


@pytest.mark.parametrize(
    "typed, code",
    [
        ("１２", "V010"),
        ("12", "V017"),
        ("1,2", "V002"),
        ("12人", "V010"),
        ("十二", "V007"),
        ("约20", "V007"),
        ("10-12", "V007"),
        ("无", "V007"),
        ("3.5", "V006"),
        ("75%", "V007"),
    ],
)
def test_typed_text_is_reported_at_its_cell(ctx, typed, code):
    check = _check(ctx, filled(ctx, 0, births_total=typed))
    p = _at(check, code, "births_total")
    assert (p.sheet, p.cell, p.label) == ("月报", "D8", "本月出生数")
    assert p.file == "report.xlsx"
    if p.is_error:
        assert check.status == "退回"
        assert "births_total" not in check.read.values
        # one error for the cell: the schema must not add V001/V002 on top of it
        assert [q.code for q in check.errors if q.field == "births_total"] == [code]


def test_full_width_digits_are_read_with_a_warning_and_accepted(ctx):
    n = _births(ctx)
    typed = str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    check = _check(ctx, filled(ctx, 0, births_total=typed))
    assert check.read.values["births_total"] == n
    p = _at(check, "V010", "births_total")
    assert (p.sheet, p.cell, p.value) == ("月报", "D8", typed)
    assert check.errors == []
    assert check.status == "已接收"


def test_chinese_numeral_message_suggests_arabic(ctx):
    check = _check(ctx, filled(ctx, 0, births_total="十二"))
    p = _at(check, "V007", "births_total")
    assert (p.sheet, p.cell) == ("月报", "D8")
    assert "十二" in p.message and "12" in p.message and "本月出生数" in p.message


def test_phone_stored_as_number_end_to_end(ctx):
    data = filled(ctx, 0, phone=13800138057.0)
    sheet, cell, _ = _target(data, "phone")
    check = _check(ctx, data)
    assert check.read.values["phone"] == "13800138057"
    p = _at(check, "V021", "phone")
    assert (p.sheet, p.cell, p.value) == (sheet, cell, "13800138057")
    assert check.status == "已接收"


def test_report_date_typed_as_text_end_to_end(ctx):
    data = filled(ctx, 0, report_date="2026年11月3日")
    check = _check(ctx, data)
    assert check.read.values["report_date"] == date(2026, 11, 3)
    p = _at(check, "V010", "report_date")
    assert (p.sheet, p.cell) == _target(data, "report_date")[:2]
    bad = _check(ctx, filled(ctx, 0, report_date="昨天"))
    assert _at(bad, "V011", "report_date").cell == p.cell


def test_a_formula_whose_result_is_empty_is_a_blank_cell_not_an_unsaved_one(ctx):
    """=IF(A5="","",…) saved by Excel: a text result, empty. V008 told the clerk to open the file and save it
    again, which changes nothing; the cell is blank, and said to be (未填写)."""
    data = filled(ctx, 0)
    sheet, cell, part = _target(data, "births_total")
    check = _check(ctx, _patch_cell(data, part, cell, f'<c r="{cell}" t="str"><f>IF(1=1,"",1)</f><v></v></c>'))
    assert [q.code for q in check.problems if q.field == "births_total"] == ["V001"]


def test_formula_without_cached_value_is_v008(ctx):
    data = filled(ctx, 0)
    sheet, cell, _ = _target(data, "births_total")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    wb[sheet][cell] = "=2+3"  # openpyxl computes nothing: no cached value is stored
    buf = io.BytesIO()
    wb.save(buf)
    check = _check(ctx, buf.getvalue())
    p = _at(check, "V008", "births_total")
    assert (p.sheet, p.cell) == ("月报", "D8")
    assert "保存" in p.message
    assert "births_total" not in check.read.values
    assert [q.code for q in check.errors if q.field == "births_total"] == ["V008"]
    assert check.status == "退回"


def test_formula_with_cached_value_uses_it_with_v009(ctx):
    data = filled(ctx, 0)
    sheet, cell, part = _target(data, "births_total")
    patched = _patch_cell(data, part, cell, f'<c r="{cell}"><f>2+3</f><v>5</v></c>')
    check = _check(ctx, patched)
    assert check.read.values["births_total"] == 5
    p = _at(check, "V009", "births_total")
    assert (p.sheet, p.cell) == (sheet, cell)
    assert not p.is_error and "5" in p.message


def test_formula_with_cached_value_matching_the_register_is_accepted(ctx):
    n = _births(ctx)
    data = filled(ctx, 0)
    _, cell, part = _target(data, "births_total")
    patched = _patch_cell(data, part, cell, f'<c r="{cell}"><f>1*{n}</f><v>{n}</v></c>')
    check = _check(ctx, patched)
    assert check.read.values["births_total"] == n
    assert [p.code for p in check.problems] == ["V009"]
    assert check.status == "已接收"


def _xlsxwriter_report(title_row: bool) -> bytes:
    """A workbook written by another program: the 月报 sheet, the births_total name, a formula with its value."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("月报")
    if title_row:
        ws.write_string(0, 0, "村级人口与健康服务月报表")
    ws.write_string(5, 3, "本月数")
    ws.write_string(7, 1, "本月出生数")
    ws.write_formula(7, 3, "=2+3", None, 5)
    wb.define_name("births_total", "='月报'!$D$8")
    wb.close()
    return buf.getvalue()


@pytest.mark.parametrize("title_row", [True, False], ids=["title-in-A1", "blank-rows-on-top"])
def test_xlsxwriter_formula_with_cached_value(programme, title_row):
    res = read_report(_xlsxwriter_report(title_row), "x.xlsx", programme)
    assert res.values.get("births_total") == 5, [
        (p.code, p.cell) for p in res.problems if p.field == "births_total"
    ]
    p = next(p for p in res.problems if p.field == "births_total")
    assert (p.code, p.sheet, p.cell) == ("V009", "月报", "D8")


def test_values_are_read_when_the_rows_above_the_form_are_blank(ctx):
    """A clerk clears the title block (rows 1–5). The used range then starts at row 6, which must not
    cut off the rows at the bottom of the sheet (the footer: 报出日期 in D44)."""
    data = filled(ctx, 0)
    expected = read_report(data, "a.xlsx", ctx.programme).values
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["月报"]
    for row in ws.iter_rows(min_row=1, max_row=5):
        for c in row:
            if not isinstance(c, openpyxl.cell.cell.MergedCell):
                c.value = None
    buf = io.BytesIO()
    wb.save(buf)
    res = read_report(buf.getvalue(), "a.xlsx", ctx.programme)
    assert res.values == expected


@pytest.mark.parametrize("error", ["#DIV/0!", "#N/A", "#VALUE!", "#REF!"])
def test_error_cell_is_v018(ctx, error):
    data = filled(ctx, 0)
    sheet, cell, part = _target(data, "births_total")
    patched = _patch_cell(data, part, cell, f'<c r="{cell}" t="e"><f>1/0</f><v>{error}</v></c>')
    check = _check(ctx, patched)
    p = _at(check, "V018", "births_total")
    assert (p.sheet, p.cell, p.value) == (sheet, cell, error)
    assert error in p.message
    assert "births_total" not in check.read.values
    assert [q.code for q in check.errors if q.field == "births_total"] == ["V018"]
    assert check.status == "退回"


def test_error_value_without_formula_is_v018(ctx):
    data = filled(ctx, 0)
    _, cell, part = _target(data, "births_total")
    check = _check(ctx, _patch_cell(data, part, cell, f'<c r="{cell}" t="e"><v>#N/A</v></c>'))
    assert _at(check, "V018", "births_total").value == "#N/A"


def test_merged_cell_over_an_input_reads_the_top_left_value_with_s006(ctx):
    n = _births(ctx)
    data = filled(ctx, 0)
    sheet, cell, _ = _target(data, "births_total")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[sheet]
    ws.merge_cells("C8:D8")  # the clerk merged 计量单位 and 本月数, then typed into the merged cell
    ws["C8"] = n
    buf = io.BytesIO()
    wb.save(buf)
    check = _check(ctx, buf.getvalue())
    assert check.read.values["births_total"] == n
    p = _at(check, "S006", "births_total")
    assert (p.sheet, p.cell) == (sheet, cell) == ("月报", "D8")
    assert not p.is_error
    assert check.status == "已接收"


def _as_strict(data: bytes) -> bytes:
    """The workbook as Excel's "Strict Open XML Spreadsheet" writes it: the same parts, other namespaces and
    relationship types, and ``conformance="strict"`` on the workbook."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename.endswith((".xml", ".rels")) and not info.filename.startswith("[") and "core" not in info.filename:
                body = (body.replace(b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                                     b"http://purl.oclc.org/ooxml/spreadsheetml/main")
                        .replace(b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties",
                                 b"http://purl.oclc.org/ooxml/officeDocument/relationships/extendedProperties")
                        .replace(b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                                 b"http://purl.oclc.org/ooxml/officeDocument/relationships")
                        .replace(b"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
                                 b"http://purl.oclc.org/ooxml/officeDocument/extendedProperties")
                        .replace(b"http://schemas.openxmlformats.org/drawingml/2006/main", b"http://purl.oclc.org/ooxml/drawingml/main"))
                if info.filename == "xl/workbook.xml":
                    body = body.replace(b"<workbook ", b'<workbook conformance="strict" ', 1)
            zout.writestr(info, body)
    return out.getvalue()


def test_a_strict_open_xml_workbook_gets_the_same_checks(ctx):
    """A file saved as Strict Open XML was read, but every check of the sheet parts knew only the transitional
    names: #DIV/0! came out as 未填写, and a stray far-away cell reached the reader's grid."""
    data = filled(ctx, 0)
    sheet, cell, part = _target(data, "births_total")
    strict = _as_strict(_patch_cell(data, part, cell, f'<c r="{cell}" t="e"><f>1/0</f><v>#DIV/0!</v></c>'))
    assert b"purl.oclc.org" in zipfile.ZipFile(io.BytesIO(strict)).read("xl/workbook.xml")
    check = _check(ctx, strict)
    p = _at(check, "V018", "births_total")
    assert (p.sheet, p.cell, p.value) == (sheet, cell, "#DIV/0!")
    # (a far-away cell in a strict file: tests/test_hostile_files.py, in a child process with a memory cap)


def test_a_strict_open_xml_file_sent_back_keeps_its_sheets_in_the_marked_copy(ctx):
    """The copy sent back with a Strict file had only the list of problems (openpyxl reads transitional names
    only): the village could not see its own cells marked. Now it is the village's workbook, marked."""
    from pipeline.intake.checker import check_and_annotate

    data = filled(ctx, 0)
    sheet, cell, part = _target(data, "births_total")
    strict = _as_strict(_patch_cell(data, part, cell, f'<c r="{cell}" t="inlineStr"><is><t>十二</t></is></c>'))
    check, copy = check_and_annotate(strict, "strict.xlsx", ctx.programme, ctx.registry, None, DEFAULT_LIMITS)
    assert check.status == "退回" and copy is not None
    assert not [p for p in check.problems if p.code == "F015"]
    wb = openpyxl.load_workbook(io.BytesIO(copy))
    assert sheet in wb.sheetnames and ctx.programme.register.sheet in wb.sheetnames
    assert wb[sheet][cell].comment is not None and "V00" in wb[sheet][cell].comment.text
    assert b"purl.oclc.org" not in zipfile.ZipFile(io.BytesIO(copy)).read("xl/workbook.xml")  # opens as any .xlsx does
