"""Generated templates: named inputs, validation, protection, print setup, signature, shipped copies."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from pipeline import api
from pipeline.programme.config import load_programme
from pipeline.programme.signing import verify
from pipeline.resources import shipped_programmes
from pipeline.workbook.xlsx_parts import parse_name_ref

from .conftest import PERIOD, template_for


@pytest.mark.parametrize("pid", sorted(shipped_programmes()))
def test_committed_blank_template_matches_the_generator(pid):
    programme = load_programme(pid)
    committed = api.shipped_blank_template_path(programme)
    assert committed.is_file(), f"缺少 {committed}：运行 python scripts/refresh_templates.py"
    fresh = api.blank_template_bytes(programme)
    with zipfile.ZipFile(committed) as a, zipfile.ZipFile(io.BytesIO(fresh)) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        for name in a.namelist():
            assert a.read(name) == b.read(name), f"{committed.name}:{name} 与生成器不一致：运行 python scripts/refresh_templates.py"




def _target(wb, name):
    t = parse_name_ref(wb.defined_names[name].attr_text)
    return wb[t.sheet], t


def test_every_input_has_a_defined_name_on_an_unlocked_validated_cell(ctx):
    wb = openpyxl.load_workbook(io.BytesIO(template_for(ctx, 0)))
    p = ctx.programme
    for spec in p.all_inputs:
        ws, t = _target(wb, spec.id)
        assert ws.title == p.sheet
        cell = ws.cell(row=t.first[0] + 1, column=t.first[1] + 1)
        assert cell.protection.locked is False, spec.id
        label = ws.cell(row=t.first[0] + 1, column=2).value
        assert label.rstrip("：") == spec.label
        covering = [dv for dv in ws.data_validations.dataValidation if cell.coordinate in dv.sqref]
        assert covering, f"{spec.id} has no data validation"
        dv = covering[0]
        assert dv.promptTitle and dv.prompt, f"{spec.id} has no input message"
        if spec.type == "integer":
            assert dv.type == "whole" and dv.operator == "greaterThanOrEqual" and float(dv.formula1) == 0
        if spec.type == "number":
            assert dv.type == "decimal"
    assert ws.protection.sheet is True
    assert not ws.protection.password  # protection guards against accidents, it is not a secret


def test_register_is_a_named_range_with_dropdowns_dates_and_id_length(ctx):
    wb = openpyxl.load_workbook(io.BytesIO(template_for(ctx, 0)))
    reg = ctx.programme.register
    ws, t = _target(wb, reg.name)
    assert ws.title == reg.sheet
    assert t.last[0] - t.first[0] + 1 == reg.rows
    header = [ws.cell(row=t.first[0], column=c + 1).value for c in range(t.first[1], t.last[1] + 1)]
    assert header == [c.label for c in reg.columns]
    dvs = {str(dv.sqref).split(":")[0][0]: dv for dv in ws.data_validations.dataValidation}
    assert dvs["C"].type == "list" and "男" in dvs["C"].formula1 and "女" in dvs["C"].formula1
    assert dvs["H"].type == "list" and "迟报" in dvs["H"].formula1
    assert dvs["D"].type == "date"  # inside the month
    assert dvs["G"].type == "textLength" and float(dvs["G"].formula1) == 18
    assert ws.protection.sheet and ws.protection.insertRows is False  # False = inserting rows is allowed


def test_header_identity_and_signature(ctx):
    wb = openpyxl.load_workbook(io.BytesIO(template_for(ctx, 3)))
    v = ctx.registry.villages[3]
    ws, t = _target(wb, "village_name")
    cell = ws.cell(row=t.first[0] + 1, column=t.first[1] + 1)
    assert cell.value == v.name and cell.protection.locked is not False
    ws, t = _target(wb, "report_period")
    assert ws.cell(row=t.first[0] + 1, column=t.first[1] + 1).value == "2026年10月"
    meta = wb["_huizong"]
    assert meta.sheet_state == "hidden"
    values = {meta.cell(row=r, column=1).value: meta.cell(row=r, column=2).value for r in range(1, 7)}
    assert values["村代码"] == v.code and values["报告期"] == str(PERIOD)
    assert verify(ctx.secret, "qianfen", v.code, str(PERIOD), ctx.programme.version, values["签名"])
    assert not verify(ctx.secret, "qianfen", ctx.registry.villages[4].code, str(PERIOD), ctx.programme.version, values["签名"])
    assert "填报说明" in wb.sheetnames
    assert wb.sheetnames[0] == ctx.programme.sheet


def test_print_setup_is_a4_fit_to_width_with_repeated_headers(ctx):
    wb = openpyxl.load_workbook(io.BytesIO(template_for(ctx, 0)))
    for name in (ctx.programme.sheet, ctx.programme.register.sheet, "填报说明"):
        ws = wb[name]
        assert ws.page_setup.paperSize == 9, name
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0  # absent = 1 page wide
        assert ws.print_title_rows, name
        assert "&P" in (ws.oddFooter.center.text or "")


def test_instruction_sheet_is_generated_from_the_programme(ctx):
    wb = openpyxl.load_workbook(io.BytesIO(template_for(ctx, 0)))
    text = "\n".join(str(c.value) for row in wb["填报说明"].iter_rows() for c in row if c.value)
    for spec in ctx.programme.fields:
        assert spec.label in text
    assert "不得大于“本月出生数”" in text  # births_reported ≤ births_total, from the rules
    assert ctx.programme.version in text


def test_blank_template_leaves_village_and_period_to_the_clerk(ctx, tmp_path):
    (path,) = api.make_templates(ctx, None, blank=True, out_dir=tmp_path)
    wb = openpyxl.load_workbook(path)
    ws, t = _target(wb, "village_name")
    cell = ws.cell(row=t.first[0] + 1, column=t.first[1] + 1)
    assert cell.value in (None, "") and cell.protection.locked is False
    assert wb["_huizong"]["B3"].value == "*"


def test_the_township_s_tables_print_at_a_readable_size(ctx):
    """The 村名册 printed at about half size on one A4 width: each 年度任务 label set its column's width on one
    line and the address column was 34 wide. Labels now wrap in the header, addresses in their cells (the row
    made tall enough, as not every client fits a row to wrapped text when the file opens)."""
    import re

    def width(path):
        xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
        return sum((int(b) - int(a) + 1) * float(w) for a, b, w in re.findall(r'<col min="(\d+)" max="(\d+)" width="([\d.]+)"', xml))

    root = ctx.workspace.root
    assert width(ctx.workspace.registry_path) < 180  # 247 before: printed at 125/247 of full size, now above 2/3
    assert width(root / ctx.programme.raw["assessment_register"]["file"]) < 210  # 307 before
    ws = openpyxl.load_workbook(ctx.workspace.registry_path).active
    two = [c.row for c in ws["D"] if isinstance(c.value, str) and ";" in c.value]  # a village with two addresses
    assert two and all((ws.row_dimensions[r].height or 0) >= 30 for r in two)
    assert ws.row_dimensions[two[0] + 1].height is None or ";" in str(ws.cell(two[0] + 1, 4).value)
