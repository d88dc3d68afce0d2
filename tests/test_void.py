"""A file put into inbox/ by mistake (the clerk's own test, the annotated copy, last month's template) is
recorded like any other: `huizong void` takes it back out of the counting, with the reason in the ledger,
while its original stays in the archive — it never again says 更正件退回 in the 通报 of a village that
sent no correction."""

from __future__ import annotations

import openpyxl
from typer.testing import CliRunner

from pipeline import api
from pipeline.cli import app
from pipeline.ledger.db import Ledger

from .conftest import PERIOD, filled, template_for

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _collect(ctx: api.Context, **files: bytes) -> None:
    for name, data in files.items():
        (ctx.workspace.inbox / name).write_bytes(data)
    api.collect(ctx)


def _rows(ctx: api.Context):
    with Ledger(ctx.workspace.ledger_path) as ledger:
        return {r["id"]: dict(r) for r in ledger.submissions(str(PERIOD))}


def test_a_file_put_in_inbox_by_mistake_is_voided_and_the_notice_no_longer_speaks_of_it(ctx):
    v = ctx.registry.villages[0]
    _collect(ctx, **{"a.xlsx": filled(ctx, 0)})
    _collect(ctx, **{"空模板.xlsx": template_for(ctx, 0)})  # the clerk's slip: the village's own blank template
    rows = _rows(ctx)
    [wrong] = [i for i, r in rows.items() if r["status"] == "退回"]
    before = {s.code: s for s in api.status(ctx, PERIOD)}
    assert before[v.code].correction == "退回"
    summary = api.consolidate(ctx, PERIOD)
    notice = openpyxl.load_workbook(summary.path)["通报"]
    assert any("更正件退回" in str(c.value) for row in notice.iter_rows() for c in row)

    res = run("void", str(wrong), "--note", "镇里误放入收件箱的空白模板", "-w", str(ctx.workspace.root))
    assert res.exit_code == 0, res.output
    assert "已作废" in res.output and "空模板.xlsx" in res.output
    after = {s.code: s for s in api.status(ctx, PERIOD)}
    assert after[v.code].correction == "" and after[v.code].state == "已报"
    notice = openpyxl.load_workbook(api.consolidate(ctx, PERIOD).path)["通报"]
    assert not any("更正件退回" in str(c.value) for row in notice.iter_rows() for c in row)
    # nothing is lost: the original stays archived, the decision and its reason are in the ledger
    with Ledger(ctx.workspace.ledger_path) as ledger:
        row = ledger.submission(wrong)
        decision = ledger.conn.execute("SELECT decision, note FROM decisions WHERE submission_id = ?", (wrong,)).fetchone()
    assert row["status"] == "作废" and tuple(decision) == ("作废", "镇里误放入收件箱的空白模板")
    assert (ctx.workspace.archive / row["sha256"][:2]).is_dir()
    # voiding twice says it was done, and a reason is required
    again = run("void", str(wrong), "--note", "再来", "-w", str(ctx.workspace.root))
    assert again.exit_code == 2 and "已经作废" in again.output
    assert run("void", str(wrong), "--note", " ", "-w", str(ctx.workspace.root)).exit_code == 2


def test_voiding_an_accepted_report_puts_the_earlier_version_back(ctx):
    """The clerk's own test file, accepted as version 2 of a village's month, was counted over the village's report."""
    v = ctx.registry.villages[0]
    _collect(ctx, **{"a.xlsx": filled(ctx, 0)})
    _collect(ctx, **{"试填.xlsx": filled(ctx, 0, special_family_visits=99)})
    assert {s.code: s.version for s in api.status(ctx, PERIOD)}[v.code] == 2
    [test_file] = [i for i, r in _rows(ctx).items() if r["version"] == 2]
    assert run("void", str(test_file), "--note", "镇里自己试填的", "-w", str(ctx.workspace.root)).exit_code == 0
    state = {s.code: s for s in api.status(ctx, PERIOD)}[v.code]
    assert (state.state, state.version) == ("已报", 1)
    with Ledger(ctx.workspace.ledger_path) as ledger:
        [(_, _, fields)] = ledger.accepted_fields(ctx.programme.id, [str(PERIOD)], v.code)
    assert fields["special_family_visits"] != 99  # what the 通报 counts is the village's own report again
    # the same bytes sent again are checked again, not taken for a 重复 of the voided one; its version is a new
    # number (a review: the voided file and the next correction were both 第 2 版 in receipts and status)
    _collect(ctx, **{"试填2.xlsx": filled(ctx, 0, special_family_visits=99)})
    assert {s.code: s.version for s in api.status(ctx, PERIOD)}[v.code] == 3


def test_accepting_twice_says_it_was_done_and_system_files_are_not_reports(ctx):
    """A second accept of the same record said 找不到文件；Thumbs.db and desktop.ini, which Windows leaves in a
    folder by itself, were sent back as reports of no village."""
    inbox = ctx.workspace.inbox
    (inbox / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(60))
    (inbox / "desktop.ini").write_text("[.ShellClassInfo]\n", encoding="utf-8")
    (inbox / "blank.xlsx").write_bytes(template_for(ctx, 0))
    api.collect(ctx)
    rows = _rows(ctx)
    assert [r["status"] for r in rows.values()] == ["退回"]  # the template only: not the system files
    _collect(ctx, **{"a.xlsx": filled(ctx, 1)})
    [good] = [i for i, r in _rows(ctx).items() if r["status"] == "已接收"]
    res = run("accept", str(good), "--note", "再确认一次", "-w", str(ctx.workspace.root))
    assert res.exit_code == 2 and "X051" in res.output and "已经是已接收的报表" in res.output


def test_a_void_of_the_wrong_record_is_undone_as_it_was(ctx):
    """A re-check: a mistyped record number voided the village's good report, and nothing could put it back (accept
    refuses a 作废 record). --undo restores what it was: 已接收 with its version, or 退回."""
    v = ctx.registry.villages[0]
    _collect(ctx, **{"a.xlsx": filled(ctx, 0)})
    _collect(ctx, **{"b.xlsx": filled(ctx, 1, births_total="十二")})
    rows = _rows(ctx)
    [good] = [i for i, r in rows.items() if r["status"] == "已接收"]
    [refused] = [i for i, r in rows.items() if r["status"] == "退回"]
    root = str(ctx.workspace.root)
    for record in (good, refused):
        assert run("void", str(record), "--note", "填错了记录号", "-w", root).exit_code == 0
    assert {s.code: s.state for s in api.status(ctx, PERIOD)}[v.code] == "未报"
    res = run("void", str(good), "--undo", "--note", "记录号填错，恢复", "-w", root)
    assert res.exit_code == 0 and "恢复为“已接收”" in res.output
    assert run("void", str(refused), "--undo", "--note", "恢复", "-w", root).exit_code == 0
    after = _rows(ctx)
    assert (after[good]["status"], after[good]["version"], after[refused]["status"]) == ("已接收", 1, "退回")
    assert {s.code: s.state for s in api.status(ctx, PERIOD)}[v.code] == "已报"
    again = run("void", str(good), "--undo", "--note", "再来", "-w", root)
    assert again.exit_code == 2 and "X054" in again.output
