"""A workspace whose .huizong folder, ledger or key was deleted by accident, and a command run from the
wrong folder: each is a clear stop with the way out, never a ranking without the earlier reports."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from pipeline import api
from pipeline.cli import app

from .conftest import PERIOD, filled

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _collected(ctx: api.Context, *indexes: int) -> None:
    for i in indexes:
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    api.collect(ctx)


def test_a_deleted_ledger_stops_every_command_instead_of_publishing_without_the_earlier_reports(ctx):
    """With the ledger deleted, status said 未报 19 个 and consolidate published a ranking of the one report collected
    after — every earlier report missing, with no word why."""
    root = ctx.workspace.root
    _collected(ctx, 0, 1, 2)
    ctx.workspace.ledger_path.unlink()
    for args in (("status", "-w", str(root), "--period", str(PERIOD)), ("collect", "-w", str(root)),
                 ("consolidate", "-w", str(root), "--period", str(PERIOD))):
        res = run(*args)
        assert res.exit_code == 2, (args, res.output)
        assert "X045" in res.output and "台账" in res.output and "archive/" in res.output and "备份" in res.output
    assert not ctx.workspace.ledger_path.exists()  # nothing made a new, empty one
    assert not list(ctx.workspace.reports.glob("*汇总排名.xlsx"))
    # starting afresh on purpose: the received originals moved away, as the message says
    shutil.move(str(ctx.workspace.archive), str(root.parent / "旧归档"))
    assert run("status", "-w", str(root), "--period", str(PERIOD)).exit_code == 0


def test_a_deleted_key_is_named_and_repaired_without_touching_what_the_township_entered(ctx):
    """With .huizong deleted, collect, templates and validate said 程序内部错误（FileNotFoundError … secret.key） and
    the only way on, init --force, reset the 村名册 to the example township."""
    root = ctx.workspace.root
    registry = ctx.workspace.registry_path.read_bytes()
    shutil.rmtree(ctx.workspace.state)
    res = run("templates", "-w", str(root), "--period", str(PERIOD))
    assert res.exit_code == 2 and "X044" in res.output and "--repair" in res.output and "X013" not in res.output
    res = run("init", str(root), "--repair")
    assert res.exit_code == 0, res.output
    assert ctx.workspace.registry_path.read_bytes() == registry and (ctx.workspace.state / "secret.key").is_file()
    assert run("templates", "-w", str(root), "--period", str(PERIOD)).exit_code == 0


def test_a_command_run_inside_a_workspace_points_to_it_rather_than_to_init(ctx):
    """From inside inbox/ X001 said 请先运行 huizong init …/inbox: done, the next collect took huizong.yaml and the
    村名册 of that second workspace for reports."""
    inbox = ctx.workspace.inbox
    res = run("collect", "-w", str(inbox))
    assert res.exit_code == 2 and "X046" in res.output and "huizong init" not in res.output
    assert str(ctx.workspace.root) in res.output


def test_init_says_the_next_command_so_that_it_can_be_pasted(tmp_path):
    root = tmp_path / "汇总 2026"
    res = run("init", str(root))
    assert res.exit_code == 0
    assert f'huizong templates -w "{root}" --period' in res.output


def test_a_consolidation_that_stops_says_the_older_summary_is_not_this_one(ctx):
    """A 村名册 error stopped the consolidation with only the error: the 汇总表 made an hour before stayed under the
    month's name, and nothing said it was not brought up to date."""
    import openpyxl

    root = ctx.workspace.root
    _collected(ctx, 0, 1, 2)
    assert run("consolidate", "-w", str(root), "--period", str(PERIOD)).exit_code == 0
    book = openpyxl.load_workbook(ctx.workspace.registry_path)
    sheet = book["村名册"]
    header = next(r for r in range(1, 6) if any(c.value == "户籍人口" for c in sheet[r]))
    column = next(c.column for c in sheet[header] if c.value == "户籍人口")
    sheet.cell(header + 1, column, "约1800")
    book.save(ctx.workspace.registry_path)
    res = run("consolidate", "-w", str(root), "--period", str(PERIOD))
    assert res.exit_code == 2
    assert "X047" in res.output and "汇总已停止，没有生成新的汇总表" in res.output
    assert f"“{PERIOD}-汇总排名.xlsx”是" in res.output and "旧版" in res.output


