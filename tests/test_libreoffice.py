"""Templates and filled reports through a real spreadsheet program: LibreOffice Calc, headless.

* A filled report saved by LibreOffice as .xlsx, .xls and .ods reads back to the same values.
  .xls/.ods carry no OOXML defined names, so there the reader finds every input by its label.
* What would make Excel show a repair prompt after a LibreOffice save: openpyxl warnings, lost
  sheet protection, lost data validations, lost defined names.
* A clerk inserts rows (in the form and in the register) with LibreOffice itself, via a Basic
  macro in the test profile: the values are still found, in their moved cells.
* A template prints: PDF with pages, Chinese text in a CJK font, nothing outside the form.

All conversions happen once per session (a few soffice calls of 2–5 s each).
Set HUIZONG_RENDER_DOCS=1 to refresh docs/images/template-page1.png and template-instructions.png.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from pipeline import api
from pipeline.check import FileCheck, check_bytes
from pipeline.workbook import layout as L
from pipeline.workbook.xlsx_parts import read_ooxml_info

from . import lo
from .conftest import PERIOD, filled, template_for

pytestmark = lo.needs_soffice

DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
XLSX = "xlsx:Calc MS Excel 2007 XML"
XLS = "xls:MS Excel 97"
ODS = "ods"
ROUND_TRIPS = {"xlsx": XLSX, "xls": XLS, "ods": ODS}


@dataclass
class Converted:
    ctx: api.Context
    filled: Path  # as written by huizong (openpyxl fill of a generated template)
    template: Path
    filled_as: dict[str, Path]  # "xlsx"/"xls"/"ods" → saved by LibreOffice
    template_xlsx: Path  # template saved by LibreOffice as .xlsx
    template_pdf: Path


@pytest.fixture(scope="session")
def _tools() -> None:
    """LibreOffice and poppler-utils, or skip (fail under CI) before any work is done."""
    lo.require("pdftoppm", "pdftotext", "pdfinfo", "pdffonts")


@pytest.fixture(scope="session")
def converted(_tools: None, _workspace_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Converted:
    base = tmp_path_factory.mktemp("libreoffice")
    root = base / "ws"
    shutil.copytree(_workspace_master, root)
    ctx = api.load_context(root)
    src = base / "src"
    src.mkdir()
    filled_path = src / "filled.xlsx"
    filled_path.write_bytes(filled(ctx, 0))
    template_path = src / "template.xlsx"
    template_path.write_bytes(template_for(ctx, 0))
    # One soffice call per target format (soffice takes several files; .xlsx also gets the template).
    xlsx_filled, xlsx_template = lo.convert_many([filled_path, template_path], XLSX, base / "xlsx")
    filled_as = {
        "xlsx": xlsx_filled,
        "xls": lo.convert(filled_path, XLS, base / "xls"),
        "ods": lo.convert(filled_path, ODS, base / "ods"),
    }
    pdf = lo.convert(template_path, "pdf", base / "pdf")
    return Converted(ctx, filled_path, template_path, filled_as, xlsx_template, pdf)


def _check(conv: Converted, path: Path) -> FileCheck:
    c = conv.ctx
    return check_bytes(path.read_bytes(), path.name, c.programme, c.registry, c.secret)


def _messages(check: FileCheck) -> list[str]:
    return [f"{p.code} {p.sheet}!{p.cell} {p.message}" for p in check.problems]


# --- a filled report saved by LibreOffice reads back unchanged -------------------------------


@pytest.mark.parametrize("fmt", list(ROUND_TRIPS))
def test_filled_report_round_trip_keeps_every_value(converted: Converted, fmt: str) -> None:
    original = _check(converted, converted.filled)
    assert original.errors == [], _messages(original)
    assert original.read.values and original.read.register, "the example report should have values and births"

    path = converted.filled_as[fmt]
    check = _check(converted, path)
    assert check.read.format == fmt
    names = read_ooxml_info(path.read_bytes()).names if fmt == "xlsx" else {}
    assert ("births_total" in names) == (fmt == "xlsx")  # .xls/.ods: inputs are found by their labels
    assert check.errors == [], _messages(check)
    assert check.status == "已接收", _messages(check)
    assert sorted(p.code for p in check.problems) == sorted(p.code for p in original.problems), _messages(check)

    # Same identity (village, period, signature from the hidden sheet) …
    assert check.identity.village is not None and check.identity.village.code == converted.ctx.registry.villages[0].code
    assert check.identity.period == PERIOD
    assert check.identity.signed
    assert check.read.meta == original.read.meta
    # … the same values, found in the same cells (by name for .xlsx, by label for .xls/.ods) …
    assert check.read.sheet == original.read.sheet
    assert check.read.values == original.read.values
    assert check.read.cells == original.read.cells
    # … and the same birth register rows, at the same rows.
    assert check.read.register_sheet == original.read.register_sheet
    assert [(r.row, r.values) for r in check.read.register] == [(r.row, r.values) for r in original.read.register]


# --- a clerk inserts rows in a real spreadsheet program --------------------------------------

MAIN_INSERT = (0, 1, 2)  # main sheet: two rows under the title (all of the form moves down by 2)
REGISTER_INSERT = (1, 4, 1)  # register: one row between the first two births, as its footnote suggests


@pytest.fixture(scope="session")
def clerk_edited(converted: Converted) -> dict[str, Path]:
    out = converted.filled.parent.parent / "edited"
    paths = lo.insert_rows(converted.filled, [MAIN_INSERT, REGISTER_INSERT], [out / "edited.xlsx", out / "edited.xls"])
    return {p.suffix.lstrip("."): p for p in paths}


def _shift(cell: str, rows: int) -> str:
    r, c = L.parse_a1(cell)
    return L.a1(r + rows, c)


@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_rows_inserted_by_libreoffice_are_followed(converted: Converted, clerk_edited: dict[str, Path], fmt: str) -> None:
    """LibreOffice moves defined names like Excel does (.xlsx); without names (.xls) labels are found."""
    original = _check(converted, converted.filled)
    check = _check(converted, clerk_edited[fmt])
    assert check.errors == [], _messages(check)
    assert check.status == "已接收", _messages(check)
    assert check.read.meta == original.read.meta
    assert check.read.values == original.read.values
    assert check.read.cells == {k: _shift(v, MAIN_INSERT[2]) for k, v in original.read.cells.items()}
    rows = [r.row for r in original.read.register]
    assert len(rows) >= 2 and rows[0] <= REGISTER_INSERT[1] < rows[1]  # the blank row lands between two births
    expected = [(r.row + (REGISTER_INSERT[2] if r.row > REGISTER_INSERT[1] else 0), r.values) for r in original.read.register]
    assert [(r.row, r.values) for r in check.read.register] == expected


# --- a LibreOffice-saved .xlsx has nothing Excel would want to repair -------------------------


def _load_quietly(path: Path) -> tuple[openpyxl.Workbook, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wb = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
    return wb, [f"{w.category.__name__}: {w.message}" for w in caught]


@pytest.mark.parametrize("which", ["filled", "template"])
def test_libreoffice_xlsx_keeps_protection_validations_and_names(converted: Converted, which: str) -> None:
    before_path = converted.filled if which == "filled" else converted.template
    after_path = converted.filled_as["xlsx"] if which == "filled" else converted.template_xlsx
    before, before_warnings = _load_quietly(before_path)
    after, after_warnings = _load_quietly(after_path)
    assert before_warnings == []
    assert after_warnings == [], "openpyxl warned while loading the LibreOffice .xlsx"

    p = converted.ctx.programme
    assert after.sheetnames == before.sheetnames
    assert after[L.META_SHEET].sheet_state == "hidden"
    for ws in before.worksheets:
        ws2 = after[ws.title]
        assert ws2.protection.sheet, f"sheet protection lost on {ws.title}"
        assert bool(ws2.protection.sheet) == bool(ws.protection.sheet)
        rules = {(dv.type, str(dv.sqref)) for dv in ws.data_validations.dataValidation}
        rules2 = {(dv.type, str(dv.sqref)) for dv in ws2.data_validations.dataValidation}
        assert rules2 == rules, f"data validations changed on {ws.title}"
    main = after[p.sheet]
    assert main.data_validations.dataValidation, "the main sheet lost its data validations"
    if p.register:
        assert after[p.register.sheet].data_validations.dataValidation, "the register lost its data validations"

    wanted = [f.id for f in p.all_inputs] + [k for k, _r, _c in (L.VILLAGE_NAME, L.REPORT_PERIOD, L.VILLAGE_CODE)]
    wanted += [k for k, _label in L.META_KEYS] + ([p.register.name] if p.register else [])
    assert "births_total" in wanted
    missing = [n for n in wanted if n not in after.defined_names]
    assert missing == [], f"defined names lost by LibreOffice: {missing}"
    for name in wanted:
        assert _target(after, name) == _target(before, name), name

    # Input cells stay unlocked, labels stay locked.
    for spec in p.all_inputs:
        sheet, ref = _target(after, spec.id)
        assert after[sheet][ref].protection.locked is False, f"{spec.id} ({ref}) became locked"
    sheet, ref = _target(after, p.fields[0].id)
    label_cell = "B" + "".join(ch for ch in ref if ch.isdigit())
    assert after[sheet][label_cell].value == p.fields[0].label
    assert after[sheet][label_cell].protection.locked is not False


def _target(wb: openpyxl.Workbook, name: str) -> tuple[str, str]:
    dests = list(wb.defined_names[name].destinations)
    assert len(dests) == 1, (name, dests)
    sheet, ref = dests[0]
    return sheet, ref.replace("$", "")


# --- a template prints as a proper form -------------------------------------------------------


def test_template_prints_to_pdf_with_chinese_text(converted: Converted, tmp_path: Path) -> None:
    pdf = converted.template_pdf
    p = converted.ctx.programme
    village = converted.ctx.registry.villages[0]
    pages = lo.pdf_pages_text(pdf)
    assert lo.pdf_page_count(pdf) == len(pages) >= 3  # form, register, instructions

    first = pages[0]
    for text in (p.title, "填报单位", village.name, PERIOD.chinese, p.fields[0].label, p.footer[0].label, "说明"):
        assert text in first.replace(" ", ""), f"page 1 lacks {text!r}"
    if p.register:
        assert any(f"{p.register.label}表" in pg for pg in pages[1:])
    assert any(f"{p.title}填报说明" in pg.replace(" ", "") for pg in pages)
    signature = _check(converted, converted.template).read.meta.get("hz_signature")
    assert signature
    assert all(signature not in pg.replace(" ", "") for pg in pages), "the hidden _huizong sheet was printed"

    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, timeout=60, check=True).stdout
    assert any(k in fonts for k in ("CJK", "Song", "Hei", "Sim", "Ming", "WenQuanYi", "Fallback")), (
        f"no CJK font embedded — Chinese would show as boxes:\n{fonts}"
    )

    png = lo.render_page(pdf, 1, tmp_path / "template-page1.png", dpi=80)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 30_000, "page 1 renders nearly blank"

    if os.environ.get("HUIZONG_RENDER_DOCS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, DOCS_IMAGES / "template-page1.png")
        n = next(i for i, pg in enumerate(pages, 1) if pg.replace(" ", "").lstrip().startswith(f"{p.title}填报说明"))
        lo.render_page(pdf, n, DOCS_IMAGES / "template-instructions.png", dpi=80)


def test_template_page1_has_nothing_outside_the_form(converted: Converted) -> None:
    """No text on page 1 sticks out of the form's left/right edges (it would be cut off).

    The left edge is where the left-aligned 表号 line starts (column A); the right edge is where
    the right-aligned 制表机关 line ends (last column). Right-aligned header labels in the narrow
    column A (填报单位：, 村代码：) must not overflow to the left of it.
    """
    words = lo.pdf_words(converted.template_pdf, 1)
    assert words
    left = next(x0 for text, x0, _y0, _x1, _y1 in words if text.startswith("表号"))
    right = next(x1 for text, _x0, _y0, x1, _y1 in words if text.startswith("制表机关"))
    outside = [
        (text, round(x0, 1), round(x1, 1)) for text, x0, _y0, x1, _y1 in words if x0 < left - 0.5 or x1 > right + 0.5
    ]
    assert outside == [], f"text beyond the form's edges [{left:.1f}, {right:.1f}] pt: {outside}"


def test_100_percent_in_a_count_is_refused_after_libreoffice_saves_it(converted: Converted, tmp_path: Path) -> None:
    """The percentage survives a save by another program: LibreOffice writes its own styles (numFmtId 9 for 0%)."""
    from .test_reader_structure import _percent_typed

    data, cell = _percent_typed(converted.ctx, "key_clients")
    src = tmp_path / "typed.xlsx"
    src.write_bytes(data)
    saved = lo.convert(src, XLSX, tmp_path / "lo")
    check = _check(converted, saved)
    assert [(p.code, p.cell) for p in check.problems if p.code == "V024"] == [("V024", cell)]


def test_an_ods_with_last_month_s_sheet_first_is_sent_back(converted: Converted, tmp_path: Path) -> None:
    """Saved as .ods (no defined names huizong reads), "九月" before "十月": the first was read as the report."""
    ctx = converted.ctx
    cell = _check(converted, converted.filled).read.cells["key_clients"]
    wb = openpyxl.load_workbook(converted.filled)
    wb["月报"].title = "十月"
    september = wb.copy_worksheet(wb["十月"])
    september.title = "九月"
    wb.move_sheet("九月", offset=-wb.sheetnames.index("九月"))
    september[cell].value = int(wb["十月"][cell].value) + 7
    src = tmp_path / "two.xlsx"
    wb.save(src)
    ods = lo.convert(src, ODS, tmp_path / "ods")
    check = check_bytes(ods.read_bytes(), ods.name, ctx.programme, ctx.registry, ctx.secret)
    assert check.status == "退回" and [p.code for p in check.problems if p.code == "S010"] == ["S010"]


def test_an_error_value_in_an_ods_or_xls_cell_is_not_called_merely_unfilled(converted: Converted, tmp_path: Path) -> None:
    """python-calamine gives '' for #DIV/0! in .xls and .ods: the village was told "未填写" about a cell that shows
    #DIV/0!. An .ods says so in its XML (calcext:value-type="error"), an .xls in its cell records (read with xlrd):
    the cell is named with its error value, as in an .xlsx (V018)."""
    ctx = converted.ctx
    cell = _check(converted, converted.filled).read.cells["key_clients"]
    wb = openpyxl.load_workbook(converted.filled)
    wb["月报"][cell].value = "=1/0"
    src = tmp_path / "div0.xlsx"
    wb.save(src)
    for fmt, code in ((ODS, "V018"), (XLS, "V018")):
        saved = lo.convert(src, fmt, tmp_path / fmt.split(":")[0])
        check = check_bytes(saved.read_bytes(), saved.name, ctx.programme, ctx.registry, ctx.secret)
        [p] = [p for p in check.problems if p.field == "key_clients"]
        assert p.code == code and p.cell == cell and "#DIV/0!" in p.message and check.status == "退回"


def test_an_ods_or_xls_says_what_calamine_does_not_percent_and_formulas(converted: Converted, tmp_path: Path) -> None:
    """"100%" typed into a count, saved as .ods or .xls, read as the number 1 (V024 looked only at .xlsx styles);
    a formula in an .ods input cell read as its result without the V009 note. The files' own records say both
    (an .xls keeps no formula xlrd reads: its result is taken, as before)."""
    from .test_reader_structure import _percent_typed

    ctx = converted.ctx
    data, cell = _percent_typed(ctx, "key_clients")
    src = tmp_path / "typed.xlsx"
    src.write_bytes(data)
    for fmt in (ODS, XLS):
        saved = lo.convert(src, fmt, tmp_path / fmt.split(":")[0])
        check = check_bytes(saved.read_bytes(), saved.name, ctx.programme, ctx.registry, ctx.secret)
        assert [(p.code, p.cell) for p in check.problems if p.code == "V024"] == [("V024", cell)], fmt
    formula_cell = _check(converted, converted.filled).read.cells["households_missed_materials"]
    wb = openpyxl.load_workbook(converted.filled)
    wb["月报"][formula_cell].value = "=1+1"
    src = tmp_path / "formula.xlsx"
    wb.save(src)
    ods = lo.convert(src, ODS, tmp_path / "ods2")
    check = check_bytes(ods.read_bytes(), ods.name, ctx.programme, ctx.registry, ctx.secret)
    assert [(p.code, p.cell) for p in check.problems if p.code == "V009"] == [("V009", formula_cell)]
    assert check.read.values["households_missed_materials"] == 2


def test_an_xls_with_formatted_blank_rows_is_read_as_before(converted: Converted, tmp_path: Path, monkeypatch) -> None:
    """Formatted but empty cells down to row 25,000 of the form (a fill dragged down), and a sheet of the village's
    own with one formatted cell at its far corner: xlrd counts formatted blanks, so the form was refused as too
    long (F011 and thirty S003) and the corner sheet built a 65,536 × 256 grid. The extent is calamine's (cells
    with values), and only the sheets the reader reads are looked at for error values and percentages."""
    from openpyxl.styles import PatternFill

    from pipeline.workbook import xls_parts

    wb = openpyxl.load_workbook(converted.filled)
    fill = PatternFill("solid", fgColor="FFFF00")
    for r in range(100, 25_001):
        wb["月报"].cell(r, 1).fill = fill
    wb.create_sheet("附表")["IV65536"].fill = fill
    src = tmp_path / "fills.xlsx"
    wb.save(src)
    xls = lo.convert(src, XLS, tmp_path / "xls")
    looked: list[str] = []
    get = xls_parts.XlsCells.get
    monkeypatch.setattr(xls_parts.XlsCells, "get", lambda self, name: looked.append(name) or get(self, name))
    ctx = converted.ctx
    check = check_bytes(xls.read_bytes(), xls.name, ctx.programme, ctx.registry, ctx.secret)
    assert check.status == "已接收", [p.message for p in check.problems]
    assert "附表" not in looked and "月报" in looked
