"""Clerks change workbooks: inserted rows, renamed sheets, lost names, extra register rows, deleted rows.

openpyxl stands in for the clerk's spreadsheet program here; where Excel would move defined names
and merged ranges with the rows, the test moves them the same way (openpyxl itself does not).
"""

from __future__ import annotations

import io
from datetime import date

import openpyxl
from openpyxl.workbook.defined_name import DefinedName

from pipeline.check import check_bytes
from pipeline.workbook.reader import read_report
from pipeline.workbook.xlsx_parts import parse_name_ref

from .conftest import filled


def _save(wb) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _insert_rows_like_excel(wb, sheet: str, at: int, n: int) -> None:
    ws = wb[sheet]
    ws.insert_rows(at, n)
    for rng in list(ws.merged_cells.ranges):
        if rng.min_row >= at:
            rng.shift(row_shift=n)
    for name, dn in list(wb.defined_names.items()):
        t = parse_name_ref(dn.attr_text)
        if t and t.sheet == sheet and t.first[0] + 1 >= at:
            r0, c0 = t.first
            r1, c1 = t.last
            col = lambda c: openpyxl.utils.get_column_letter(c + 1)  # noqa: E731
            ref = f"'{sheet}'!${col(c0)}${r0 + 1 + n}" + (f":${col(c1)}${r1 + 1 + n}" if t.last != t.first else "")
            wb.defined_names[name] = DefinedName(name, attr_text=ref)


def _drop_names(wb) -> None:
    for name in list(wb.defined_names):
        del wb.defined_names[name]


def test_rows_inserted_above_the_inputs_excel_style(ctx, programme):
    original = read_report(filled(ctx, 0), "a.xlsx", programme)
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    _insert_rows_like_excel(wb, "月报", 3, 2)
    _insert_rows_like_excel(wb, "出生登记", 2, 1)
    check = check_bytes(_save(wb), "a.xlsx", programme, ctx.registry, ctx.secret)
    assert check.errors == []
    assert check.read.values == original.values
    assert [r.values for r in check.read.register] == [r.values for r in original.register]
    assert check.read.cells["births_total"] == "D10"  # two rows further down


def test_rows_inserted_and_names_lost_falls_back_to_labels(ctx, programme):
    original = read_report(filled(ctx, 0), "a.xlsx", programme)
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    _insert_rows_like_excel(wb, "月报", 7, 3)
    _drop_names(wb)
    res = read_report(_save(wb), "a.xlsx", programme)
    assert not [p for p in res.problems if p.is_error]
    assert res.values == original.values
    assert res.meta["village_name"] == ctx.registry.villages[0].name


def test_renamed_sheet_with_names_kept_is_read_silently(ctx, programme):
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    wb["月报"].title = "青龙村10月"
    for name, dn in list(wb.defined_names.items()):
        wb.defined_names[name] = DefinedName(name, attr_text=dn.attr_text.replace("'月报'", "'青龙村10月'"))
    res = read_report(_save(wb), "a.xlsx", programme)
    assert res.sheet == "青龙村10月"
    assert not [p for p in res.problems if p.code.startswith("S")]
    assert res.values["births_total"] == len(res.register)


def test_renamed_sheets_without_names_are_found_by_structure(ctx, programme):
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    wb["月报"].title = "Sheet1"
    wb["出生登记"].title = "Sheet2"
    _drop_names(wb)
    check = check_bytes(_save(wb), "a.xlsx", programme, ctx.registry, ctx.secret)
    s002 = [p for p in check.problems if p.code == "S002"]
    assert {p.sheet for p in s002} == {"Sheet1", "Sheet2"}
    assert check.errors == []


