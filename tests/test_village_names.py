"""Names from villages are data: 村名册 refuses names that cannot be part of a file name (saying which row
and cell), every file name built from a name is safe and bounded, and nothing is ever written outside
the workspace — whatever a name holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import api
from pipeline.cli import app
from pipeline.filenames import MAX_NAME_BYTES, clean, file_name
from pipeline.registry import Registry, Village, registry_columns
from pipeline.workbook.registers import build_table_workbook

from .conftest import PERIOD

runner = CliRunner()


def write_registry(workspace: Path, programme, names: list[str], emails: bool = True) -> None:
    rows = []
    for i, name in enumerate(names):
        row = {"code": f"{i + 1:03d}", "name": name, "aliases": "", "population": 1000 + i,
               "emails": f"v{i}@village.test" if emails else ""}
        row.update({t.id: 10 for t in programme.tasks})
        rows.append(row)
    (workspace / "村名册.xlsx").write_bytes(
        build_table_workbook("村名册", "村名册", registry_columns(programme.tasks), rows, "", "示例镇人民政府", empty_rows=2))


def test_names_that_cannot_be_file_names_are_refused_at_their_row_and_cell(workspace, programme):
    write_registry(workspace, programme, ["张_湾村", "/../../越界村", "城南\\城北社区", "..隐藏村", "响\x07铃村", "青龙村"])
    ctx = api.load_context(workspace)
    assert [v.name for v in ctx.registry.villages] == ["张_湾村", "青龙村"]  # "_" is just a character
    refused = {p.value: p for p in ctx.registry_problems if p.code == "C003"}
    assert set(refused) == {"/../../越界村", "城南\\城北社区", "..隐藏村", "响\x07铃村"}
    slash = refused["/../../越界村"]
    assert (slash.sheet, slash.cell, slash.field) == ("村名册", "B5", "name")  # header on row 4, the second village on row 5
    assert slash.message == ("村名册中“村（社区）名称”不正确：第 5 行的“/../../越界村”含有斜杠（/ 或 \\）。"
                             "名称会用在文件名中，不能有斜杠，请改用其他写法（如“、”）")
    assert "以“.”开头" in refused["..隐藏村"].message and "第 7 行" in refused["..隐藏村"].message
    assert "控制字符" in refused["响\x07铃村"].message and "\\u0007" in refused["响\x07铃村"].message
    res = runner.invoke(app, ["status", "-w", str(workspace), "--period", "2026-10"], catch_exceptions=False)
    assert "村名册：工作表“村名册”，单元格 B5" in res.output and "C003" in res.output


@pytest.mark.parametrize("command", ["send-templates", "remind"])
def test_send_templates_and_remind_map_templates_by_code_not_by_name(workspace, programme, command):
    # both once split the template's file name on "_" to find the village: KeyError, even with --dry-run
    write_registry(workspace, programme, ["张_湾村", "李家_村_二组", "青龙村"])
    folder = workspace / "templates" / "2026-10"
    before = sorted(folder.rglob("*")) if folder.exists() else []
    res = runner.invoke(app, [command, "-w", str(workspace), "--period", "2026-10", "--dry-run"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    for i, name in enumerate(["张_湾村", "李家_村_二组", "青龙村"]):
        assert f"v{i}@village.test" in res.output and name in res.output
    assert (sorted(folder.rglob("*")) if folder.exists() else []) == before  # a dry run writes nothing


def test_a_name_with_a_path_in_it_never_writes_outside_the_workspace(workspace, programme, tmp_path):
    # Suppose such a name got past 村名册's check (an older workspace, a registry built by hand):
    # the template is still written inside templates/<period>/, under a cleaned name.
    ctx = api.load_context(workspace)
    hostile = [Village(code="901", name="/../../越界村"), Village(code="902", name="..\\..\\越界村"),
               Village(code="903", name="CON"), Village(code="904", name="x" * 400)]
    ctx = dataclasses.replace(ctx, registry=Registry(tuple(hostile)))
    before = {p for p in tmp_path.rglob("*")}
    written = api.village_templates(ctx, PERIOD)
    folder = (workspace / "templates" / "2026-10").resolve()
    assert set(written) == {"901", "902", "903", "904"}
    for path in written.values():
        assert path.parent == folder and path.is_file()
        assert len(path.name.encode("utf-8")) <= MAX_NAME_BYTES
    assert written["901"].name == "村月报-01__.._.._越界村_2026年10月.xlsx"
    assert written["903"].name == "村月报-01_CON_2026年10月.xlsx"
    new = {p for p in tmp_path.rglob("*")} - before
    assert all(folder in p.resolve().parents or p.resolve() == folder for p in new if p.is_file())
    assert not (tmp_path / "越界村").exists() and not list(tmp_path.parent.glob("*越界村*"))


@pytest.mark.parametrize("text, expected", [
    ("青龙村", "青龙村"), ("张_湾村", "张_湾村"), ("a/b\\c", "a_b_c"), ("..\\..\\x", "_.._x"), (".hidden", "hidden"),
    ("名字.", "名字"), ("CON", "_CON"), ("com1.txt", "_com1.txt"), ("a:b*c?d\"e<f>g|h", "a_b_c_d_e_f_g_h"), ("响\x07铃", "响_铃"),
])
def test_clean(text, expected):
    assert clean(text) == expected


def test_file_names_are_bounded_in_bytes_and_keep_what_makes_them_unique():
    long = "关于报送青龙村二〇二六年十月份计划生育目标管理责任制考核月度报表" * 10
    name = file_name("白石村", long, keep=("0123abcd", "校验结果"), suffix=".xlsx")
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert name.startswith("白石村_关于报送") and name.endswith("…_0123abcd_校验结果.xlsx")
    assert file_name("", "", suffix=".xlsx") == "未命名.xlsx"
    assert file_name("a", suffix=".xlsx") == "a.xlsx"


def test_a_name_keeps_its_chinese_parentheses_and_still_matches_one_typed_with_ascii_ones(workspace, programme):
    """NFKC turned 张庄（二组） into 张庄(二组) in the 通报 (and noted a "full-width space" removed); the name is
    shown as the 村名册 has it, and a report or register that types the ASCII parentheses still finds it."""
    write_registry(workspace, programme, ["张庄（二组）", "青龙村", "白石村"])
    ctx = api.load_context(workspace)
    assert [v.name for v in ctx.registry.villages][0] == "张庄（二组）"
    assert not [p for p in ctx.registry_problems if p.code == "V010"]
    assert ctx.registry.by_name("张庄(二组)").code == "001"
