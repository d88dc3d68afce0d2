"""A township register that cannot be read whole stops the consolidation: its villages would score 0."""

from __future__ import annotations

import pytest

from pipeline import api
from pipeline.demo import _fill_registers
from pipeline.problems import HuizongError

from .conftest import PERIOD, filled


def _collected(ctx: api.Context) -> None:
    (ctx.workspace.inbox / "r.xlsx").write_bytes(filled(ctx, 0))
    api.collect(ctx)
    _fill_registers(ctx, PERIOD)


def test_truncated_register_refuses_to_score(ctx):
    _collected(ctx)
    ctx.workspace.settings.setdefault("limits", {})["max_rows"] = 30  # the register has 19 rows per 考核季, 57 by October
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, PERIOD)
    # (加分扣分登记 has a few rows and 100 formatted blank ones under them: those count for nothing)
    assert [(p.code, p.sheet) for p in err.value.problems] == [("F011", "镇考核登记")]
    assert "行" in err.value.problems[0].message
    assert not (ctx.workspace.reports / f"{PERIOD}-汇总排名.xlsx").exists()


def test_corrupt_register_refuses_to_score(ctx):
    _collected(ctx)
    path = ctx.workspace.root / ctx.programme.raw["assessment_register"]["file"]
    path.write_bytes(path.read_bytes()[:2000])  # cut off in the middle, as an interrupted copy would be
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, PERIOD)
    assert [p.code for p in err.value.problems] == ["F008"]
    assert err.value.problems[0].file == path.name


def test_readable_register_still_scores(ctx):
    _collected(ctx)
    assert api.consolidate(ctx, PERIOD).path.is_file()


def _bad_registers(ctx: api.Context) -> None:
    """A 镇考核登记 with “无” in a count cell (on the row that carries a veto) and a 加分扣分登记 with an
    unknown village, an unknown item, an empty 次数 and a mistyped year."""
    from datetime import date

    from pipeline.workbook.registers import build_table_workbook

    p = ctx.programme
    v = ctx.registry.villages
    raw = p.raw["assessment_register"]
    zeros = {f["id"]: 0 for f in raw["fields"]}
    rows = [{"village_code": x.code, "village_name": x.name, "year": 2026, "assessment_period": "第三考核季", **zeros} for x in v]
    rows[0]["meeting_absences"] = "无"
    rows[0]["births_concealed"] = 1  # a veto on the row with the typo: dropping the row would raise the village's total
    cols = api.register_columns(p, "assessment_register")
    (ctx.workspace.root / raw["file"]).write_bytes(build_table_workbook(raw["sheet"], raw["sheet"], cols, rows, "", "镇"))
    raw = p.raw["adjustments"]
    adj = [
        {"village_code": "340121109999", "village_name": "不存在村", "date": date(2026, 5, 1), "item": "市级表彰", "count": 1},
        {"village_code": v[1].code, "village_name": v[1].name, "date": date(2026, 5, 2), "item": "省级表扬", "count": 1},
        {"village_code": v[2].code, "village_name": v[2].name, "date": date(2026, 5, 3), "item": "市级表彰"},
        {"village_code": v[3].code, "village_name": v[3].name, "date": date(2062, 5, 4), "item": "市级表彰", "count": 1},
        {"village_code": v[4].code, "village_name": v[4].name, "date": date(2026, 5, 5), "item": "市级表彰", "count": 1},
    ]
    cols = api.register_columns(p, "adjustments")
    (ctx.workspace.root / raw["file"]).write_bytes(build_table_workbook(raw["sheet"], raw["sheet"], cols, adj, "", "镇"))


def test_invalid_register_cells_stop_the_consolidation_and_are_all_named(ctx):
    (ctx.workspace.inbox / "r.xlsx").write_bytes(filled(ctx, 0))
    api.collect(ctx)
    _bad_registers(ctx)
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, PERIOD)
    found = {(p.code, p.sheet, p.cell) for p in err.value.problems}
    assert ("V007", "镇考核登记", "F4") in found  # “无” in 例会缺席次数 (row 4: header on row 3)
    assert ("C011", "加分扣分登记", "A4") in found  # unknown village code (said as a code, not as "文件中的村名")
    (unknown,) = [p for p in err.value.problems if p.code == "C011"]
    assert "村代码 340121109999 在村名册中找不到" in unknown.message
    assert ("V013", "加分扣分登记", "D5") in found  # unknown item
    # each allowed item quoted: one of them holds "、" itself (弄虚作假、找人代检), and a clerk who typed 弄虚作假 read it as allowed
    (item,) = [p for p in err.value.problems if p.code == "V013"]
    assert "“弄虚作假、找人代检”" in item.message
    assert ("V001", "加分扣分登记", "E6") in found  # empty 次数
    (empty,) = [p for p in err.value.problems if p.code == "V001"]
    assert "没有发生的请删去这一行" in empty.message  # not "请填 0": 0 is refused there (次数 at least 1)
    assert ("V022", "加分扣分登记", "C7") in found  # 2062
    assert len(found) == 5
    assert all(p.file for p in err.value.problems)
    assert not (ctx.workspace.reports / f"{PERIOD}-汇总排名.xlsx").exists()