def test_init_force_says_what_it_replaced_and_where_the_originals_are(ctx):
    """init --force said only 已创建工作目录: a −20 deduction vanished from the next ranking unexplained."""
    root = ctx.workspace.root
    res = run("init", str(root), "--force")
    assert res.exit_code == 0
    assert "已换成新建的" in res.output and str(root / ".huizong" / "backup") in res.output.replace("\n", "")


def test_chinese_quotes_around_the_township_s_name_are_not_printed(ctx):
    """township: “东风镇” put the quotes into the 通报's title: “东风镇”千分制考核排名通报."""
    settings = ctx.workspace.root / "huizong.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace(f"township: {ctx.workspace.township}", "township: “东风镇”"), encoding="utf-8")
    assert api.load_context(ctx.workspace.root).workspace.township == "东风镇"


def test_a_deleted_archive_is_said_at_once(ctx):
    """Deleting archive/ was never noticed: the originals were gone, unsaid, while the recycle bin still held them."""
    root = ctx.workspace.root
    _collected(ctx, 0)
    shutil.rmtree(ctx.workspace.archive)
    res = run("status", "-w", str(root), "--period", str(PERIOD))
    assert res.exit_code == 2 and "X052" in res.output and "回收站" in res.output
    ctx.workspace.archive.mkdir()  # found nowhere: acknowledged by an empty folder
    assert run("status", "-w", str(root), "--period", str(PERIOD)).exit_code == 0


def test_repair_keeps_the_private_folders_private_and_init_refuses_a_workspace_inside_one(ctx):
    """A review: init --repair made archive/ and .huizong/ again readable by everyone (init makes them the owner's
    alone: the archive holds ID numbers); `init ws/sub` inside a workspace still made a second one there."""
    import os
    import stat

    root = ctx.workspace.root
    shutil.rmtree(ctx.workspace.state)
    shutil.rmtree(ctx.workspace.archive)
    assert run("init", str(root), "--repair").exit_code == 0
    if os.name == "posix":
        for folder in (ctx.workspace.state, ctx.workspace.archive):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    res = run("init", str(root / "inbox" / "新建"))
    assert res.exit_code == 2 and "X046" in res.output and not (root / "inbox" / "新建" / "huizong.yaml").exists()


def test_a_workspace_that_lost_both_its_state_and_archive_is_still_stopped(ctx):
    """A re-check: with .huizong and archive/ both deleted, X044 alone advised init --repair and status then said
    未报 for every village — the 汇总表 in reports/ shows the workspace was used."""
    root = ctx.workspace.root
    _collected(ctx, 0)
    assert run("consolidate", "-w", str(root), "--period", str(PERIOD)).exit_code == 0
    shutil.rmtree(ctx.workspace.state)
    shutil.rmtree(ctx.workspace.archive)
    res = run("status", "-w", str(root), "--period", str(PERIOD))
    assert res.exit_code == 2 and "X045" in res.output and "X044" in res.output


def test_accept_says_why_a_record_cannot_be_confirmed(ctx):
    _collected(ctx, 0)
    (ctx.workspace.inbox / "bad.xlsx").write_bytes(filled(ctx, 1, births_total="十二"))
    api.collect(ctx)
    from pipeline.ledger.db import Ledger

    with Ledger(ctx.workspace.ledger_path) as ledger:
        [refused] = [r["id"] for r in ledger.submissions(str(PERIOD)) if r["status"] == "退回"]
    res = run("accept", str(refused), "--note", "x", "-w", str(ctx.workspace.root))
    assert res.exit_code == 2 and "X053" in res.output and "找不到" not in res.output
    empty = run("accept", str(refused), "--note", "", "-w", str(ctx.workspace.root))
    assert "X049" in empty.output and "已电话核实" in empty.output
