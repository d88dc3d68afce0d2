"""Plausibility (spec: programme-qianfen.md, 2026-11-27): a mistyped number is sent back or marked,
never published silently as a winner."""

from __future__ import annotations

import json
import random

import openpyxl
import pytest

from pipeline import api
from pipeline.check import check_bytes
from pipeline.example import example_id_number
from pipeline.ledger.db import Ledger
from pipeline.programme.periods import Month

from .conftest import PERIOD, filled

BAISHI = 1  # 白石村: population 3,996, annual task of child check-ups 240


def test_a_month_above_the_whole_annual_task_is_sent_back_to_be_checked(ctx):
    v = ctx.registry.villages[BAISHI]
    assert v.tasks["task_child_health"] == 240
    check = check_bytes(filled(ctx, BAISHI, child_health_managed=1210), "白石村.xlsx", ctx.programme, ctx.registry, ctx.secret)
    assert check.status == "退回"
    [p] = [p for p in check.problems if p.code == "V023"]
    assert p.field == "child_health_managed" and p.sheet == "月报" and p.cell
    assert "1210" in p.message and "240" in p.message and "请核实" in p.message
    assert "儿童健康管理年度任务" in p.message


def test_births_above_three_percent_of_the_population_in_a_month(ctx):
    from dataclasses import replace

    from pipeline.registry import Registry

    villages = list(ctx.registry.villages)
    villages[BAISHI] = replace(villages[BAISHI], population=1000)  # a small village: 30 births a month at most
    births, rng = 31, random.Random(1)
    register = [{"baby_name": f"王{i}", "sex": "男", "birth_date": PERIOD.first_day, "birth_order": 1, "mother_name": "李芳",
                 "mother_id": example_id_number(rng), "report_status": "按时上报"} for i in range(births)]
    check = check_bytes(filled(ctx, BAISHI, births_total=births, births_reported=births, births_reported_late=0, register=register),
                        "b.xlsx", ctx.programme, Registry(tuple(villages)), ctx.secret)
    [p] = [p for p in check.problems if p.code == "V023"]
    assert p.field == "births_total" and "户籍人口" in p.message and "30" in p.message


def test_a_task_of_zero_sets_no_limit(ctx):
    from dataclasses import replace

    from pipeline.registry import Registry

    villages = list(ctx.registry.villages)
    villages[BAISHI] = replace(villages[BAISHI], tasks={**villages[BAISHI].tasks, "task_child_health": 0.0})
    check = check_bytes(filled(ctx, BAISHI, child_health_managed=30), "c.xlsx", ctx.programme, Registry(tuple(villages)), ctx.secret)
    assert not [p for p in check.problems if p.code == "V023"]