def test_the_command_exits_2_and_lists_every_register_cell(ctx):
    import json

    from typer.testing import CliRunner

    from pipeline.cli import app

    (ctx.workspace.inbox / "r.xlsx").write_bytes(filled(ctx, 0))
    api.collect(ctx)
    _bad_registers(ctx)
    res = CliRunner().invoke(app, ["consolidate", "-w", str(ctx.workspace.root), "--period", str(PERIOD)])
    assert res.exit_code == 2
    for cell in ("F4", "A4", "D5", "E6", "C7"):
        assert f"单元格 {cell}" in res.output
    res = CliRunner().invoke(app, ["consolidate", "-w", str(ctx.workspace.root), "--period", str(PERIOD), "--json"])
    assert res.exit_code == 2
    out = json.loads(res.stdout)
    assert out["ok"] is False and len(out["problems"]) == 5
    assert {p["cell"] for p in out["problems"]} == {"F4", "A4", "D5", "E6", "C7"}


def test_a_register_missing_or_saved_in_another_format_stops_and_says_which(ctx):
    """A register re-saved by WPS/LibreOffice as .ods (the .xlsx deleted) was read as empty: every veto,
    deduction and bonus dropped out (18 of 19 scores changed) with exit 0. With the old .xlsx kept beside a
    newer .ods, the new entries in the .ods were ignored."""
    import os

    _collected(ctx)
    raw = ctx.programme.raw
    assessment = ctx.workspace.root / raw["assessment_register"]["file"]
    adjustments = ctx.workspace.root / raw["adjustments"]["file"]
    assessment.rename(assessment.with_suffix(".ods"))  # not a real .ods: only its name is looked at
    adjustments.with_suffix(".xls").write_bytes(adjustments.read_bytes())
    os.utime(adjustments, (1_700_000_000, 1_700_000_000))  # the copy is newer than the .xlsx
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, PERIOD)
    found = {p.value: p.message for p in err.value.problems if p.code == "C010"}
    assert f"文件夹里有 {assessment.with_suffix('.ods').name}" in found[assessment.name] and "另存为" in found[assessment.name]
    assert f"{adjustments.with_suffix('.xls').name} 比 {adjustments.name} 新" in found[adjustments.name]
    assert not (ctx.workspace.reports / f"{PERIOD}-汇总排名.xlsx").exists()
    assessment.with_suffix(".ods").unlink()
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, PERIOD)
    assert any(p.code == "C010" and "请把" in p.message and "放回" in p.message for p in err.value.problems)


def test_a_second_sheet_with_the_register_s_header_is_named_not_ignored(ctx):
    """Excel's 移动或复制 → 建立副本 puts the copy first; the clerk entered a −20 there and huizong read the
    untouched original: the village stayed first."""
    import openpyxl

    _collected(ctx)
    path = ctx.workspace.root / ctx.programme.raw["adjustments"]["file"]
    wb = openpyxl.load_workbook(path)
    sheet = ctx.programme.raw["adjustments"]["sheet"]
    copy = wb.copy_worksheet(wb[sheet])
    copy.title = f"{sheet} (2)"
    wb.move_sheet(copy, offset=-len(wb.sheetnames) + 1)
    wb.save(path)
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, PERIOD)
    (twin,) = [p for p in err.value.problems if p.code == "S009"]
    assert twin.sheet == sheet and f"“{sheet} (2)”" in twin.message