def test_register_rows_added_below_the_named_range_are_read(ctx, programme):
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0, register=[])))
    ws = wb["出生登记"]
    base = 3 + programme.register.rows + 5  # below the 40 prepared rows and the footnote
    rows = [("张一", "男", date(2026, 10, 3), 1, "李梅", "11010519491231002X", "按时上报"),
            ("张二", "女", date(2026, 10, 3), 1, "李梅", "11010519491231002X", "按时上报")]
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            ws.cell(row=base + i, column=2 + j, value=v)
    wb["月报"]["D8"] = 2
    res = read_report(_save(wb), "a.xlsx", programme)
    assert [r.values["baby_name"] for r in res.register] == ["张一", "张二"]
    assert res.register[0].row == base


def test_deleted_input_row_is_reported_not_zeroed(ctx, programme):
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    ws = wb["月报"]
    ws.delete_rows(11)  # 死亡人数 (deaths_total)
    _drop_names(wb)
    check = check_bytes(_save(wb), "a.xlsx", programme, ctx.registry, ctx.secret)
    s003 = [p for p in check.problems if p.code == "S003"]
    assert [p.field for p in s003] == ["deaths_total"]
    assert "deaths_total" not in check.read.values
    assert check.status == "退回"


def _percent_typed(ctx, field: str, number_format: str = "0%") -> tuple[bytes, str]:
    """A filled report where the clerk typed "100%" into ``field``: Excel, WPS and LibreOffice keep the number 1
    and give the cell a percentage format."""
    cell = read_report(filled(ctx, 0), "a.xlsx", ctx.programme).cells[field]
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    wb["月报"][cell].value = 1
    wb["月报"][cell].number_format = number_format
    return _save(wb), cell


def test_100_percent_typed_into_a_count_is_sent_back_not_read_as_1(ctx, programme):
    """A count with "100%" in it was read as 1 person (375 against 535 points in the repro), since the reader never
    looked at number formats. A count or amount shown as a percentage is now refused with the cell named."""
    for number_format in ("0%", "0.00%", '0.0%;[Red]-0.0%'):
        data, cell = _percent_typed(ctx, "key_clients", number_format)
        check = check_bytes(data, "a.xlsx", programme, ctx.registry, ctx.secret)
        [p] = [p for p in check.problems if p.code == "V024"]
        assert (p.sheet, p.cell, p.field) == ("月报", cell, "key_clients") and check.status == "退回"
        assert "填成了百分数（100%）" in p.message and "单位：人" in p.message
    # a format that only shows a % sign as text is no percentage
    data, cell = _percent_typed(ctx, "key_clients", '0"%"')
    check = check_bytes(data, "a.xlsx", programme, ctx.registry, ctx.secret)
    assert not [p for p in check.problems if p.code == "V024"]


def test_a_second_filled_form_with_other_numbers_is_sent_back_naming_both(ctx, programme):
    """Excel's 移动或复制 → 建立副本 makes "月报 (2)"; the defined names still point at 月报, so the numbers typed
    into the copy were ignored without a word. Another sheet filled like the form with other numbers is now
    refused (S010) naming both sheets and the numbers that differ; an untouched copy is no problem."""
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0, key_clients=13)))
    copy = wb.copy_worksheet(wb["月报"])
    copy.title = "月报 (2)"
    assert not [p for p in check_bytes(_save(wb), "a.xlsx", programme, ctx.registry, ctx.secret).problems if p.code == "S010"]
    cell = read_report(filled(ctx, 0), "a.xlsx", programme).cells["key_clients"]
    copy[cell].value = 31
    check = check_bytes(_save(wb), "a.xlsx", programme, ctx.registry, ctx.secret)
    [p] = [p for p in check.problems if p.code == "S010"]
    assert check.status == "退回" and p.sheet == "月报" and "“月报 (2)”" in p.message
    assert "本月核查重点服务对象数：13 / 31" in p.message


def test_last_month_s_sheet_kept_before_this_month_s_is_not_read_in_its_place(ctx, programme):
    """A workbook without defined names (.xls, .ods, or names lost) with "九月" before "十月": the first sheet that
    looked like the form was read. Now both are named and the file is sent back."""
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0, key_clients=13)))
    _drop_names(wb)
    wb["月报"].title = "十月"
    september = wb.copy_worksheet(wb["十月"])
    september.title = "九月"
    wb.move_sheet("九月", offset=-wb.sheetnames.index("九月"))
    cell = read_report(filled(ctx, 0), "a.xlsx", programme).cells["key_clients"]
    september[cell].value = 12
    check = check_bytes(_save(wb), "a.xlsx", programme, ctx.registry, ctx.secret)
    [p] = [p for p in check.problems if p.code == "S010"]
    assert check.status == "退回" and {p.sheet, p.value} == {"九月", "十月"}