def _collect(ctx, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (ctx.workspace.inbox / name).write_bytes(data)
    api.collect(ctx)


def test_a_threefold_outlier_scores_but_is_marked_until_confirmed(ctx):
    aug, sep = Month(2026, 8), Month(2026, 9)
    _collect(ctx, {f"{m}-{i}.xlsx": filled(ctx, i, m, child_health_managed=12) for m in (aug, sep) for i in range(4)})
    _collect(ctx, {f"10-{i}.xlsx": filled(ctx, i, PERIOD, child_health_managed=50 if i == BAISHI else 12) for i in range(4)})
    with Ledger(ctx.workspace.ledger_path) as ledger:
        rows = {r["village_code"]: r for r in ledger.submissions(str(PERIOD))}
    row = rows[ctx.registry.villages[BAISHI].code]
    assert row["status"] == "已接收" and "R006" in row["problems_json"] and "最多 12" in row["problems_json"]
    assert all("R006" not in r["problems_json"] for c, r in rows.items() if r is not row)

    result = api.consolidate(ctx, PERIOD)
    baishi = next(v for v in result.table["villages"] if v["name"] == "白石村")
    assert baishi["unconfirmed"] and baishi["unconfirmed"][0]["value"] == 50
    assert baishi["items"]["C6.1"]["base"] > 0  # it scores
    notice = openpyxl.load_workbook(result.path)["通报"]
    rows_ = [[c.value for c in r] for r in notice.iter_rows(min_row=7, max_row=10)]
    marked = [r for r in rows_ if r[2] == "白石村※"]
    assert marked and "含待核实数据" in marked[0][-1]
    quality = "\n".join(str(c.value) for r in openpyxl.load_workbook(result.path)["数据质量"].iter_rows() for c in r if c.value)
    assert "与往月差异过大" in quality and f"huizong accept {row['id']}" in quality

    confirmed = api.accept(ctx, row["id"], "已电话核实：10月集中开展了入托体检")
    assert confirmed["confirmed"] and "50" in confirmed["confirmed"][0]
    again = api.consolidate(ctx, PERIOD)
    notice = openpyxl.load_workbook(again.path)["通报"]
    assert "白石村" in [r[2].value for r in notice.iter_rows(min_row=7, max_row=10)]
    assert not next(v for v in again.table["villages"] if v["name"] == "白石村")["unconfirmed"]
    quality = "\n".join(str(c.value) for r in openpyxl.load_workbook(again.path)["数据质量"].iter_rows() for c in r if c.value)
    assert "已核实" in quality


def test_without_history_the_township_median_of_the_month_decides(ctx):
    files = {f"{i}.xlsx": filled(ctx, i, PERIOD, elderly_checks=20) for i in range(4)}
    _collect(ctx, files)
    _collect(ctx, {"late.xlsx": filled(ctx, 5, PERIOD, elderly_checks=75)})
    with Ledger(ctx.workspace.ledger_path) as ledger:
        row = next(r for r in ledger.submissions(str(PERIOD)) if r["village_code"] == ctx.registry.villages[5].code)
    assert "R006" in row["problems_json"] and "中位数为 20" in row["problems_json"]


def test_accept_refuses_a_record_with_nothing_to_confirm(ctx):
    from pipeline.problems import HuizongError

    _collect(ctx, {"a.xlsx": filled(ctx, 0)})
    with Ledger(ctx.workspace.ledger_path) as ledger:
        sid = ledger.submissions(str(PERIOD))[0]["id"]
    with pytest.raises(HuizongError):
        api.accept(ctx, sid, "无")


def _outcomes(ctx, files: list[tuple[str, bytes]]) -> list[tuple]:
    import os
    import time

    t0 = time.time() - 3600
    for i, (name, data) in enumerate(files):
        path = ctx.workspace.inbox / name
        path.write_bytes(data)
        os.utime(path, (t0 + i, t0 + i))
    api.collect(ctx)
    with Ledger(ctx.workspace.ledger_path) as ledger:
        return [(r["original_name"], r["status"], r["version"], r["problems_json"]) for r in ledger.submissions()]


def test_a_collection_s_history_gives_what_asking_the_ledger_per_file_gives(ctx, workspace, tmp_path, monkeypatch):
    """The outlier check reads the villages' previous months in bulk and keeps them as it records: in one
    batch, August and September of a village are the history of its October; a village without history
    is compared with the township's reports of the month recorded so far — exactly as asking the ledger
    file by file (the way the mail path still does)."""
    import shutil

    from pipeline.intake import folder

    aug, sep = Month(2026, 8), Month(2026, 9)
    files = [(f"{m}-{i}.xlsx", filled(ctx, i, m, child_health_managed=12)) for m in (aug, sep) for i in range(4)]
    files += [(f"10-{i}.xlsx", filled(ctx, i, PERIOD, child_health_managed=50 if i == 1 else 12)) for i in range(4)]
    files += [(f"new-{i}.xlsx", filled(ctx, i, PERIOD, elderly_checks=75 if i == 9 else 20)) for i in range(5, 10)]
    files += [("10-1 again.xlsx", filled(ctx, 1, PERIOD, child_health_managed=13))]  # a correction: version 2
    other = tmp_path / "per-file"
    shutil.copytree(workspace, other)
    with_history = _outcomes(ctx, files)
    monkeypatch.setattr(folder, "OutlierHistory", lambda *a: None)  # every file asks the ledger itself
    per_file = _outcomes(api.load_context(other), files)
    assert with_history == per_file
    flagged = {name for name, _, _, problems in with_history if "R006" in problems}
    assert flagged == {"10-1.xlsx", "new-9.xlsx"}


def test_the_kept_month_median_is_the_median_of_the_other_villages():
    """The sorted month values a collection keeps give, for any village, exactly statistics.median over the
    other villages' numbers — after villages send numbers, send again (a correction) or leave a field empty."""
    import random
    import statistics

    from pipeline.intake.outliers import _MonthValues

    rng = random.Random(5)
    for _ in range(300):
        kept = _MonthValues(("a", "b"))
        now: dict[str, dict] = {}
        for _ in range(rng.randint(1, 12)):
            code = f"v{rng.randint(0, 6)}"
            fields = {"a": rng.choice([rng.randint(0, 30), 12, 12.0, None, "十二"]), "b": rng.randint(0, 3)}
            kept.put(code, fields)
            now[code] = fields
        for code in [*now, "nobody"]:
            for fid in ("a", "b"):
                others = [float(f[fid]) for c, f in now.items() if c != code and isinstance(f[fid], (int, float))]
                assert kept.median(fid, code) == (len(others), statistics.median(others) if others else 0.0)


def test_an_unreadable_stored_record_stops_only_its_own_village(ctx):
    """A stored record the history cannot read (damaged by hand, say) must not stop the batch that reads
    histories in bulk: the other villages are recorded, and that village's file is sent back located (F013)."""
    import sqlite3

    sep = Month(2026, 9)
    _collect(ctx, {f"9-{i}.xlsx": filled(ctx, i, sep) for i in range(3)})
    con = sqlite3.connect(ctx.workspace.ledger_path)
    con.execute("UPDATE submissions SET record_json = ? WHERE village_code = ?", ('{"fields": [', ctx.registry.villages[1].code))
    con.commit()
    con.close()
    _collect(ctx, {f"10-{i}.xlsx": filled(ctx, i, PERIOD) for i in range(3)})
    with Ledger(ctx.workspace.ledger_path) as ledger:
        rows = {r["original_name"]: r for r in ledger.submissions()}  # a file sent back with F013 has no period
    assert rows["10-0.xlsx"]["status"] == rows["10-2.xlsx"]["status"] == "已接收"
    assert rows["10-1.xlsx"]["status"] == "退回" and "F013" in rows["10-1.xlsx"]["problems_json"]
    assert not list(ctx.workspace.inbox.glob("*.xlsx"))


@pytest.mark.parametrize("typo_first", [True, False], ids=["typo-first", "typo-last"])
def test_a_first_month_typo_is_flagged_whichever_file_comes_first(ctx, typo_first):
    """A first month, no village with history: 75 typed for 20. Arriving last, it was flagged against the
    others' median; arriving first (no others yet) it was never checked and could win first place with no ※.
    Once a collection has recorded its files, such reports are compared with the whole month."""
    typo = {"typo.xlsx": filled(ctx, 5, PERIOD, elderly_checks=75)}
    others = {f"{i}.xlsx": filled(ctx, i, PERIOD, elderly_checks=20) for i in range(4)}
    for files in ([typo, others] if typo_first else [others, typo]):
        for name, data in files.items():
            (ctx.workspace.inbox / name).write_bytes(data)
        summary = api.collect(ctx)
    code = ctx.registry.villages[5].code
    with Ledger(ctx.workspace.ledger_path) as ledger:
        rows = {r["village_code"]: r for r in ledger.submissions(str(PERIOD))}
    flagged = [p for p in json.loads(rows[code]["problems_json"]) if p["code"] == "R006"]
    assert len(flagged) == 1 and "中位数为 20" in flagged[0]["message"]
    assert flagged[0]["cell"] and flagged[0]["sheet"] and rows[code]["n_warnings"] >= 1
    assert all("R006" not in r["problems_json"] for c, r in rows.items() if c != code)
    if typo_first:  # found after the fact: said to the clerk
        assert [p.code for p in summary.notices] == ["R006"]
    assert next(v for v in api.consolidate(ctx, PERIOD).table["villages"] if v["code"] == code)["unconfirmed"]
    before = {c: r["problems_json"] for c, r in rows.items()}
    api.collect(ctx)  # nothing new: nothing added twice
    with Ledger(ctx.workspace.ledger_path) as ledger:
        assert {r["village_code"]: r["problems_json"] for r in ledger.submissions(str(PERIOD))} == before


@pytest.mark.parametrize("field,typed", [("big_campaigns", 1e20), ("slogans", 15000), ("relief_amount_due", 360000),
                                         ("special_family_visits", 50000), ("deaths_total", 400)])
def test_an_absurd_number_in_a_field_without_a_task_is_sent_back(ctx, field, typed):
    """1e20 typed in 大型宣传活动次数 took a village from 7th to 1st (its capped bonuses in full); 360000 in
    关怀救助应发金额 from 7th to 19th. Fields with no annual task to compare with have limits too."""
    check = check_bytes(filled(ctx, 1, **{field: typed}), "c.xlsx", ctx.programme, ctx.registry, ctx.secret)
    (limit,) = [p for p in check.problems if p.code == "V023"]
    assert limit.field == field and limit.cell and check.status == "退回"


def test_a_stored_record_that_cannot_be_read_does_not_stop_the_recheck(ctx):
    """The after-the-fact comparison reads every report of the month: one damaged stored record made every
    collection that brought a report of that month stop (JSONDecodeError) after its files were recorded."""
    import sqlite3

    _collect(ctx, {f"{i}.xlsx": filled(ctx, i, PERIOD, elderly_checks=20) for i in range(4)})
    con = sqlite3.connect(ctx.workspace.ledger_path)
    con.execute("UPDATE submissions SET record_json = '{\"fields\": [' WHERE village_code = ?", (ctx.registry.villages[1].code,))
    con.commit()
    con.close()
    (ctx.workspace.inbox / "typo.xlsx").write_bytes(filled(ctx, 5, PERIOD, elderly_checks=75))
    summary = api.collect(ctx)
    assert [i.status for i in summary.items] == ["已接收"]
    with Ledger(ctx.workspace.ledger_path) as ledger:
        row = next(r for r in ledger.submissions(str(PERIOD)) if r["village_code"] == ctx.registry.villages[5].code)
    assert "R006" in row["problems_json"]  # compared with the three readable others


def test_a_recheck_cut_short_is_made_by_the_next_collection(ctx, monkeypatch):
    """The comparison no longer depends on the run that recorded the reports finishing: a run cut short
    before it (a power cut) leaves it to the next, even one with nothing new."""
    import pipeline.intake.collect as collect_module

    files = {"typo.xlsx": filled(ctx, 5, PERIOD, elderly_checks=75)} | {f"{i}.xlsx": filled(ctx, i, PERIOD, elderly_checks=20) for i in range(4)}
    monkeypatch.setattr(collect_module, "recheck_without_history", lambda *args: [])
    _collect(ctx, dict(list(files.items())[:1]))
    _collect(ctx, dict(list(files.items())[1:]))
    monkeypatch.undo()
    assert [p.code for p in api.collect(ctx).notices] == ["R006"]


def test_a_late_warning_and_the_mail_that_tells_the_village_land_together(ctx, monkeypatch):
    """The late 【请核实】 mail was queued in a transaction of its own after the warning was stored: a stop between
    the two kept the ※ and lost the mail for good (the next collection finds the warning already there). Now both
    are written at once — a stop leaves neither, and the next collection makes both."""
    import pipeline.intake.collect as collect_module
    import pipeline.intake.outliers as outliers_module
    import pipeline.ledger.mail as mail_module

    files = {"typo.xlsx": filled(ctx, 5, PERIOD, elderly_checks=75)} | {f"{i}.xlsx": filled(ctx, i, PERIOD, elderly_checks=20) for i in range(4)}
    monkeypatch.setattr(collect_module, "recheck_without_history", lambda *args: [])
    _collect(ctx, dict(list(files.items())[:1]))
    _collect(ctx, dict(list(files.items())[1:]))
    monkeypatch.undo()
    queued = []
    monkeypatch.setattr(outliers_module, "_late_mail", lambda ctx, row, found: {"to": row["village_code"]})

    def stop(db, message):
        raise KeyboardInterrupt  # the clerk closes the window while the mail is being queued

    monkeypatch.setattr(mail_module, "queue", stop)
    code = ctx.registry.villages[5].code
    with pytest.raises(KeyboardInterrupt):
        api.collect(ctx)
    with Ledger(ctx.workspace.ledger_path) as ledger:
        row = next(r for r in ledger.submissions(str(PERIOD)) if r["village_code"] == code)
    assert "R006" not in row["problems_json"]  # neither the warning nor the mail
    monkeypatch.setattr(mail_module, "queue", lambda db, message: queued.append(message))
    assert [p.code for p in api.collect(ctx).notices] == ["R006"]
    assert queued == [{"to": code}]


def test_a_number_found_out_of_line_after_the_township_decided_is_still_marked(workspace):
    """A report waiting for the township (its 村名册 row had an error) is accepted; then it is found out of
    line with the month. Confirmation was one flag per report, so the ※ never showed and it ranked 1st."""
    from .test_joining import _registry_rows

    ctx = original = api.load_context(workspace)
    v = ctx.registry.villages
    typo = filled(ctx, 5, PERIOD, elderly_checks=75)
    _collect(ctx, {f"{i}.xlsx": filled(ctx, i, PERIOD, elderly_checks=20) for i in range(4)})
    _registry_rows(ctx, **{v[5].code: {"population": None}})
    ctx = api.load_context(workspace)
    _collect(ctx, {"typo.xlsx": typo})
    with Ledger(ctx.workspace.ledger_path) as ledger:
        (pending,) = [r for r in ledger.submissions(str(PERIOD)) if r["status"] == "待确认"]
    _registry_rows(original)
    ctx = api.load_context(workspace)
    accepted = api.accept(ctx, pending["id"], "村名册已改正", v[5].code)
    assert accepted["found"] and "75" in accepted["found"][0]  # compared with the month on acceptance
    table = api.consolidate(ctx, PERIOD).table
    assert next(x for x in table["villages"] if x["code"] == v[5].code)["unconfirmed"]
    api.accept(ctx, pending["id"], "已电话核实")
    table = api.consolidate(ctx, PERIOD).table
    assert not next(x for x in table["villages"] if x["code"] == v[5].code)["unconfirmed"]


def test_the_recheck_leaves_months_no_current_notice_shows(ctx, monkeypatch):
    """Every collection looks again at months with reports of villages without history — only those of the
    last twelve months before the newest: a first month two years back is not read again and again."""
    import pipeline.intake.collect as collect_module

    old = Month(2024, 10)
    monkeypatch.setattr(collect_module, "recheck_without_history", lambda *args: [])
    _collect(ctx, {"typo.xlsx": filled(ctx, 5, old, elderly_checks=75)} | {f"{i}.xlsx": filled(ctx, i, old, elderly_checks=20) for i in range(4)})
    monkeypatch.undo()
    (ctx.workspace.inbox / "now.xlsx").write_bytes(filled(ctx, 0, PERIOD))
    assert api.collect(ctx).notices == []


def test_a_long_label_in_the_flagged_list_gets_the_lines_it_needs(ctx):
    """The 填报值 column was 6 wide: “0—6岁儿童健康管理人数” 50 wrapped onto five lines of a 26-point row and
    printed cut off after the second. It is now the 17-wide third column, and the command that confirms the
    number sits under the reason, not in the 8-wide 核实 column (eight lines)."""
    from pipeline.workbook.layout import text_units

    aug, sep = Month(2026, 8), Month(2026, 9)
    _collect(ctx, {f"{m}-{i}.xlsx": filled(ctx, i, m, child_health_managed=12) for m in (aug, sep) for i in range(4)})
    _collect(ctx, {f"10-{i}.xlsx": filled(ctx, i, PERIOD, child_health_managed=50 if i == BAISHI else 12) for i in range(4)})
    sheet = openpyxl.load_workbook(api.consolidate(ctx, PERIOD).path)["数据质量"]
    (row,) = [r for r in sheet.iter_rows() if isinstance(r[2].value, str) and r[2].value.endswith(" 50")]
    lines = -(-text_units(row[2].value) // 18)
    assert lines >= 2 and sheet.row_dimensions[row[2].row].height >= 13 * lines
    assert row[7].value == "待核实" and "huizong accept" in row[5].value


def test_programme_c_marks_an_extra_digit_in_the_infested_count_it_ranks_on(tmp_path):
    """C ranks and pays on 虫果数, which had no limit and no outlier check: 2 typed 20 dropped a village from
    4th to 16th (and 500 元 to 0), unmarked. It is now among C's outlier fields."""
    api.init_workspace(tmp_path / "ws", programme="fruitfly-c", example=True)
    c = api.load_context(tmp_path / "ws")
    jul, aug = Month(2026, 7), Month(2026, 8)
    _collect(c, {f"{m}-{i}.xlsx": filled(c, i, m, fruits_checked=400, fruits_infested=2) for m in (jul,) for i in range(4)})
    _collect(c, {f"{aug}-{i}.xlsx": filled(c, i, aug, fruits_checked=400, fruits_infested=20 if i == 1 else 2) for i in range(4)})
    with Ledger(c.workspace.ledger_path) as ledger:
        rows = {r["village_code"]: r for r in ledger.submissions(str(aug))}
    typo = rows[c.registry.villages[1].code]
    assert typo["status"] == "已接收" and "R006" in typo["problems_json"] and "虫果数" in typo["problems_json"]
    assert all("R006" not in r["problems_json"] for r in rows.values() if r is not typo)


def test_every_number_a_score_rests_on_is_compared_with_the_village_s_months():
    """A typo sweep over programme A found ×10 typos published unmarked in fields outside the outlier list:
    关怀救助应发金额 3600 → 36000 (9th → 16th, the township's rate 未达标), 宣传标语 7 → 70 (4th → 3rd, the
    township's stock +32 %), 重点服务对象 13 → 130. Every numeric field is now compared; amounts in 元 have their
    own margin (a quarter's lump sum is no typo), and a denominator far below its months is a warning too."""
    from pipeline.programme.config import load_programme
    from pipeline.validate.plausibility import outlier_problems

    a = load_programme("qianfen")

    def flagged(field, history, value):
        return [(p.field, p.detail) for p in outlier_problems({field: value}, {}, a, [{field: h} for h in history], [])]

    assert flagged("relief_amount_due", [3600, 3600, 3600], 36000) == [("relief_amount_due", "此前 3 个月最多 3600")]
    assert flagged("relief_amount_due", [0, 0, 0], 3600) == []  # paid by the quarter: 0, 0, then a month's worth
    assert flagged("relief_amount_due", [3600, 0, 0], 10800) == []  # three months at once
    assert flagged("slogans", [7, 8, 7], 70) == [("slogans", "此前 3 个月最多 8")]
    assert flagged("key_clients", [13, 13, 13], 130) == [("key_clients", "此前 3 个月最多 13")]
    # a dropped digit in a denominator: 20 − 2 × (80 − 100 %) — the 联系号码准确率 in full
    assert flagged("key_clients", [13, 13, 12], 1) == [("key_clients", "此前 3 个月最少 12")]
    assert flagged("key_clients", [13, 12], 1) == []  # two months say too little
    assert flagged("board_updates", [1, 2, 1], 3) == []


def test_programme_c_checks_its_rounds_and_the_fruit_it_divides_by():
    """C's 诱杀/喷药次数 decide 通报批评 (1 typed 10 took it away, unmarked; 2 typed 202 was accepted), and 检查果数
    divides: 3471 typed 347 made the rate ten times and the village 5th → 15th."""
    from pipeline.programme.config import load_programme
    from pipeline.registry import Village
    from pipeline.validate.plausibility import limit_problems, outlier_problems

    c = load_programme("fruitfly-c")

    def flagged(field, history, value):
        return [(p.field, p.detail) for p in outlier_problems({field: value}, {}, c, [{field: h} for h in history], [])]

    assert flagged("bait_rounds", [1, 2, 1], 10) == [("bait_rounds", "此前 3 个月最多 2")]
    assert flagged("bait_rounds", [0, 0, 0], 3) == []  # June's three rounds after months without
    assert flagged("fruits_checked", [3400, 3520, 3471], 347) == [("fruits_checked", "此前 3 个月最少 3400")]
    assert flagged("fruits_checked", [900, 1200, 800], 400) == []
    assert flagged("fallen_fruit_kg", [20, 30, 25], 300) == []  # the season's fall: not scored, not checked
    v = Village("001", "白石村", (), (), 3000, {})
    [p] = limit_problems({"bait_rounds": 202, "spray_rounds": 3}, {"bait_rounds": "C8"}, c, v, file="x.xlsx", sheet="月报")
    assert (p.code, p.cell, p.value) == ("V023", "C8", 202) and "10" in p.message and "请核实" in p.message


def test_programme_c_marks_the_typos_its_sweep_found_silent():
    """A typo sweep of C (676 cases) found 虫果数 1 typed 7 or 10 unmarked (the default margin of 10 let it by: 7th →
    18th in July), and 检查果数 with a digit dropped unmarked until the next month's receipt — in August (falls
    needed 3 months of history; June and July are 2) and in June (no history: only values too large were compared
    with the township). Now all are marked; a month like the others is not."""
    from pipeline.programme.config import load_programme
    from pipeline.validate.plausibility import outlier_problems

    c = load_programme("fruitfly-c")

    def flagged(field, history, value):
        return [p.field for p in outlier_problems({field: value}, {}, c, [{field: h} for h in history], [])]

    assert flagged("fruits_infested", [1, 1], 7) == flagged("fruits_infested", [1, 2], 10) == ["fruits_infested"]
    assert flagged("fruits_infested", [1, 2], 5) == []  # a real bad month: 3 above the most, not more
    assert flagged("fruits_checked", [1429, 1380], 429) == ["fruits_checked"]  # two months (June, July) are enough
    assert flagged("fruits_checked", [1429, 1380], 900) == []
    # June, no month of its own: a third of the township's month is as far out below as three times it is above
    peers = [{"fruits_checked": n} for n in (755, 891, 759, 1099)]
    [p] = outlier_problems({"fruits_checked": 83}, {}, c, [], peers)
    assert (p.field, p.detail) == ("fruits_checked", "本村此前没有报表，全镇本月中位数为 825")
    assert outlier_problems({"fruits_checked": 400}, {}, c, [], peers) == []  # a small orchard's sample


def test_a_seasonal_programme_compares_its_first_months_with_the_township(tmp_path):
    """C's season starts in June with few, small fruits: July's 检查果数 three times June's was ※ after one month of
    history (and the mark held back the village's 500 元 for the rest of the season). With ``min_months: 2`` a
    village is compared with the township's median until it has two months of its own."""
    from pipeline.programme.config import load_programme
    from pipeline.validate.plausibility import outlier_problems

    c = load_programme("fruitfly-c")
    june = [{"fruits_checked": 400}]
    peers = [{"fruits_checked": n} for n in (1300, 1500, 1400, 1200)]
    assert outlier_problems({"fruits_checked": 1450}, {}, c, june, peers) == []
    [p] = outlier_problems({"fruits_checked": 14500}, {}, c, june, peers)  # an extra digit is still found
    assert "全镇本月中位数为 1350" in p.detail
    assert outlier_problems({"fruits_checked": 1450}, {}, c, june * 2, peers) != []  # two months: its own


def test_programme_c_checks_a_village_with_one_month_on_arrival_and_only_within_its_season(tmp_path):
    """With ``min_months: 2`` a village with one month of its own got no check at all on arrival (its reply said
    校验通过; the warning came later as a separate mail, saying it had no earlier report). And June's first
    checks were compared with last season's months: a falls ※ that held back the reward."""
    from pipeline.intake.outliers import months_before
    from pipeline.validate.plausibility import plausibility

    api.init_workspace(tmp_path / "ws", programme="fruitfly-c", example=True)
    c = api.load_context(tmp_path / "ws")
    rule = plausibility(c.programme).outliers
    assert months_before(Month(2026, 6), rule) == [f"2026-0{m}" for m in (5, 4, 3, 2, 1)]  # not 2025's season
    jun, jul = Month(2026, 6), Month(2026, 7)
    _collect(c, {f"{jun}-{i}.xlsx": filled(c, i, jun, fruits_checked=400, fruits_infested=1) for i in range(5)})
    _collect(c, {f"{jul}-{i}.xlsx": filled(c, i, jul, fruits_checked=14500 if i == 1 else 1400, fruits_infested=2)
                 for i in (0, 2, 3, 4, 1)})  # three others first: compared on arrival
    with Ledger(c.workspace.ledger_path) as ledger:
        rows = {r["village_code"]: r for r in ledger.submissions(str(jul))}
    typo = json.loads(rows[c.registry.villages[1].code]["problems_json"])
    [found] = [p for p in typo if p["code"] == "R006" and p["field"] == "fruits_checked"]
    assert "本村此前只有 1 个月的报表" in found["message"] and "after_decision" not in found  # on arrival, not later
    assert all("R006" not in r["problems_json"] for code, r in rows.items() if code != c.registry.villages[1].code)


def test_what_a_receipt_asks_the_village_to_look_at_again():
    from pipeline.validate.plausibility import changed_much

    assert changed_much(0, 5) and changed_much(10, 1) and changed_much(3, 0) and changed_much(347, 3471)
    assert not changed_much(2, 0) and not changed_much(4, 2) and not changed_much(2, 1)  # small counts move
    assert not changed_much(5, 5) and not changed_much("约5", 5) and not changed_much(5, None)


def test_the_receipt_shows_last_month_as_the_programme_writes_numbers_and_periods(programme):
    """A review found 12345.67 shown as 12345.7 and 1500000 as 1.5e+06 beside 请核对, and a month named where the
    programme reports by the month before."""
    from types import SimpleNamespace

    from pipeline.intake.replies import _figures

    check = SimpleNamespace(read=SimpleNamespace(values={"relief_amount_due": 1500000.0, "relief_amount_paid": 0.0}, register=[]),
                            identity=SimpleNamespace(period=Month(2026, 1)),
                            previous=("2025-12", {"relief_amount_due": 12345.67, "relief_amount_paid": 36000.5}))
    lines = "\n".join(_figures(check, programme))
    assert "1500000 元（上月 12345.67，请核对）" in lines and "0 元（上月 36000.5，请核对）" in lines
    check.previous = ("2025-10", check.previous[1])
    assert "（2025年10月 12345.67，请核对）" in "\n".join(_figures(check, programme))
    # paid by the quarter: 0 after 3600 is no question (the amount's own margin, 5000 元)
    check.previous = ("2025-12", {"relief_amount_due": 1500000.0, "relief_amount_paid": 3600.0})
    assert "请核对" not in "\n".join(_figures(check, programme))


def test_the_receipt_asks_only_about_numbers_the_programme_checks():
    """C's 捡拾落地果 rises and falls with the season and no score rests on it: a receipt asking about it every month
    teaches the village to skip the question."""
    from types import SimpleNamespace

    from pipeline.intake.replies import _figures
    from pipeline.programme.config import load_programme

    c = load_programme("fruitfly-c")
    check = SimpleNamespace(read=SimpleNamespace(values={"fallen_fruit_kg": 300.0, "fruits_infested": 10}, register=[]),
                            identity=SimpleNamespace(period=Month(2026, 9)),
                            previous=("2026-08", {"fallen_fruit_kg": 20.0, "fruits_infested": 1}))
    lines = "\n".join(_figures(check, c))
    assert "虫果数：10 个（上月 1，请核对）" in lines and "捡拾处理落地果：300 公斤\n" in lines + "\n"
