"""The 名次变化 of a 通报 is against the last 通报 made of the month before — the one the leaders hold."""

from __future__ import annotations

from datetime import date

from pipeline import api
from pipeline.programme.periods import Month

from .conftest import PERIOD, filled
from .test_register_rows import MADE, _adjustment, _write


def test_the_rank_change_is_against_the_notice_the_leaders_were_given(ctx):
    """September's 通报 ranked a village first; a deduction dated in September but entered in October moves it
    down in September scored again. October's 名次变化 compared with that recomputed September: the leaders,
    holding the September 通报 that said first, read a change that never happened. It is now against the last
    通报 made of the month (and against the month scored again only where none was made)."""
    sept = Month(2026, 9)
    for m in (sept, PERIOD):
        for i in range(5):
            (ctx.workspace.inbox / f"{m}-{i}.xlsx").write_bytes(filled(ctx, i, m))
        api.collect(ctx)
    _write(ctx, "adjustments", [])
    made = api.consolidate(ctx, sept, now=MADE).scored
    published = dict(zip(made.codes, made.rank.tolist()))
    first = next(c for c, r in published.items() if r == 1)
    i = next(k for k, x in enumerate(ctx.registry.villages) if x.code == first)
    _write(ctx, "adjustments", [_adjustment(ctx, i, date(2026, 9, 20), "上级检查不达标")])
    again = api.scorer(ctx).score(sept)
    assert again is not None and dict(zip(again.codes, again.rank.tolist()))[first] > 1  # September scored again today
    october = api.consolidate(ctx, PERIOD, now=MADE).scored
    assert dict(zip(october.codes, october.previous_rank.tolist())) == published
    # without a September 通报 made, the change is against September scored again, as before
    unmade = api.scorer(ctx)
    unmade.published = lambda month: None
    fresh = unmade.score(PERIOD)
    assert fresh is not None and dict(zip(fresh.codes, fresh.previous_rank.tolist())) == dict(zip(again.codes, again.rank.tolist()))