def test_a_retitled_registry_column_is_named_not_dropped(ctx):
    """“起始月份” retitled “起始考核月份”: the column was dropped unsaid and a village that joined in September
    was scored on the whole year's targets (1st → 9th); “上报邮箱” retitled dropped every address."""
    import openpyxl

    path = ctx.workspace.registry_path
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    cell = next(c for row in ws.iter_rows() for c in row if c.value == "上报邮箱")
    cell.value = "邮箱"
    wb.save(path)
    problems = api.load_context(ctx.workspace.root).registry_problems
    (retitled,) = [p for p in problems if p.code == "S008"]
    assert "“邮箱”" in retitled.message and "“上报邮箱”" in retitled.message and retitled.is_error


def test_a_month_typed_as_a_number_is_not_read_as_january(ctx):
    """2026.10 typed into a General cell is kept by Excel as the number 2026.1: 停止月份 became 2026-01 and a
    village second in the ranking left the whole year's 通报 (so did October's row of B's monthly register)."""
    cell = _type_in_registry(ctx, "停止月份", 2026.1)
    (bad,) = [p for p in api.load_context(ctx.workspace.root).registry_problems if p.cell == cell]
    assert bad.is_error and "分不清是 1 月还是 10 月" in bad.message


def test_a_number_that_is_no_month_at_all_is_not_blamed_on_a_lost_digit(ctx):
    """Only x.1 can be a 10 that lost its 0: 2026.13 or 202610 in 停止月份 is simply not a month, and says so."""
    cell = _type_in_registry(ctx, "停止月份", 2026.13)
    (bad,) = [p for p in api.load_context(ctx.workspace.root).registry_problems if p.cell == cell]
    assert "应为 2026-06 这样的年月" in bad.message and "分不清" not in bad.message


def _type_in_registry(ctx, label: str, value) -> str:
    """Type ``value`` into the 村名册's ``label`` column, second village's row, as a number cell; its address."""
    import openpyxl

    wb = openpyxl.load_workbook(ctx.workspace.registry_path)
    ws = wb.worksheets[0]
    head = next(c for row in ws.iter_rows() for c in row if c.value == label)
    target = ws.cell(row=head.row + 2, column=head.column)
    target.value = value
    wb.save(ctx.workspace.registry_path)
    return target.coordinate


def test_a_total_row_in_a_register_is_named_as_one(ctx):
    """A clerk adds a 合计 row under the villages: it was "村代码未填写" (or "找不到") — now the row is named for
    what it is, and the consolidation still stops (it would count as a village otherwise)."""
    from datetime import date

    from pipeline.workbook.registers import build_table_workbook

    (ctx.workspace.inbox / "r.xlsx").write_bytes(filled(ctx, 0))
    api.collect(ctx)
    p, v = ctx.programme, ctx.registry.villages
    raw = p.raw["assessment_register"]
    zeros = {f["id"]: 0 for f in raw["fields"]}
    rows = [{"village_code": x.code, "village_name": x.name, "year": 2026, "assessment_period": "第三考核季", **zeros} for x in v]
    cols = api.register_columns(p, "assessment_register")
    (ctx.workspace.root / raw["file"]).write_bytes(build_table_workbook(raw["sheet"], raw["sheet"], cols, rows, "", "镇"))
    raw = p.raw["adjustments"]
    adj = [{"village_code": v[1].code, "village_name": v[1].name, "date": date(2026, 5, 2), "item": "市级表彰", "count": 1},
           {"village_code": "", "village_name": "合  计", "date": None, "item": "", "count": "共3次"}]
    cols = api.register_columns(p, "adjustments")
    (ctx.workspace.root / raw["file"]).write_bytes(build_table_workbook(raw["sheet"], raw["sheet"], cols, adj, "", "镇"))
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, PERIOD)
    assert [(q.code, q.cell) for q in err.value.problems] == [("C012", "B5")]
    assert "合计行" in err.value.problems[0].message


def test_a_code_whose_registry_row_was_left_out_is_said_so(ctx):
    """A register row for a village whose 村名册 row has an error (left out of the registry) was "找不到", as if the
    code were wrong; it now points at the 村名册 row."""
    from dataclasses import replace

    from pipeline.validate.registers import _row_problems
    from pipeline.workbook.reader import ReadResult, RegisterRow

    registry = replace(ctx.registry, left_out=(("340121100777", "新庄村"),))
    row = RegisterRow(row=4, values={"village_code": "340121100777", "village_name": "新庄村"},
                      cells={"village_code": "A4", "village_name": "B4"}, raw={"village_code": "340121100777", "village_name": "新庄村"})
    res = ReadResult(file="加分扣分登记.xlsx", sheet="加分扣分登记", register=[row])
    problems, bad = _row_problems(res, api.register_columns(ctx.programme, "adjustments")[:2], registry)
    [p] = [p for p in problems if p.code == "C011"]
    assert "村名册中新庄村那一行有错" in p.message and bad == {0}


