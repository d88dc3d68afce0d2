"""An .ods content.xml gives what python-calamine does not: formula, error and percentage cells, and the extent.

LibreOffice marks an error with calcext:value-type="error"; a program that writes no calcext (WPS) leaves a
formula whose result is a string showing the error's text. Both are errors; any other string result is a
formula only. Positions count repeated and covered cells, as calamine's grid does.
"""

from __future__ import annotations

from pipeline.workbook.ods_parts import ods_cells

HEAD = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0">'
        '<office:body><office:spreadsheet>')
TAIL = "</office:spreadsheet></office:body></office:document-content>"


def _content(*tables: str) -> bytes:
    return (HEAD + "".join(tables) + TAIL).encode()


def _cell(attrs: str = "", text: str = "", repeat: int = 1) -> str:
    rep = f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
    return f"<table:table-cell{rep} {attrs}><text:p>{text}</text:p></table:table-cell>" if text else f"<table:table-cell{rep} {attrs}/>"


def test_libreoffice_s_error_percent_and_formula_cells():
    row1 = ("<table:table-row>" + _cell('office:value-type="percentage" office:value="1"', "100%")
            + _cell('table:formula="of:=1/0" office:value-type="string" office:string-value="" calcext:value-type="error"', "#DIV/0!")
            + _cell('table:formula="of:=2+3" office:value-type="float" office:value="5"', "5") + "</table:table-row>")
    row2 = "<table:table-row>" + _cell() + _cell('office:value-type="float" office:value="7"', "7") + "</table:table-row>"
    found = ods_cells(_content(f'<table:table table:name="月报">{row1}{row2}</table:table>'))
    assert found is not None
    flags = found["月报"]
    assert flags.percent == {(0, 0)} and flags.errors == {(0, 1): "#DIV/0!"} and flags.formulas == {(0, 2)}
    assert (flags.max_row, flags.max_col) == (2, 3)


def test_an_error_written_without_calcext_is_known_by_its_text():
    row = ("<table:table-row>" + _cell('table:formula="of:=NA()" office:value-type="string" office:string-value="#N/A"', "#N/A")
           + _cell('table:formula="of:=&quot;a&quot;" office:value-type="string" office:string-value="a"', "a") + "</table:table-row>")
    flags = ods_cells(_content(f'<table:table table:name="S">{row}</table:table>'))["S"]  # type: ignore[index]
    assert flags.errors == {(0, 0): "#N/A"} and flags.formulas == {(0, 1)}


def test_positions_count_repeats_and_covered_cells():
    row = ('<table:table-row table:number-rows-repeated="3">' + _cell(repeat=2)
           + '<table:covered-table-cell/>' + _cell('office:value-type="percentage" office:value="0.5"', "50%", repeat=2)
           + "</table:table-row>")
    after = "<table:table-row>" + _cell('office:value-type="float" office:value="1"', "1") + "</table:table-row>"
    flags = ods_cells(_content(f'<table:table table:name="S">{row}{after}</table:table>'))["S"]  # type: ignore[index]
    assert flags.percent == {(r, c) for r in range(3) for c in (3, 4)}
    assert (flags.max_row, flags.max_col) == (4, 5)


def test_each_table_has_its_own_cells_and_a_damaged_part_gives_none():
    t1 = '<table:table table:name="A"><table:table-row>' + _cell('office:value-type="percentage" office:value="1"', "1") + "</table:table-row></table:table>"
    t2 = '<table:table table:name="B"><table:table-row>' + _cell('office:value-type="float" office:value="1"', "1") + "</table:table-row></table:table>"
    found = ods_cells(_content(t1, t2))
    assert found is not None and found["A"].percent == {(0, 0)} and not found["B"].percent
    assert ods_cells(b"<office:document-content><broken") is None


def test_an_xls_second_reader_never_decides_for_the_first():
    """xlrd gives an .xls's error and percentage cells; a file it cannot read (or one too big to hold in its
    objects) gives no flags, and python-calamine's verdict on the file stands."""
    from pipeline.workbook import xls_parts

    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4000  # an OLE header and nothing sensible after it
    assert xls_parts.XlsCells(ole).get("月报") is None
    assert xls_parts.XlsCells(b"not a workbook").get("月报") is None
    assert xls_parts.XlsCells(b"\x00" * (xls_parts.MAX_BYTES + 1)).get("月报") is None
    assert xls_parts._is_percent(type("F", (), {"format_str": "0.0%"})())
    assert not xls_parts._is_percent(type("F", (), {"format_str": '0" %"'})())  # a % inside quotes is only text
    assert not xls_parts._is_percent(type("F", (), {"format_str": "0\\%"})())


def _big(rows: int, cols: int, cell: str) -> str:
    return (f'<table:table table:name="附表"><table:table-row table:number-rows-repeated="{rows}">'
            f'<table:table-cell table:number-columns-repeated="{cols}" {cell}><text:p>#DIV/0!</text:p></table:table-cell>'
            "</table:table-row></table:table>")


ERROR_CELL = 'office:value-type="float" office:value="0" calcext:value-type="error" table:formula="of:=1/0"'


def test_a_huge_repeated_block_stops_the_scan_at_the_limits():
    """An error cell repeated 16,384 columns in a row repeated 100,000 times (35 KB of file) took 209 s: the scan
    walked every position it had flagged. It stops at the first table past the limits (the file is refused
    for that, F011), and never keeps more than MAX_FLAGGED positions however many tables it has."""
    from pipeline.workbook.ods_parts import MAX_FLAGGED

    content = _content(_big(100_000, 16_384, ERROR_CELL))
    from pipeline.workbook.safety import DEFAULT_LIMITS

    found = ods_cells(content, DEFAULT_LIMITS.exceeded)
    assert found is not None and found["附表"].max_row * found["附表"].max_col > 2_000_000
    many = _content(*[_big(20_000, 5, 'office:value-type="percentage" office:value="1"').replace("附表", f"附表{i}")
                      for i in range(20)])
    found = ods_cells(many)
    assert found is not None and len(found) == 20
    assert sum(len(f.percent) + len(f.errors) + len(f.formulas) for f in found.values()) <= MAX_FLAGGED


def test_a_comment_on_an_error_cell_is_not_its_text():
    """The comment of a cell is inside it in the XML (office:annotation): it was read as what the cell shows."""
    note = ('<office:annotation><text:p>请核对</text:p></office:annotation>')
    row = ('<table:table-row><table:table-cell table:formula="of:=NA()" office:value-type="string" office:string-value="#N/A">'
           f'{note}<text:p>#N/A</text:p></table:table-cell></table:table-row>')
    flags = ods_cells(_content(f'<table:table table:name="S">{row}</table:table>'))["S"]  # type: ignore[index]
    assert flags.errors == {(0, 0): "#N/A"}
