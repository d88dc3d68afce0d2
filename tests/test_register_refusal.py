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