def test_a_label_heading_two_columns_stops_and_names_both(ctx):
    """Next year's tasks typed in new columns under the same labels (村名册), or a second block of entries set
    beside the first (加分扣分登记): the last column of each label was read, unsaid — every village's tasks
    became next year's, and the first block's deductions and bonuses dropped out (12 villages changed, exit 0)."""
    import openpyxl

    _collected(ctx)
    path = ctx.workspace.registry_path
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    head = next(c for row in ws.iter_rows() for c in row if c.value == ctx.programme.tasks[0].label)
    spare = ws.max_column + 2
    ws.cell(head.row, spare, head.value)
    wb.save(path)
    with pytest.raises(HuizongError) as err:  # a 村名册 not read: no command goes on with it
        api.load_context(ctx.workspace.root)
    (twice,) = [p for p in err.value.problems if p.code == "S011"]
    letter = openpyxl.utils.get_column_letter
    assert twice.is_error and f"{head.column_letter}{head.row}、{letter(spare)}{head.row}" in twice.message
    assert not [p for p in err.value.problems if p.code == "C003"]  # not also "没有任何村"
    ws.cell(head.row, spare, None)
    wb.save(path)

    path = ctx.workspace.root / ctx.programme.raw["adjustments"]["file"]
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    ws.cell(3, ws.max_column + 2, "次数")
    wb.save(path)
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, PERIOD)
    assert [p.label for p in err.value.problems if p.code == "S011"] == ["次数"]


def test_a_registry_saved_as_xls_beside_the_xlsx_is_not_left_unread(ctx):
    """村名册 re-saved by WPS as .xls (a task changed there): the stale .xlsx was read and the 通报 ignored the edit."""
    import os

    _collected(ctx)
    path = ctx.workspace.registry_path
    path.with_suffix(".xls").write_bytes(path.read_bytes())  # only its name and time are looked at
    os.utime(path, (1_700_000_000, 1_700_000_000))
    problems = api.load_context(ctx.workspace.root).registry_problems
    (newer,) = [p for p in problems if p.code == "C013"]
    assert newer.is_error and "村名册.xls 比 村名册.xlsx 新" in newer.message and "文件名 村名册.xlsx（覆盖）" in newer.message
    with pytest.raises(HuizongError) as err:
        api.consolidate(api.load_context(ctx.workspace.root), PERIOD)
    assert "C013" in [p.code for p in err.value.problems]


@pytest.mark.parametrize(("column", "typed", "said"), [
    ("task", -1, "不能小于 0，填写的是 -1"),
    ("name", "长" * 31, "文字过长（30 个字以内），填写了 31 个字"),
])
def test_a_registry_cell_out_of_bounds_is_said_in_chinese_at_its_cell(ctx, column, typed, said):
    """A task of −1 was reported at the row's 村代码 in the validator's English (“-1.0 is less than the minimum of 0”)."""
    import openpyxl

    path = ctx.workspace.registry_path
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    label = ctx.programme.tasks[0].label if column == "task" else "村（社区）名称"
    head = next(c for row in ws.iter_rows() for c in row if c.value == label)
    ws.cell(head.row + 1, head.column, typed)
    wb.save(path)
    problems = [p for p in api.load_context(ctx.workspace.root).registry_problems if p.code == "C003"]
    assert [p.cell for p in problems] == [f"{head.column_letter}{head.row + 1}"]
    assert said in problems[0].message and "minimum" not in problems[0].message and "too long" not in problems[0].message


def test_a_village_s_birth_register_with_a_label_twice_is_sent_back(ctx):
    """The same rule in a village's report: which 性别 column counts is not guessed (S011, the file sent back)."""
    import io

    import openpyxl

    from pipeline.check import check_bytes

    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    ws = wb[ctx.programme.register.sheet]
    head = next(c for row in ws.iter_rows(max_row=30) for c in row if c.value == "性别")
    ws.cell(head.row, ws.max_column + 1, "性别")
    buf = io.BytesIO()
    wb.save(buf)
    check = check_bytes(buf.getvalue(), "a.xlsx", ctx.programme, ctx.registry)
    assert check.status == "退回" and [p.sheet for p in check.problems if p.code == "S011"] == [ws.title]


