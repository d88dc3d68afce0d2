"""A programme written in Excel (方案设计表.xlsx): built-in programmes go to the workbook and back
unchanged, a township's own workbook converts, checks and runs end to end, and every fault in it
is named at its sheet and cell."""

from __future__ import annotations

import openpyxl
import pytest
import yaml
from typer.testing import CliRunner

from pipeline import api
from pipeline.authoring import convert, new_design
from pipeline.cli import app
from pipeline.example import example_values
from pipeline.programme.config import load_programme
from pipeline.programme.periods import Month
from pipeline.workbook.fill import fill_template


@pytest.mark.parametrize("pid", ["qianfen", "monthly-b", "fruitfly-c"])
def test_a_built_in_programme_goes_to_the_workbook_and_back_unchanged(pid, tmp_path):
    source = load_programme(pid).source
    workbook, problems = convert(__import__("pathlib").Path(source), tmp_path / "方案设计表.xlsx")
    assert problems == [] and workbook.is_file()
    back, problems = convert(workbook, tmp_path / "programme.yaml")
    assert problems == []
    assert yaml.safe_load(back.read_text(encoding="utf-8")) == yaml.safe_load(open(source, encoding="utf-8"))


def test_a_townships_workbook_converts_checks_and_runs_end_to_end(tmp_path):
    workbook = new_design(tmp_path / "方案设计表.xlsx")
    wb = openpyxl.load_workbook(workbook)  # the clerk edits it in Excel: a third item, on the starter's complaints
    ws = wb["考核项"]
    header = {c.value: c.column for c in ws[3]}
    row = 4 + 2
    for key, value in (("代码", "W3"), ("类别", "群众满意"), ("项目", "无投诉加分"), ("满分", "5"), ("基本分公式", "IF(complaints=0,5,0)")):
        ws.cell(row=row, column=header[key], value=value)
    wb["方案"].cell(row=4 + 1, column=3, value="本镇重点工作考核")  # 方案名称
    wb.save(workbook)
    programme_file, problems = convert(workbook, tmp_path / "programme.yaml")
    assert problems == []
    p = load_programme(programme_file)
    assert p.name == "本镇重点工作考核" and [i["code"] for i in p.raw["scoring"]["items"]] == ["W1", "W2", "W3"]
    assert api.check_programme(programme_file, year=2026)[1] == []

    ws_root = tmp_path / "ws"
    api.init_workspace(ws_root, programme=str(programme_file), example=True)
    ctx = api.load_context(ws_root)
    period = Month(2026, 3)
    for m in (Month(2026, 1), Month(2026, 2), period):
        paths = api.make_templates(ctx, m)
        for i, v in enumerate(ctx.registry.villages[:5]):
            values, _ = example_values(ctx.programme, v, m)
            (ctx.workspace.inbox / f"{m}-{i}.xlsx").write_bytes(fill_template(paths[i].read_bytes(), values, []))
        summary = api.collect(ctx)
        assert summary.count("已接收") == 5, [(x.name, x.status) for x in summary.items]
    result = api.consolidate(ctx, period)
    assert result.path.is_file() and len(result.table["villages"]) == 5
    assert {"W1", "W2", "W3"} <= set(result.table["villages"][0]["items"])


def test_every_fault_is_named_at_its_sheet_and_cell(tmp_path):
    workbook = new_design(tmp_path / "方案设计表.xlsx")
    wb = openpyxl.load_workbook(workbook)
    fields = wb["填报项"]
    header = {c.value: c.column for c in fields[3]}
    fields.cell(row=4, column=header["类型"], value="整形")  # not a type
    items = wb["考核项"]
    iheader = {c.value: c.column for c in items[3]}
    items.cell(row=5, column=iheader["基本分公式"], value="20－2*complaints")  # full-width minus
    seasons = wb["考核季"]
    seasons.cell(row=4, column=3, value="四成")  # a weight in words
    wb.save(workbook)
    _, problems = convert(workbook)
    found = {(p.sheet, p.cell) for p in problems}
    assert ("填报项", f"{openpyxl.utils.get_column_letter(header['类型'])}4") in found
    assert ("考核季", "C4") in found
    assert all(p.file == "方案设计表.xlsx" and p.message for p in problems)
    assert not (tmp_path / "programme.yaml").exists()
    # once the words are fixed, the formula's full-width minus is named with the corrected formula, at its cell
    fields.cell(row=4, column=header["类型"], value="整数")
    seasons.cell(row=4, column=3, value="0.5")
    wb.save(workbook)
    _, problems = convert(workbook)
    [p] = problems
    assert (p.sheet, p.cell) == ("考核项", f"{openpyxl.utils.get_column_letter(iheader['基本分公式'])}5")
    assert "全角" in p.message and "20-2*complaints" in p.message


def test_schema_faults_are_located_too(tmp_path):
    workbook = new_design(tmp_path / "方案设计表.xlsx")
    wb = openpyxl.load_workbook(workbook)
    fields = wb["填报项"]
    header = {c.value: c.column for c in fields[3]}
    fields.cell(row=5, column=header["字段代码"], value="Complaints 2")  # not an id
    wb.save(workbook)
    _, problems = convert(workbook)
    assert any(p.sheet == "填报项" and p.cell == f"{openpyxl.utils.get_column_letter(header['字段代码'])}5" for p in problems)


def test_the_commands(tmp_path):
    runner = CliRunner()
    book = tmp_path / "设计.xlsx"
    res = runner.invoke(app, ["programme", "new", str(book), "--from", "fruitfly-c"])
    assert res.exit_code == 0 and book.is_file()
    res = runner.invoke(app, ["programme", "new", str(book)])
    assert res.exit_code == 2 and "X019" in res.output
    res = runner.invoke(app, ["programme", "convert", str(book), "-o", str(tmp_path / "c.yaml")])
    assert res.exit_code == 0, res.output
    assert load_programme(tmp_path / "c.yaml").id == "fruitfly-c"
