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
    assert [(p.code, p.sheet) for p in err.value.problems] == [("F011", "镇考核登记"), ("F011", "加分扣分登记")]
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
    assert ("I001", "加分扣分登记", "A4") in found  # unknown village
    assert ("V013", "加分扣分登记", "D5") in found  # unknown item
    assert ("V001", "加分扣分登记", "E6") in found  # empty 次数
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