def test_a_renamed_table_behind_an_instructions_sheet_is_found_by_its_header(ctx):
    """The sheet renamed 2026年 with a 填表说明 put in front: the first sheet was read (表头 not found), and the
    clerk was told to move every entry into the instructions sheet. The sheet with the header is the table."""
    import openpyxl

    _collected(ctx)
    path = ctx.workspace.root / ctx.programme.raw["adjustments"]["file"]
    wb = openpyxl.load_workbook(path)
    wb.worksheets[0].title = "2026年"
    wb.create_sheet("填表说明", 0)["A1"] = "每发生一次加分或扣分事项登记一行。"
    wb.save(path)
    result = api.consolidate(ctx, PERIOD)
    assert [(p.code, p.sheet) for p in result.register_problems if p.code.startswith("S")] == [("S002", "2026年")]
    assert not result.register_problems[0].is_error


def test_borders_drawn_far_below_a_register_are_not_rows(ctx):
    """Borders drawn down to row 30,000 under a 加分扣分登记 of a few rows: F011 "表格过大…请删除模板以外的多余行列后再发送"
    stopped the consolidation, though no cell down there holds anything (python-calamine reads none of them)."""
    import openpyxl
    from openpyxl.styles import Border, Side

    _collected(ctx)
    path = ctx.workspace.root / ctx.programme.raw["adjustments"]["file"]
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    line = Border(bottom=Side(style="thin"))
    for r in range(ws.max_row + 1, 30_001):
        ws.cell(r, 1).border = line
    wb.save(path)
    assert api.consolidate(ctx, PERIOD).path.is_file()
    ws.cell(30_000, 1, "340121104201")  # something typed down there is read, and the table is too long
    wb.save(path)
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, PERIOD)
    assert [p.code for p in err.value.problems] == ["F011"]


def test_a_table_open_in_a_spreadsheet_program_is_said_to_be(ctx):
    """A deduction just typed in the open 加分扣分登记, not yet saved, was silently missing from the 通报: the lock
    file beside it (Excel's ~$…, LibreOffice's .~lock.…#) now makes a warning saying to save first."""
    _collected(ctx)
    path = ctx.workspace.root / ctx.programme.raw["adjustments"]["file"]
    (path.parent / f"~${path.name}").write_bytes(b"\x00" * 165)
    result = api.consolidate(ctx, PERIOD)
    (open_,) = [p for p in result.register_problems if p.code == "C014"]
    assert not open_.is_error and path.name in open_.message and "保存" in open_.message
    registry = ctx.workspace.registry_path
    (registry.parent / f".~lock.{registry.name}#").write_text("clerk,PC,01.01.2026 09:00,", encoding="utf-8")
    assert "C014" in [p.code for p in api.load_context(ctx.workspace.root).registry_problems]


def test_a_programme_with_two_columns_of_one_label_is_refused_when_loaded(tmp_path):
    """It passed every programme check, and then huizong refused its own 镇考核登记 (S011) — and every village's
    report, where the birth register had the two columns. Columns are found by their labels: the programme is
    refused when loaded, naming the field."""
    from pathlib import Path

    from pipeline.programme.config import load_programme

    src = (Path(__file__).resolve().parent.parent / "templates" / "qianfen" / "programme.yaml").read_text(encoding="utf-8")
    assert "label: 虚报出生例数" in src
    (tmp_path / "programme.yaml").write_text(src.replace("label: 虚报出生例数", "label: 瞒报出生例数"), encoding="utf-8")
    with pytest.raises(HuizongError) as err:
        load_programme(tmp_path / "programme.yaml")
    (same,) = [p for p in err.value.problems if "同名的两列分不清" in p.message]
    assert same.code == "C002" and "瞒报出生例数" in same.message


def test_a_renamed_table_too_long_to_read_is_said_to_be(ctx):
    """Renamed and over the limits: the header was looked for in the first sheet (S005 in 填表说明), not F011."""
    import openpyxl

    _collected(ctx)
    ctx.workspace.settings.setdefault("limits", {})["max_rows"] = 30
    path = ctx.workspace.root / ctx.programme.raw["assessment_register"]["file"]
    wb = openpyxl.load_workbook(path)
    wb.worksheets[0].title = "2026年"
    wb.create_sheet("填表说明", 0)["A1"] = "每村每考核季填一行。"
    wb.save(path)
    with pytest.raises(HuizongError) as err:
        api.consolidate(ctx, PERIOD)
    assert ("F011", "2026年") in [(p.code, p.sheet) for p in err.value.problems]
    assert "S005" not in [p.code for p in err.value.problems]
