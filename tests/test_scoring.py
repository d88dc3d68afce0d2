"""Programme A, item by item, against hand-computed golden values (spec: programme-qianfen.md).

Records are built directly as the ledger stores them, so every number here is chosen by hand.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from pipeline.programme.calendar import cumulative_weight, months_elapsed, periods_so_far
from pipeline.programme.periods import Month
from pipeline.registry import Registry, Village
from pipeline.score.scorer import Scorer, competition_ranks
from pipeline.validate.registers import Adjustment, AssessmentEntry

TASKS = {"task_birth_reg": 100.0, "task_prepreg": 50.0, "task_child_health": 200.0, "task_elderly": 300.0}


def village(code: str, population: int = 2000, **tasks: float) -> Village:
    return Village(code, f"村{code}", (), (), population, {**TASKS, **tasks})


def row(code: str, month: str, register: list[dict] | None = None, **fields: float) -> dict:
    return {"village_code": code, "period": month, "version": 1, "record_json": json.dumps({"fields": fields, "register": register or []}),
            "received_at": f"{month}-28T10:00:00+08:00", "sender": None, "source": "folder", "n_warnings": 0, "id": 0}


def entry(code: str, period_name: str, **values: float) -> AssessmentEntry:
    return AssessmentEntry(code, 2026, period_name, values, 4)


Q1, Q2, Q3 = "第一考核季", "第二考核季", "第三考核季"
FULL = {"committee_items": 4, "support_plan_done": 1, "association_score": 20}


def score(programme, villages, rows, entries=(), adjustments=(), period="2026-10"):
    sc = Scorer(programme, Registry(tuple(villages)), list(rows), list(entries), list(adjustments))
    return sc.score(Month.parse(period))


def value(scored, code, item, role="base"):
    k = scored.codes.index(code)
    return float(scored.env[f"{item}:{role}"][k])


def test_calendar_4_3_3_and_assessment_periods(programme):
    assert [cumulative_weight(programme, Month(2026, m)) for m in (1, 4, 5, 8, 9, 12)] == pytest.approx([0.4, 0.4, 0.7, 0.7, 1.0, 1.0])
    assert months_elapsed(programme, Month(2026, 10)) == 10
    ps = periods_so_far(programme, Month(2026, 10))
    assert [(p.name, len(p.months), p.ended) for p in ps] == [(Q1, 4, True), (Q2, 4, True), (Q3, 2, False)]
    assert [p.ended for p in periods_so_far(programme, Month(2026, 4))] == [True]


def test_all_zero_reports_give_the_spec_full_marks_where_nothing_was_due(programme):
    rows = [row("A", "2026-10", board_updates=10, slogans=10)]
    s = score(programme, [village("A", **dict.fromkeys(TASKS, 0.0))], rows, [entry("A", Q3, **FULL)])
    # every denominator 0 → full marks; C5.6 needs 10 board updates by October; C5.7 10 slogans
    for item, full in {"C1.1": 8, "C1.2": 12, "C2.1": 60, "C2.2": 120, "C3.2": 75, "C4": 120, "C5.1": 20, "C5.2": 10, "C5.3": 10,
                       "C5.4": 20, "C5.5": 10, "C5.6": 10, "C5.7": 10, "C6.1": 180, "C6.2": 40, "C7.1": 40, "C7.2": 140, "C7.3": 20, "C8": 20}.items():
        assert value(s, "A", item) == pytest.approx(full), item
    assert value(s, "A", "C3.1") == pytest.approx(75)  # three 考核季 begun by October, 25 each
    assert s.total[0] == pytest.approx(1000)
    assert s.attainable == 1000


@pytest.mark.parametrize(
    ("info_errors", "fabricated", "concealed", "expected"),
    [(6, 0, 0, 60), (8, 0, 0, 30), (10, 0, 0, 0), (12, 0, 0, 0), (8, 1, 0, 0), (0, 1, 0, 30), (0, 0, 1, 0)],
)
def test_c21_population_information_band_deduction_and_veto(programme, info_errors, fabricated, concealed, expected):
    # population 2000: 6 errors = 3‰ (full), 8 = 4‰ (half), 10 = 5‰ (zero); births concealed vetoes to 0
    e = entry("A", Q1, info_errors=info_errors, fabricated_records=fabricated, births_concealed=concealed)
    s = score(programme, [village("A", 2000)], [row("A", "2026-10")], [e])
    assert value(s, "A", "C2.1") == pytest.approx(expected)


def test_c22_birth_reporting_with_deductions(programme):
    reg = [{"sex": "男", "report_status": "按时上报"}] * 4
    rows = [row("A", "2026-09", births_total=4, births_reported=3, births_reported_late=1, register=reg), row("A", "2026-10")]
    s = score(programme, [village("A")], rows, [entry("A", Q3, births_missed=1, births_misreported=1)])
    assert value(s, "A", "C2.2") == pytest.approx(120 * 3 / 4 - 1 - 2 - 2)


def test_c31_is_scored_per_assessment_period_and_added(programme):
    rows = [
        row("A", "2026-02", prenatal_due=6, prenatal_done=4),
        row("A", "2026-03", prenatal_due=4, prenatal_done=2),  # Q1: 6/10 = 60 % → 25 − 10 = 15
        # Q2: nothing due → 25
        row("A", "2026-09", prenatal_due=2, prenatal_done=2),
        row("A", "2026-10", prenatal_due=2, prenatal_done=2),  # Q3: 100 % → 25, bonus 5 × 30 = 150
    ]
    s = score(programme, [village("A")], rows)
    assert value(s, "A", "C3.1@0") == pytest.approx(15)
    assert value(s, "A", "C3.1@1") == pytest.approx(25)
    assert value(s, "A", "C3.1@2") == pytest.approx(25)
    assert value(s, "A", "C3.1") == pytest.approx(65)
    assert value(s, "A", "C3.1", "bonus") == pytest.approx(5)  # 5 × 30 = 150, capped at 5 a 考核季 (spec, 2026-11-27)
    # in April only the first 考核季 has begun: it alone counts, and so does the attainable maximum
    april = score(programme, [village("A")], rows[:2] + [row("A", "2026-04")], period="2026-04")
    assert value(april, "A", "C3.1") == pytest.approx(15)
    assert april.attainable == pytest.approx(1000 - 50)


def test_c31_below_threshold_deducts_one_point_per_point(programme):
    rows = [row("A", "2026-01", prenatal_due=100, prenatal_done=68), row("A", "2026-02")]
    s = score(programme, [village("A")], rows, period="2026-02")
    assert value(s, "A", "C3.1") == pytest.approx(23)  # 68 % : 25 − 2 = 23
    assert value(s, "A", "C3.1", "bonus") == pytest.approx(0)


@pytest.mark.parametrize(("period", "regs", "base", "bonus"), [
    ("2026-04", 20, 75 * 20 / 40, 0),   # t = 100 × 0.4
    ("2026-06", 77, 75, 2 * 7),         # t = 100 × 0.7 = 70
    ("2026-10", 80, 75 * 0.8, 0),       # t = 100
])
def test_c32_targets_released_4_3_3(programme, period, regs, base, bonus):
    rows = [row("A", "2026-01", birth_registrations=regs), row("A", period)]
    s = score(programme, [village("A")], rows, period=period)
    assert value(s, "A", "C3.2") == pytest.approx(base)
    assert value(s, "A", "C3.2", "bonus") == pytest.approx(bonus)


def test_c4_ratio_bonus_and_followup_deduction(programme):
    rows = [row("A", "2026-10", prepreg_checks=54, followups_due=5, followups_done=3)]
    s = score(programme, [village("A")], rows)
    assert value(s, "A", "C4") == pytest.approx(120 - 4)
    assert value(s, "A", "C4", "bonus") == pytest.approx(5 * 4)  # under its cap of 24


def test_information_and_publicity_items(programme):
    rows = [
        row("A", "2026-09", key_clients=6, key_clients_phone_ok=4, slogans=15, board_updates=5, households_missed_materials=1),
        row("A", "2026-10", key_clients=4, key_clients_phone_ok=3, slogans=12, board_updates=3, big_campaigns=1,
            dept_info_missing=3, migrant_info_missing=2, deaths_total=4, deaths_reported_timely=3),
    ]
    s = score(programme, [village("A")], rows, [entry("A", Q3, deaths_concealed=1)])
    assert value(s, "A", "C5.1") == pytest.approx(20 - 2 * 10)  # 7/10 = 70 % → 10 points short of 80
    assert value(s, "A", "C5.2") == pytest.approx(7)
    assert value(s, "A", "C5.3") == pytest.approx(6)
    assert value(s, "A", "C5.4") == pytest.approx(20 * 3 / 4 - 3)
    assert value(s, "A", "C5.5") == pytest.approx(8)
    assert value(s, "A", "C5.5", "bonus") == pytest.approx(10)
    assert value(s, "A", "C5.6") == pytest.approx(10 - 3 * 2)  # 10 months elapsed, 8 updates
    assert value(s, "A", "C5.7") == pytest.approx(10)  # a stock: the latest month's 12, not 27
    assert value(s, "A", "C5.7", "bonus") == pytest.approx(4)


def test_health_support_and_association_items(programme):
    rows = [row("A", "2026-10", child_health_managed=202, special_family_visits=2, newborn_visits=3, elderly_checks=150,
                support_cases_due=10, support_cases_paid=8, relief_amount_due=1000, relief_amount_paid=900)]
    s = score(programme, [village("A")], rows, [entry("A", Q3, misuse_cases=1, support_plan_done=1, association_score=17)])
    assert value(s, "A", "C6.1") == pytest.approx(180)
    assert value(s, "A", "C6.1", "bonus") == pytest.approx(5 * 2 + 2 * 2 + 1 * 3)  # under its cap of 36
    assert value(s, "A", "C6.2") == pytest.approx(40 * 150 / 300)
    assert value(s, "A", "C7.1") == pytest.approx(40 * 80 / 90)
    assert value(s, "A", "C7.1", "bonus") == pytest.approx(0)
    assert value(s, "A", "C7.2") == pytest.approx(140 * 90 / 95 - 20)
    assert value(s, "A", "C7.3") == pytest.approx(20)
    assert value(s, "A", "C8") == pytest.approx(17)


def test_register_latest_and_sum_aggregates(programme):
    entries = [entry("A", Q1, committee_items=2, meeting_absences=1), entry("A", Q2, committee_items=4, meeting_absences=2)]
    s = score(programme, [village("A")], [row("A", "2026-10")], entries)
    assert value(s, "A", "C1.1") == pytest.approx(8)  # latest entry: 4 items
    assert value(s, "A", "C1.2") == pytest.approx(12 - 9)  # absences add up: 3
    assert s.data.register_missing["A"] == [Q3]


def test_ties_share_a_rank_and_skip_the_next(programme):
    vs = [village(c) for c in "ABCD"]
    rows = [row(c, "2026-10", dept_info_missing=d) for c, d in zip("ABCD", (1, 0, 0, 2))]
    s = score(programme, vs, rows)
    ranks = dict(zip(s.codes, s.rank.tolist()))
    assert ranks == {"A": 3, "B": 1, "C": 1, "D": 4}
    assert [s.codes[k] for k in s.order()] == ["B", "C", "A", "D"]  # ties listed by village code


def test_rank_bonus_at_each_ended_assessment_period(programme):
    vs = [village(c) for c in "ABC"]
    # end of Q1 (April): A best, B second → +4 / +2, carried in every later total
    rows = [row(c, "2026-04", dept_info_missing=d) for c, d in zip("ABC", (0, 1, 2))]
    rows += [row(c, "2026-05") for c in "ABC"]
    s = score(programme, vs, rows, period="2026-05")
    bonus = dict(zip(s.codes, s.rank_bonus.tolist()))
    assert bonus == {"A": 4, "B": 2, "C": 0}
    assert s.rank_bonus_detail[s.codes.index("A")] == [f"{Q1}第1名 +4"]
    # tied first places all get +4, and then no +2 is given
    rows = [row(c, "2026-04", dept_info_missing=d) for c, d in zip("ABC", (0, 0, 2))] + [row(c, "2026-05") for c in "ABC"]
    s = score(programme, vs, rows, period="2026-05")
    assert dict(zip(s.codes, s.rank_bonus.tolist())) == {"A": 4, "B": 4, "C": 0}
    # the April report completes the first 考核季: its ranking counts from April on, not before
    assert score(programme, vs, rows[:3], period="2026-04").rank_bonus.tolist() == [4, 4, 0]
    march = [row(c, "2026-03") for c in "ABC"]
    assert score(programme, vs, march, period="2026-03").rank_bonus.tolist() == [0, 0, 0]


def test_unreported_villages_are_not_scored_and_missing_months_are_not_zeros(programme):
    vs = [village("A"), village("B"), village("C")]
    rows = [row("A", "2026-09", birth_registrations=30), row("A", "2026-10", birth_registrations=20),
            row("B", "2026-09", birth_registrations=30)]  # B has nothing for October: 未报
    rows += [row("C", "2026-10", birth_registrations=20)]  # C missed September: its YTD is 20, not 20 + 0 guessed
    s = score(programme, vs, rows)
    assert s.codes == ["A", "C"]
    assert s.env["birth_registrations"].tolist() == [50, 20]
    assert Month(2026, 9) in s.data.missing_months("C") and Month(2026, 10) not in s.data.missing_months("C")


def test_register_adjustments_in_the_year_so_far(programme):
    adj = [
        Adjustment("A", date(2026, 3, 1), "township_praise", "乡党委政府通报表扬", 2, 2, "", 4),
        Adjustment("A", date(2026, 10, 31), "township_criticism", "乡党委政府通报批评", -5, 1, "", 5),
        Adjustment("A", date(2026, 11, 2), "city_award", "市级表彰", 10, 1, "after the period", 6),
        Adjustment("A", date(2025, 12, 30), "city_award", "市级表彰", 10, 1, "last year", 7),
    ]
    s = score(programme, [village("A")], [row("A", "2026-10")], adjustments=adj)
    assert s.adj_bonus.tolist() == [4]
    assert s.adj_deduction.tolist() == [5]
    assert s.total[0] == pytest.approx(s.base_total[0] + s.bonus_total[0] + 4 - 5)


def test_rank_change_against_the_previous_month(programme):
    vs = [village(c) for c in "AB"]
    rows = [row("A", "2026-09", dept_info_missing=0), row("B", "2026-09", dept_info_missing=2),
            row("A", "2026-10", dept_info_missing=5), row("B", "2026-10")]
    s = score(programme, vs, rows)
    assert dict(zip(s.codes, s.previous_rank.tolist())) == {"A": 1, "B": 2}
    assert dict(zip(s.codes, s.rank.tolist())) == {"A": 2, "B": 1}


def test_competition_ranks_property():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(0, 20).map(float), min_size=1, max_size=30))
    def check(totals):
        ranks = competition_ranks(np.array(totals))
        for i, t in enumerate(totals):
            assert ranks[i] == 1 + sum(1 for u in totals if u > t)
        assert sorted(ranks.tolist())[0] == 1
        assert all(1 <= r <= len(totals) for r in ranks)

    check()


def _reference_counts(derived: list[dict], record: dict) -> dict[str, float]:
    """The plain reading of ``count_register``: rows whose every named column holds an allowed value."""
    return {d["id"]: float(sum(1 for r in record["register"] if all(r.get(k) in vals for k, vals in d["count_register"].items())))
            for d in derived}


@pytest.mark.parametrize("derived", [
    [{"id": "boys", "count_register": {"sex": ["男"]}}, {"id": "girls", "count_register": {"sex": ["女"]}}],
    [{"id": "second_girls", "count_register": {"sex": ["女"], "birth_order": [2, 3]}}, {"id": "late", "count_register": {"report_status": ["迟报"]}}],
    [{"id": "all_births", "count_register": {}}],  # no condition: every row
    [{"id": "all_births", "count_register": {}}, {"id": "boys", "count_register": {"sex": ["男"]}}],
    [],
])
def test_ledger_records_decode_to_the_same_values_as_parsing_them_whole(derived):
    """The scorer decodes only the register columns its derived counts need; the counts are those of the whole record."""
    import random
    from types import SimpleNamespace

    from pipeline.score.consolidate import _Decoder

    rng = random.Random(7)
    decoder = _Decoder(SimpleNamespace(raw={"derived": derived}))
    for _ in range(200):
        register = [{k: v for k, v in {"sex": rng.choice(["男", "女", None, "未知"]), "birth_order": rng.choice([1, 2, 3, "2"]),
                                        "report_status": rng.choice(["迟报", "按时上报"]), "mother_id": "340121********7689"}.items()
                     if rng.random() > 0.1} for _ in range(rng.randrange(0, 40))]
        record = {"fields": {"births_total": rng.randrange(50), "relief_amount_paid": 12.5}, "register": register}
        values = decoder.values(json.dumps(record, ensure_ascii=False))
        assert values == record["fields"] | _reference_counts(derived, record)


def test_a_record_msgspec_refuses_is_read_the_plain_way():
    """Records an earlier version stored with Infinity (or other JSON msgspec will not take) are still read."""
    from types import SimpleNamespace

    from pipeline.score.consolidate import _Decoder

    decoder = _Decoder(SimpleNamespace(raw={"derived": [{"id": "boys", "count_register": {"sex": ["男"]}}]}))
    fields, derived = decoder.decode('{"fields": {"a": Infinity, "b": 2}, "register": [{"sex": "男"}, {"sex": "女"}, null]}')
    assert fields["b"] == 2 and fields["a"] == float("inf") and derived == {"boys": 1.0}
