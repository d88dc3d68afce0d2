"""Programme, settings and registry are configuration: validated, with messages naming file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipeline import api
from pipeline.problems import HuizongError
from pipeline.programme.config import load_programme
from pipeline.programme.periods import Month
from pipeline.registry import registry_columns
from pipeline.resources import shipped_programmes
from pipeline.workbook.registers import build_table_workbook


def test_programme_a_loads_with_its_1000_points(programme):
    assert len(programme.fields) == 27
    assert sum(item["max"] for item in programme.raw["scoring"]["items"]) == 1000
    assert [a.weight for a in programme.assessment_periods] == [0.4, 0.3, 0.3]
    assert programme.register.columns[5].personal


def _copy_programme(tmp_path: Path) -> tuple[Path, dict]:
    src = shipped_programmes()["qianfen"]
    dst = tmp_path / "programme.yaml"
    shutil.copy(src, dst)
    return dst, yaml.safe_load(dst.read_text(encoding="utf-8"))


def _problems(path: Path):
    with pytest.raises(HuizongError) as info:
        load_programme(path)
    return info.value.problems


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path, _ = _copy_programme(tmp_path)
    text = path.read_text(encoding="utf-8").replace("id: qianfen", "id: [qianfen", 1)
    path.write_text(text, encoding="utf-8")
    (p,) = _problems(path)
    assert p.code == "C001" and p.file == str(path) and "行" in p.message


def test_schema_errors_name_every_key_at_once(tmp_path):
    path, data = _copy_programme(tmp_path)
    data["report"]["sections"][0]["fields"][1]["type"] = "integr"
    data["report"]["sections"][2]["fields"][0]["min"] = "零"
    data["periods"]["assessment"][0]["months"] = [0]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    problems = _problems(path)
    keys = {p.field for p in problems}
    assert "report.sections[0].fields[1].type" in keys
    assert "report.sections[2].fields[0].min" in keys
    assert "periods.assessment[0].months[0]" in keys
    assert all(p.code == "C002" and p.file == str(path) for p in problems)
    assert any("integr" in p.message for p in problems)


def test_semantic_errors_rules_ids_and_weights(tmp_path):
    path, data = _copy_programme(tmp_path)
    data["rules"].append({"type": "lte", "field": "births_total", "other": "no_such_field"})
    data["report"]["sections"][1]["fields"][0]["id"] = "births_total"  # duplicate id
    data["periods"]["assessment"][2]["weight"] = 0.5
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    messages = " | ".join(p.message for p in _problems(path))
    assert "no_such_field" in messages
    assert "重复" in messages
    assert "之和应为 1" in messages


def test_broken_settings_file_is_reported_by_key(workspace):
    settings = workspace / "huizong.yaml"
    settings.write_text("township: 示例镇\norgan: 示例镇人民政府\nprogramme: qianfen\ndeadline_day: 40\ncolour: red\n", encoding="utf-8")
    with pytest.raises(HuizongError) as info:
        api.load_context(workspace)
    fields = {p.field for p in info.value.problems}
    assert "deadline_day" in fields and "（根）" in fields


def test_not_a_workspace_and_refuse_to_overwrite(tmp_path, workspace):
    with pytest.raises(HuizongError) as info:
        api.load_context(tmp_path)
    assert info.value.problems[0].code == "X001"
    with pytest.raises(HuizongError) as info:
        api.init_workspace(workspace)
    assert info.value.problems[0].code == "X002"
    (workspace / "村名册.xlsx").write_bytes(b"edited by the clerk")
    api.init_workspace(workspace, force=True)
    backups = list((workspace / ".huizong" / "backup").rglob("村名册.xlsx"))
    assert backups and backups[0].read_bytes() == b"edited by the clerk"  # nothing lost
    (workspace / "村名册.xlsx").write_bytes(b"edited again")
    api.init_workspace(workspace, force=True)  # within the same second, as often as not: both backups are kept
    kept = sorted(p.read_bytes() for p in (workspace / ".huizong" / "backup").rglob("村名册.xlsx"))
    assert kept == [b"edited again", b"edited by the clerk"]


def _write_registry(workspace: Path, programme, rows: list[dict]) -> None:
    cols = registry_columns(programme.tasks)
    (workspace / "村名册.xlsx").write_bytes(build_table_workbook("村名册", "村名册", cols, rows, "", "示例镇人民政府", empty_rows=5))


def _row(code, name, **kw):
    row = {"code": code, "name": name, "population": 1000, "task_birth_reg": 9, "task_prepreg": 6, "task_child_health": 60, "task_elderly": 100}
    row.update(kw)
    return row


def test_registry_problems_are_located_and_bad_rows_left_out(workspace, programme):
    _write_registry(workspace, programme, [
        _row("340121104201", "青龙村", aliases="青龙"),
        _row("340121104201", "白石村"),  # duplicate code
        _row("340121104203", "龙泉村", aliases="青龙"),  # alias of another village
        _row("340121104204", "桃园村", population="约900"),
        _row("340121104205", "大岗村", emails="dagang#163.com"),
        _row("340121104206", "王岗村", task_elderly=None),
        _row("340121104207", "新河村", aliases="新河、新河村委会", emails="xinhe@163.com; XINHE2@qq.com"),
    ])
    ctx = api.load_context(workspace)
    by_code = {}
    for p in ctx.registry_problems:
        by_code.setdefault(p.code, []).append(p)
    assert by_code["C004"][0].cell == "A5" and "第 4 行和第 5 行" in by_code["C004"][0].message
    assert by_code["C005"][0].value == "青龙"
    assert any(p.cell == "E7" for p in by_code["V007"])  # 约900
    assert any(p.field == "emails" for p in by_code["C015"])  # a mistyped address: the village stays, without it
    assert any(p.field == "task_elderly" for p in by_code["C003"])
    names = [v.name for v in ctx.registry.villages]
    assert names == ["青龙村", "大岗村", "新河村"]
    xinhe = ctx.registry.villages[2]
    assert xinhe.emails == ("xinhe@163.com", "xinhe2@qq.com")
    assert ctx.registry.by_name("新河村委会") is xinhe
    assert ctx.registry.by_name("　新河\u200b") is xinhe
    assert ctx.registry.by_email("XinHe@163.com") is xinhe


def test_a_report_open_in_excel_is_a_clear_message_and_nothing_is_left_behind(tmp_path, monkeypatch):
    # Windows refuses to replace a file Excel holds open; Linux does not, so the refusal is
    # simulated at the one call that meets it (os.replace) — the boundary we cannot run here.
    from pipeline.workspace import atomic_write

    target = tmp_path / "reports" / "2026-10-汇总排名.xlsx"
    atomic_write(target, b"old")

    def refuse(src, dst):
        raise PermissionError(13, "The process cannot access the file because it is being used by another process")

    monkeypatch.setattr("pipeline.workspace.os.replace", refuse)
    with pytest.raises(HuizongError) as info:
        atomic_write(target, b"new")
    (p,) = info.value.problems
    assert p.code == "X004" and "2026-10-汇总排名.xlsx" in p.message and "关闭" in p.message
    assert target.read_bytes() == b"old"
    assert [x.name for x in target.parent.iterdir()] == [target.name]  # no temp file left


def test_settings_errors_are_said_in_chinese(tmp_path):
    """jsonschema's English leaked into the message: 有不认识的配置项（Additional properties are not allowed
    ('foo' was unexpected)）, 应为 integer."""
    from pipeline.programme.config import schema_problems

    problems = schema_problems({"limits": {"max_file_mb": "20"}, "foo": 1}, "settings", "huizong.yaml")
    messages = " | ".join(p.message for p in problems)
    assert "foo" in messages and "可能拼错了" in messages and "Additional properties" not in messages
    assert "应为数字（不加引号）" in messages or "应为整数（不加引号）" in messages
    assert not any(word in messages for word in ("integer", "number", "unexpected"))


def test_a_mistyped_key_of_a_scoring_item_is_refused(tmp_path):
    """`vetoo: true` (or `explian:`) loaded without a word: the item read 计 0 分 where the township meant 一票否决."""
    path, data = _copy_programme(tmp_path)
    data["scoring"]["items"][2]["vetoo"] = True
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (problem,) = _problems(path)
    assert problem.code == "C002" and problem.field == "scoring.items[2]" and "vetoo" in problem.message and "veto" in problem.message


@pytest.mark.parametrize("cell", ["张三<baishi@qq.com>", "baishi@qq.com（村主任）", "baishi@qq.com。", "mailto:baishi@qq.com",
                                  "baishi@qq。com"])
def test_a_registry_address_with_words_around_it_is_read_as_the_address(tmp_path, cell):
    """These passed the registry check as the address itself; sending the template then failed with an
    English UnicodeEncodeError (M017) and the village's own mail was 待确认."""
    from pipeline.validate.registry import _addresses

    assert _addresses(cell)[:2] == (["baishi@qq.com"], [])
    api.init_workspace(tmp_path / "ws")
    import openpyxl

    path = tmp_path / "ws" / "村名册.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    head = next(c for row in ws.iter_rows() for c in row if c.value == "上报邮箱")
    ws.cell(row=head.row + 2, column=head.column).value = cell
    wb.save(path)
    ctx = api.load_context(tmp_path / "ws")
    assert ctx.registry.villages[1].emails == ("baishi@qq.com",)
    assert not any(p.is_error for p in ctx.registry_problems)
    assert any(p.code == "V010" and "按 baishi@qq.com 读取" in p.message for p in ctx.registry_problems)


