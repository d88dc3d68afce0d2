"""What the 通报 says when a clerk mistypes: bounded bonuses, ties that stay ties, no judgement the
programme does not make (spec sections marked 2026-11-27)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.programme.config import load_programme
from pipeline.programme.periods import Month
from pipeline.registry import Registry
from pipeline.score.scorer import Scorer

from .test_scoring import FULL, Q3, entry, row, score, value, village


def test_a_bonus_never_exceeds_its_cap_whatever_is_typed(programme):
    # 1,210 check-ups typed for 121 against a cumulative task of 200: the bonus stops at its cap of 36
    rows = [row("A", "2026-10", child_health_managed=1210, special_family_visits=40, newborn_visits=90, slogans=5000,
                big_campaigns=300, prepreg_checks=5000, birth_registrations=5000, elderly_checks=5000,
                support_cases_due=10, support_cases_paid=10)]
    s = score(programme, [village("A")], rows, [entry("A", Q3, **FULL)])
    caps = {"C3.2": 15, "C4": 24, "C5.5": 10, "C5.7": 4, "C6.1": 36, "C6.2": 8, "C7.1": 8}
    for code, cap in caps.items():
        assert value(s, "A", code, "bonus") == pytest.approx(cap), code
    assert s.bonus_attainable == pytest.approx(120)  # the spec's 120 points in all (C3.1: 5 per 考核季 begun)
    assert float(s.bonus_total[0]) <= 120
    assert float(s.total[0]) <= s.attainable + s.bonus_attainable


def test_every_bonus_in_a_programme_needs_a_cap(tmp_path):
    from pipeline.problems import HuizongError
    from pipeline.score.plan import build_plan

    src = load_programme("qianfen")
    import yaml

    raw = yaml.safe_load(open(src.source, encoding="utf-8"))
    for item in raw["scoring"]["items"]:
        item.pop("bonus_max", None)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    p = load_programme(path)
    with pytest.raises(HuizongError) as err:
        build_plan(p, {f["id"] for f in p.raw["assessment_register"]["fields"]})
    named = {x.field for x in err.value.problems}
    assert any("C6.1" in f and f.endswith("bonus_max") for f in named)
    assert all("bonus_max" in x.message for x in err.value.problems)


def test_equal_totals_from_different_inputs_share_a_rank(programme):
    # 120×2/7 + 20×4/7 and 120×1/3 + 20×2/7 are both 320/7, but summed in floating point they differ in the last bit
    rows = [row("A", "2026-10", births_total=7, births_reported=2, deaths_total=7, deaths_reported_timely=4),
            row("B", "2026-10", births_total=3, births_reported=1, deaths_total=7, deaths_reported_timely=2),
            row("C", "2026-10")]
    s = score(programme, [village("A"), village("B"), village("C")], rows)
    ka, kb = s.codes.index("A"), s.codes.index("B")
    assert s.total[ka] != s.total[kb] and abs(s.total[ka] - s.total[kb]) < 1e-9  # the trap is real
    assert s.rank[ka] == s.rank[kb] == 2
    assert s.rank[s.codes.index("C")] == 1


def test_programme_a_publishes_no_praise_or_criticism(programme):
    rows = [row(c, "2026-10", births_total=n, births_reported=0) for c, n in zip("ABCDEFG", range(7))]
    s = score(programme, [village(c) for c in "ABCDEFG"], rows)
    assert set(s.verdicts) == {""}


def test_vetoed_villages_are_in_the_json_with_their_state():
    from pipeline.score.report import scored_table

    p = load_programme("monthly-b")
    villages = [village(c) for c in "ABCD"]
    rows = [row(c, "2026-05", pregnancies_new=2, early_registered=2, postpartum_due=1, postpartum_done=1, births_total=1, births_reported=1)
            for c in "ABCD"]
    entries = [entry("B", "2026-05", severe_cases=1)]
    entries = [e.__class__(e.village_code, 2026, "2026-05", e.values, 4) for e in entries]
    s = Scorer(p, Registry(tuple(villages)), rows, entries, []).score(Month(2026, 5))
    table = scored_table(s, [])
    assert [v["code"] for v in table["villages"]] == ["A", "C", "D"]
    vetoed = [x for x in table["not_scored"] if x["state"] == "一票否决"]
    assert [x["code"] for x in vetoed] == ["B"] and vetoed[0]["flags"]


def test_township_totals_sum_flows_over_months_and_take_the_latest_stock(programme):
    from pipeline.score.township import field_total

    rows = [row(c, m, slogans=s, births_total=b) for c, m, s, b in (
        ("A", "2026-08", 10, 1), ("A", "2026-09", 12, 2), ("A", "2026-10", 11, 3),
        ("B", "2026-08", 20, 4), ("B", "2026-09", 21, 0),  # B has not reported October (yet): its latest is September's
        ("C", "2026-10", 9, 5))]
    s = score(programme, [village("A"), village("B"), village("C")], rows)
    d = s.data
    assert field_total(d, "slogans", d.months) == 11 + 21 + 9  # a stock: each village's latest, summed
    assert field_total(d, "births_total", d.months) == 1 + 2 + 3 + 4 + 0 + 5  # a flow: every month of every village
    assert field_total(d, "slogans", [Month(2026, 10)]) == 11 + 9
    assert field_total(d, "births_total", [Month(2026, 10)]) == 3 + 5


def test_a_rate_field_is_never_added_up(tmp_path):
    import yaml

    from pipeline.score.township import field_total

    raw = yaml.safe_load(open(load_programme("fruitfly-c").source, encoding="utf-8"))
    raw["report"]["sections"][0]["fields"].append({"id": "coverage", "label": "防控覆盖率", "type": "percent", "min": 0, "max": 100})
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    p = load_programme(path)
    assert p.field("coverage").stock  # a rate is a state: the latest month counts for a village, never a sum
    rows = [row(c, m, fruits_checked=100, fruits_infested=0, coverage=80.0) for c in "AB" for m in ("2026-06", "2026-07")]
    s = Scorer(p, Registry((village("A"), village("B"))), rows, [], []).score(Month(2026, 7))
    assert float(s.data.ytd["coverage"][0]) == 80.0
    assert np.isnan(field_total(s.data, "coverage", s.data.months))
