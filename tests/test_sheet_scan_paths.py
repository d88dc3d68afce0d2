"""The quick path of ``cell_flags`` (patterns over the bytes) gives exactly what the exact expat scan
gives — or steps aside for it: every sheet here is checked both ways and must agree."""

from __future__ import annotations

import io
import zipfile

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.workbook.xlsx_parts import CellFlags, SheetXmlError, _plain_extent, _SheetScan, cell_flags

from .conftest import filled

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def exact(xml: bytes) -> CellFlags:
    flags = CellFlags()
    _SheetScan(flags).feed(xml, "s.xml")
    return flags


def both(xml: bytes) -> tuple[bool, CellFlags]:
    """Whether the quick path took the sheet, and cell_flags' answer — which must be the exact scan's."""
    quick = _plain_extent(xml, CellFlags(), "s.xml")
    got = cell_flags({"s.xml": xml}, "s.xml")
    want = exact(xml)
    assert (got.max_row, got.max_col, got.formulas, got.errors) == (want.max_row, want.max_col, want.formulas, want.errors)
    return quick, got


def sheet(cells: str, extra: str = "") -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet {NS}>{extra}<sheetData>{cells}</sheetData></worksheet>'.encode()


def test_a_village_report_takes_the_quick_path(ctx):
    data = filled(ctx, 0)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = [zf.read(n) for n in zf.namelist() if n.startswith("xl/worksheets/")]
    assert parts
    for xml in parts:
        quick, flags = both(xml)
        assert quick and flags.max_row > 0


def test_an_excel_style_sheet_with_shared_strings_and_numbers_takes_it_too():
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["村", "人数", 3.5])
    ws.write_string(40, 27, "远处")
    wb.close()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        quick, flags = both(zf.read("xl/worksheets/sheet1.xml"))
    assert quick and (flags.max_row, flags.max_col) == (41, 28)


@pytest.mark.parametrize("cells, extra, quick", [
    ('<row r="2"><c r="B2" s="1" t="s"><v>0</v></c><c r="AB40"><v>1</v></c></row>', "", True),
    ("<row><c s='1' r='C7' t='n'><v>1</v></c></row>", "", True),  # attributes in any order, single quotes
    ('<row><x:c xmlns:x="urn:x" r="D9"><x:v>1</x:v></x:c></row>', "", True),  # a namespace prefix
    ('<row><c r="A1" note="a>b"><v>1</v></c><c r="B3"/></row>', "", True),  # ">" inside an attribute value
    ('<row><c r="A1"><is><t>数据验证公式 formula1</t></is></c></row>', '<dataValidations><dataValidation><formula1>"男,女"</formula1></dataValidation></dataValidations>', True),
    ('<row r="3"><c r="A3"/><c><v>2</v></c></row>', "", False),  # a cell without its position
    ('<row><c r="A1"><f>1+1</f><v>2</v></c></row>', "", False),  # a formula
    ('<row><c r="A1"><x:f xmlns:x="urn:x">1+1</x:f><v>2</v></c></row>', "", False),
    ('<row><c r="B2" t="e"><v>#DIV/0!</v></c></row>', "", False),  # an error value
    ("<row><c t='e' r='B2'><v>#N/A</v></c></row>", "", False),
    ('<row><c r="B2" t="&#101;"><v>#DIV/0!</v></c></row>', "", False),  # t="e" written as a character reference
    ('<row><c r="A1"><v>1</v></c></row><!-- <c r="XFD1048576"/> -->', "", False),  # a comment is not a cell
    ('<row><c r="A1" t="inlineStr"><is><t><![CDATA[<c r="XFD99"/>]]></t></is></c></row>', "", False),
    ('<row><c r="A1"><v>1</v></c></row><?pi <c r="ZZ9"/>?>', "", False),
    ('<row><c r=" A1"><v>1</v></c></row>', "", None),  # not a position: the exact scan refuses it
    ('<row><c r="A0"><v>1</v></c></row>', "", None),
])
def test_both_ways_agree(cells, extra, quick):
    xml = sheet(cells, extra)
    if quick is None:
        with pytest.raises(SheetXmlError):
            cell_flags({"s.xml": xml}, "s.xml")
        assert not _plain_extent(xml, CellFlags(), "s.xml")
        return
    took, _ = both(xml)
    assert took is quick


def test_utf16_and_damaged_sheets_go_the_exact_way():
    xml = sheet('<row><c r="C5"><v>1</v></c></row>').replace(b'encoding="UTF-8"', b'encoding="UTF-16"')
    utf16 = xml.decode().encode("utf-16")
    took, flags = both(utf16)
    assert not took and (flags.max_row, flags.max_col) == (5, 3)
    broken = sheet('<row r="2"><c r="A2"></row>')
    assert not _plain_extent(broken, CellFlags(), "s.xml")
    with pytest.raises(SheetXmlError) as err:
        cell_flags({"s.xml": broken}, "s.xml")
    assert "第 1 行" in str(err.value) or "第 2 行" in str(err.value)


COLS = st.sampled_from(["A", "B", "Z", "AA", "XFD", "C"])
ATTR_ORDERS = st.sampled_from(["r s", "s r", "t r", "r t"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 5000), COLS, ATTR_ORDERS, st.sampled_from(['"', "'"]),
                          st.sampled_from(["n", "s", "e", "inlineStr", "str"]), st.booleans(), st.booleans()), max_size=12))
def test_any_mix_of_cells_agrees(cells):
    rows = []
    for row, col, order, q, kind, formula, positioned in cells:
        attrs = {"r": f"{col}{row}" if positioned else None, "s": "1", "t": kind}
        text = " ".join(f"{a}={q}{attrs[a]}{q}" for a in order.split() if attrs[a] is not None)
        body = ("<f>1+1</f>" if formula else "") + ("<v>#DIV/0!</v>" if kind == "e" else "<v>1</v>")
        rows.append(f"<row><c {text}>{body}</c></row>")
    both(sheet("".join(rows)))


def test_a_workbook_s_parts_parsed_once_are_each_file_s_own(ctx):
    """The defined names of every village's file (one template) are parsed once; what one file's reading does
    with them never reaches the next file's, and another workbook gets its own."""
    import openpyxl
    from openpyxl.workbook.defined_name import DefinedName

    from pipeline.workbook.xlsx_parts import read_ooxml_info

    first, second = read_ooxml_info(filled(ctx, 0)), read_ooxml_info(filled(ctx, 1))
    assert first.names == second.names and first.names is not second.names
    first.names.clear()
    first.sheet_parts.clear()
    assert read_ooxml_info(filled(ctx, 2)).names == second.names and read_ooxml_info(filled(ctx, 2)).sheet_parts
    other = openpyxl.Workbook()
    other.active.title = "别的表"
    other.defined_names["births_total"] = DefinedName("births_total", attr_text="别的表!$B$2")
    buf = io.BytesIO()
    other.save(buf)
    assert read_ooxml_info(buf.getvalue()).names["births_total"].sheet == "别的表"