@pytest.mark.parametrize("cell, kept", [("xiangyang", True), ("无", False), ("baishi@qq", True)])
def test_a_registry_address_cell_without_any_address_keeps_the_village(tmp_path, cell, kept):
    """An address mistyped beyond reading (or 无) left the whole row out: the village vanished from status, the
    templates and the 通报, and its signed reports became 待确认 — for one typo in its address. Now only the
    address is not used: said at its cell (C015), or not at all for 无."""
    import openpyxl

    api.init_workspace(tmp_path / "ws")
    path = tmp_path / "ws" / "村名册.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    head = next(c for row in ws.iter_rows() for c in row if c.value == "上报邮箱")
    ws.cell(row=head.row + 2, column=head.column).value = cell
    wb.save(path)
    ctx = api.load_context(tmp_path / "ws")
    village = ctx.registry.villages[1]
    assert len(ctx.registry.villages) == 19 and village.emails == ()
    assert not any(p.is_error for p in ctx.registry_problems)
    said = [p for p in ctx.registry_problems if p.code == "C015"]
    assert bool(said) == kept
    if kept:
        assert said[0].cell == f"{openpyxl.utils.get_column_letter(head.column)}{head.row + 2}" and village.name in said[0].message
    assert len(api.make_templates(ctx, Month(2026, 10))) == 19


@pytest.mark.parametrize("typed, said", [("deadline_day：5", "第 {n} 行有中文冒号"), ("\tdeadline_day: 5", "第 {n} 行有制表符"),
                                          ("\u3000\u3000deadline_day: 5", "前面有全角空格")])
def test_a_settings_typo_is_named_in_chinese_on_its_own_line(tmp_path, typed, said):
    """PyYAML said "could not find expected ':'" — in English, and on the line after the Chinese colon."""
    api.init_workspace(tmp_path / "ws")
    settings = tmp_path / "ws" / "huizong.yaml"
    lines = settings.read_text(encoding="utf-8").splitlines()
    n = next(i for i, line in enumerate(lines, 1) if line.startswith("deadline_day"))
    lines[n - 1] = typed
    settings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(HuizongError) as err:
        api.load_context(tmp_path / "ws")
    (p,) = err.value.problems
    assert p.code in ("C001", "C002") and said.format(n=n) in p.message and "could not" not in p.message
