"""`huizong programme check`: every fault of a township's programme named before any data exists,
and a simulated year that shows how the scores spread (issue: authoring without code)."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from pipeline import api
from pipeline.cli import app
from pipeline.problems import HuizongError
from pipeline.programme.config import load_programme

RIVER = {
    "id": "river-patrol", "name": "河长巡河考核", "version": "1", "unit_label": "村",
    "report": {"form_no": "巡河月报-01", "title": "村级河长巡河月报表", "sheet": "月报", "sections": [{"title": "一、巡河", "fields": [
        {"id": "patrols_due", "label": "应巡河次数", "type": "integer", "min": 0, "unit": "次"},
        {"id": "patrols_done", "label": "实际巡河次数", "type": "integer", "min": 0, "unit": "次"},
        {"id": "remark", "label": "备注", "type": "text", "required": False},
    ]}]},
    "rules": [{"type": "lte", "field": "patrols_done", "other": "patrols_due"}],
    "periods": {"year_start_month": 1, "assessment": [{"name": "上半年", "months": [1, 2, 3, 4, 5, 6], "weight": 0.5},
                                                     {"name": "下半年", "months": [7, 8, 9, 10, 11, 12], "weight": 0.5}]},
    "tasks": [{"id": "task_patrols", "label": "巡河年度任务"}],
    "scoring": {"items": [
        {"code": "R1", "name": "巡河完成率", "max": 80, "target": "task_patrols", "base": "IF(t=0,80,80*MIN(1,patrols_done/t))"},
        {"code": "R2", "name": "按时巡河", "max": 20, "base": "IF(patrols_due=0,20,20*patrols_done/patrols_due)"},
    ]},
}


def write(tmp_path, change=None) -> str:
    raw = json.loads(json.dumps(RIVER))
    if change:
        change(raw)
    path = tmp_path / "programme.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return str(path)


def faults(tmp_path, change) -> list[str]:
    _, problems, _ = api.check_programme(write(tmp_path, change), simulate_year=False)
    return [p.message for p in problems]


def item(raw, code):
    return next(i for i in raw["scoring"]["items"] if i["code"] == code)


def test_a_sound_programme_passes_and_is_simulated(tmp_path):
    _, problems, sim = api.check_programme(write(tmp_path), year=2026)
    assert problems == [] and sim is not None
    assert [i.code for i in sim.items] == ["R1", "R2"] and sim.villages == 19
    r1 = sim.items[0]
    assert 0 <= r1.low <= r1.median <= r1.high <= 80 and 0 <= r1.at_max <= 1


def test_a_text_field_in_a_formula(tmp_path):
    [m] = faults(tmp_path, lambda r: item(r, "R2").update(base="IF(remark=0,20,0)"))
    assert "“remark”（备注）是文字字段，不能参与计算" in m


def test_targets_without_weights(tmp_path):
    def drop(raw):
        for a in raw["periods"]["assessment"]:
            a.pop("weight")
    [m] = faults(tmp_path, drop)
    assert "没有写 weight" in m and "所有村都得满分" in m


def test_full_width_punctuation_with_the_corrected_formula(tmp_path):
    [m] = faults(tmp_path, lambda r: item(r, "R2").update(base="IF(patrols_due=0，20，20*patrols_done/patrols_due)"))
    assert "全角" in m and "可改为：IF(patrols_due=0,20,20*patrols_done/patrols_due)" in m


@pytest.mark.parametrize("formula, words", [
    ("IF(patrols_due=0,20,20*(patrols_done/patrols_due)", "右括号"),
    ("COUNTIF(patrols_done,1)", "不支持的函数 COUNTIF"),
    ("20*patrol_done/patrols_due", "未定义的名称 patrol_done"),
])
def test_formula_typos(tmp_path, formula, words):
    [m] = faults(tmp_path, lambda r: item(r, "R2").update(base=formula))
    assert words in m and "scoring.items[1]（R2 按时巡河）.base" in m  # located: which item, which formula


def test_a_field_may_not_take_a_reserved_name(tmp_path):
    def rename(raw):
        raw["report"]["sections"][0]["fields"][0]["id"] = "population"
        raw["rules"][0]["other"] = "population"
        item(raw, "R2").update(base="IF(population=0,20,20*patrols_done/population)")
    messages = faults(tmp_path, rename)
    assert any("保留名称（户籍人口）" in m for m in messages)


def test_a_bonus_without_a_cap(tmp_path):
    [m] = faults(tmp_path, lambda r: item(r, "R1").update(bonus="5*MAX(0,patrols_done-t)"))
    assert "bonus_max" in m


def test_all_faults_at_once_and_init_refuses_with_the_same(tmp_path):
    def many(raw):
        item(raw, "R1").update(base="IF(t=0，80，80)")
        item(raw, "R2").update(base="COUNTIF(a)")
    path = write(tmp_path, many)
    _, problems, _ = api.check_programme(path, simulate_year=False)
    assert len(problems) == 2
    with pytest.raises(HuizongError) as err:
        api.init_workspace(tmp_path / "ws", programme=path)
    assert [p.message for p in err.value.problems] == [p.message for p in problems]


def test_the_command_prints_the_distribution_and_exits_2_on_faults(tmp_path):
    res = CliRunner().invoke(app, ["programme", "check", "qianfen", "--year", "2026"])
    assert res.exit_code == 0, res.output
    assert "检查通过" in res.output and "C6.1" in res.output and "加分占总分" in res.output
    bad = write(tmp_path, lambda r: item(r, "R2").update(base="IF(remark=0,20,0)"))
    res = CliRunner().invoke(app, ["programme", "check", bad])
    assert res.exit_code == 2 and "文字字段" in res.output
    res = CliRunner().invoke(app, ["programme", "check", bad, "--json"])
    assert res.exit_code == 2 and json.loads(res.stdout)["ok"] is False


@pytest.mark.parametrize("pid", ["qianfen", "monthly-b", "fruitfly-c"])
def test_the_built_in_programmes_pass(pid):
    assert api.check_programme(pid, simulate_year=False)[1] == []
    assert load_programme(pid)


def test_init_with_a_townships_own_programme_writes_an_empty_registry(tmp_path):
    ws = api.init_workspace(tmp_path / "ws", programme=write(tmp_path))
    with pytest.raises(HuizongError) as err:
        api.load_context(ws.root)
    assert "没有任何村" in err.value.problems[0].message
    import openpyxl

    header = [c.value for c in next(openpyxl.load_workbook(ws.registry_path)["村名册"].iter_rows(min_row=3, max_row=3))]
    assert "巡河年度任务" in header and "起始月份" in header
    res = CliRunner().invoke(app, ["init", "--help"])
    assert "qianfen" in res.output and "monthly-b" in res.output and "fruitfly-c" in res.output