def test_the_instructions_are_never_read_as_the_form(ctx, programme):
    """The clerk copied 月报, deleted the original and filled the copy: Excel drops the names that pointed at it,
    and 填报说明 (which quotes every label) was read as the form — 30 errors quoting instructions."""
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    _drop_names(wb)
    copy = wb.copy_worksheet(wb["月报"])
    del wb["月报"]
    copy.title = "月报 (2)"
    wb.move_sheet("填报说明", offset=-wb.sheetnames.index("填报说明"))  # the instructions first
    res = read_report(_save(wb), "a.xlsx", programme)
    assert res.sheet == "月报 (2)"
    assert res.values == read_report(filled(ctx, 0), "a.xlsx", programme).values


def test_a_big_extra_sheet_is_not_read_for_the_form_s_shape(ctx, programme):
    """The second-form check loaded every other sheet: a valid report with a village's own 25,000-row sheet
    beside the form was sent back as too long (F011), and a 15,000-row one made each read ten times slower."""
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    extra = wb.create_sheet("花名册")
    for r in range(1, 25001):
        extra.cell(row=r, column=1, value=f"居民{r}")
    check = check_bytes(_save(wb), "a.xlsx", programme, ctx.registry, ctx.secret)
    assert check.status == "已接收", [(p.code, p.sheet) for p in check.problems]
    assert not [p for p in check.problems if p.code in ("F011", "S010")]


def test_a_percentage_in_the_birth_register_and_a_0_percent_count(ctx, programme):
    """The register's rows are read by a fast path that skipped the percentage check: "200%" in 孩次 was read as 2.
    A count shown as 0% is 0 either way and is not refused."""
    base = read_report(filled(ctx, 0), "a.xlsx", programme)
    assert base.register, "the example report has births"
    row = base.register[0]
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    cell = wb[base.register_sheet][row.cells["birth_order"]]
    cell.value, cell.number_format = 2, "0%"
    check = check_bytes(_save(wb), "a.xlsx", programme, ctx.registry, ctx.secret)
    assert [(p.code, p.cell) for p in check.problems if p.code == "V024"] == [("V024", row.cells["birth_order"])]
    data, _ = _percent_typed(ctx, "dept_info_missing")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    target = read_report(filled(ctx, 0), "a.xlsx", programme).cells["dept_info_missing"]
    wb["月报"][target].value = 0
    check = check_bytes(_save(wb), "a.xlsx", programme, ctx.registry, ctx.secret)
    assert not [p for p in check.problems if p.code == "V024"]


def test_a_second_form_with_borders_drawn_far_down_is_still_compared(ctx):
    """Last month's form kept as “9月” with other numbers is sent back (S010); with borders drawn down to row
    5,000 on it, it was too big to be a form and passed unseen. Formatted blanks count for nothing."""
    import io

    import openpyxl
    from openpyxl.styles import Border, Side

    from pipeline.check import check_bytes

    from .conftest import filled

    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    copy = wb.copy_worksheet(wb[ctx.programme.sheet])
    copy.title = "9月"
    for row in copy.iter_rows():
        for c in row:
            if isinstance(c.value, (int, float)) and c.column == 4:
                c.value = c.value + 7
    for r in range(copy.max_row + 1, 5001):
        copy.cell(r, 1).border = Border(bottom=Side(style="thin"))
    buf = io.BytesIO()
    wb.save(buf)
    check = check_bytes(buf.getvalue(), "a.xlsx", ctx.programme, ctx.registry)
    assert check.status == "退回" and "S010" in [p.code for p in check.problems]
