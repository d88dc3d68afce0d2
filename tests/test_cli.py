"""The huizong command as a clerk (or another program) uses it: messages, JSON, exit codes, feedback."""

from __future__ import annotations

import json
import re

import openpyxl
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.problems import CATALOGUE, Problem

from .conftest import filled

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_every_catalogue_message_formats_in_chinese():
    for code in CATALOGUE:
        p = Problem(code, file="f.xlsx", sheet="月报", cell="D8", field="births_total", label="本月出生数", value="12", detail="x")
        assert re.search(r"[\u4e00-\u9fff]", p.message), code
        assert p.to_dict()["severity"] in ("错误", "警告")


def test_validate_exit_codes_and_json(ctx, tmp_path):
    good = tmp_path / "good.xlsx"
    good.write_bytes(filled(ctx, 0))
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(filled(ctx, 1, births_total="十二", phone="打电话"))
    res = run("validate", str(good), "-w", str(ctx.workspace.root))
    assert res.exit_code == 0, res.output
    assert "校验通过" in res.output
    res = run("validate", str(good), str(bad), "-w", str(ctx.workspace.root), "--json")
    assert res.exit_code == 1
    data = json.loads(res.output)
    assert [d["valid"] for d in data] == [True, False]
    issue = next(i for i in data[1]["issues"] if i["field"] == "births_total")
    assert {"code", "severity", "sheet", "cell", "field", "value", "message"} <= issue.keys()
    assert (issue["code"], issue["severity"], issue["sheet"], issue["cell"], issue["value"]) == ("V007", "错误", "月报", "D8", "十二")
    # human output: every problem of every file at once, with file, sheet, cell and value
    res = run("validate", str(good), str(bad), "-w", str(ctx.workspace.root))
    assert "✘ bad.xlsx" in res.output and "[月报] D8" in res.output and "“十二”" in res.output


def test_validate_without_workspace_still_checks_content(ctx, tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(filled(ctx, 1, deaths_total=1, deaths_reported_timely=2))
    res = run("validate", str(bad))
    assert res.exit_code == 1 and "R001" in res.output


def test_usage_errors_exit_2(tmp_path):
    assert run("validate").exit_code == 2
    assert run("status", "-w", str(tmp_path), "--period", "2026-10").exit_code == 2  # not a workspace
    res = run("validate", str(tmp_path / "missing.xlsx"))
    assert res.exit_code == 1 and "找不到文件" in res.output


def test_many_problems_are_capped_with_a_notice(ctx, tmp_path):
    reg = [{"baby_name": "", "sex": "未知", "birth_date": "昨天", "birth_order": 99, "mother_name": "", "mother_id": "123", "report_status": "?"}] * 12
    bad = tmp_path / "many.xlsx"
    bad.write_bytes(filled(ctx, 0, register=reg))
    res = run("validate", str(bad))
    assert res.exit_code == 1
    assert "还有" in res.output and "处问题未列出" in res.output
    data = json.loads(run("validate", str(bad), "--json").output)
    assert len(data[0]["issues"]) > 50  # JSON lists them all


def test_feedback_copy_marks_cells_and_lists_problems(ctx, tmp_path):
    bad = tmp_path / "白石村.xlsx"
    bad.write_bytes(filled(ctx, 1, births_total="十二", deaths_total=0, deaths_reported_timely=1))
    out = tmp_path / "feedback"
    res = run("validate", str(bad), "-w", str(ctx.workspace.root), "--feedback", str(out))
    assert res.exit_code == 1
    (copy,) = out.glob("*.xlsx")
    wb = openpyxl.load_workbook(copy)
    assert wb.sheetnames[0] == "校验结果"
    listing = [[c.value for c in row] for row in wb["校验结果"].iter_rows(min_row=5)]
    assert any(r[3] == "D8" and r[1] == "错误" for r in listing)
    d8 = wb["月报"]["D8"]
    assert d8.fill.fgColor.rgb.endswith("FFC7CE") and "V007" in d8.comment.text
    assert d8.value == "十二"  # their own workbook, their own value
    assert "R001" in wb["月报"]["D12"].comment.text


def test_init_templates_status_accept(tmp_path):
    ws = tmp_path / "镇"
    assert run("init", str(ws)).exit_code == 0
    assert run("init", str(ws)).exit_code == 2
    res = run("templates", "-w", str(ws), "--period", "2026-10")
    assert res.exit_code == 0 and "19 份" in res.output
    assert len(list((ws / "templates" / "2026-10").glob("*.xlsx"))) == 19
    assert run("templates", "-w", str(ws), "--period", "2026-13").exit_code == 2
    res = run("status", "-w", str(ws), "--period", "2026-10", "--json")
    states = json.loads(res.output)
    assert len(states) == 19 and {s["state"] for s in states} == {"未报"}
    assert run("accept", "99", "--note", "x", "-w", str(ws)).exit_code == 2


def test_problem_code_docs_are_current():
    from pathlib import Path

    from pipeline.problems import catalogue_markdown

    docs = Path(__file__).resolve().parent.parent / "docs" / "问题代码.md"
    assert docs.read_text(encoding="utf-8") == catalogue_markdown(), "运行 python scripts/refresh_templates.py 更新文档"


def test_consolidate_without_reports_says_so_and_with_reports_prints_the_table(ctx):
    res = run("consolidate", "-w", str(ctx.workspace.root), "--period", "2026-10")
    assert res.exit_code == 2 and "X008" in res.output and "没有任何村的已接收报表" in res.output
    for i in range(3):
        (ctx.workspace.inbox / f"{i}.xlsx").write_bytes(filled(ctx, i))
    assert run("collect", "-w", str(ctx.workspace.root)).exit_code == 0
    res = run("consolidate", "-w", str(ctx.workspace.root), "--period", "2026-10", "--json")
    assert res.exit_code == 0
    table = json.loads(res.output)
    assert [v["rank"] for v in table["villages"]] == sorted(v["rank"] for v in table["villages"])
    assert len(table["not_scored"]) == len(ctx.registry.villages) - 3
    res = run("consolidate", "-w", str(ctx.workspace.root), "--period", "2026-10")
    assert "汇总表" in res.output and "未参评" in res.output


def test_button_writes_its_outcome_text_for_an_unexpected_error_too(workspace, tmp_path):
    # the console's command-line route reads --out-text; without it the clerk saw X032 "cannot run huizong"
    import subprocess
    import sys

    from pipeline import actions

    (workspace / ".huizong" / "ledger.sqlite").write_bytes(b"not a database " * 20)  # sqlite3.DatabaseError: a defect, not a HuizongError
    out = tmp_path / "结果 outcome.txt"
    done = subprocess.run([sys.executable, "-m", "pipeline", "button", "collect", "-w", str(workspace), "--period", "2026-10",
                           "--out-text", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    text = out.read_bytes().decode("utf-8")
    assert text.startswith(actions.TEXT_MAGIC + "\r\nok\t0\r\ntext\t程序内部错误（DatabaseError: file is not a database，详情已记入 .huizong/button.log）")
    assert text.endswith("end\r\n")
    log = (workspace / ".huizong" / "button.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "sqlite3.DatabaseError" in log


def test_a_registry_error_is_printed_once_when_consolidation_stops_for_it(workspace):
    """The 村名册's problems are printed when the workspace is opened; consolidation, stopping for them, printed
    them all a second time."""
    import openpyxl

    path = workspace / "村名册.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    header = next(r for r in ws.iter_rows(min_row=1, max_row=10) if any(c.value == "户籍人口" for c in r))
    column = next(c.column_letter for c in header if c.value == "户籍人口")
    ws[f"{column}{header[0].row + 1}"] = 0
    wb.save(path)
    result = runner.invoke(app, ["consolidate", "-w", str(workspace), "--period", "2026-10"])
    assert result.exit_code == 2
    assert result.output.count("户籍人口不能为 0") == 1, result.output


def test_an_unexpected_failure_is_said_even_when_its_own_text_fails(tmp_path):
    """The helper every face uses for an unexpected failure crashed itself on an exception whose text cannot be
    made, or a traceback the log could not encode: the service then never marked its job failed."""
    from pipeline.workspace import unexpected

    class Odd(Exception):
        def __str__(self):
            raise ValueError("no text")

    try:
        raise Odd()
    except Odd as exc:
        problem = unexpected(exc, tmp_path / "x.log")
    assert problem.code == "X013" and "Odd" in problem.message
    try:
        raise OSError(5, "读写错误", "C:\\报表\udcff.xlsx")
    except OSError as exc:
        problem = unexpected(exc, tmp_path / "x.log")
    assert problem.code == "X013" and "详情已记入" in problem.message and "udcff" in (tmp_path / "x.log").read_text(encoding="utf-8")


def test_collect_says_why_each_file_was_sent_back(ctx):
    """collect printed only 退回 … 错误 1: the reason (a zip, a blank cell) was inside the annotated copies alone."""
    root = ctx.workspace.root
    (root / "inbox" / "青龙村.xlsx").write_bytes(filled(ctx, 0, births_total="十二"))
    (root / "inbox" / "白石村.xlsx").write_bytes(filled(ctx, 1))
    res = run("collect", "-w", str(root))
    assert "退回和待确认的原因" in res.output, res.output
    lines = res.output.split("退回和待确认的原因")[1]
    assert "青龙村.xlsx：" in lines and "十二" in lines and "白石村" not in lines


@pytest.mark.parametrize("argv, said", [
    (["status", "-w", "/tmp/汇总", "2026-07"], "多出了“2026-07”：路径中有空格的"),
    (["status", "--period"], "--period 后面要写上值"),
    (["accept", "3"], "缺少 --note"),
    (["statsu"], "没有 statsu 这个命令（是不是 status？）"),
    (["status", "--perod", "2026-07"], "没有 --perod 这个选项（是不是 --period？）"),
    (["void", "abc", "--note", "误收"], "要作废的记录号应为整数"),
    (["init", "--programme"], "--programme 后面要写上值。"),
])
def test_a_command_line_mistake_is_said_in_chinese(argv, said, capsys):
    """The command-line library said 'Got unexpected extra argument(s)', 'Missing option' — in English."""
    from pipeline.cli import main

    with pytest.raises(SystemExit) as done:
        main(argv)
    text = capsys.readouterr()
    assert done.value.code == 2
    assert said in text.out + text.err and "X050" in text.out + text.err
    assert not re.search(r"Error|Usage|Missing|unexpected", text.out + text.err)


def test_huizong_alone_shows_its_help(capsys):
    """A review: with the Chinese usage errors, `huizong` alone printed its whole help as 命令的写法不对."""
    from pipeline.cli import main

    with pytest.raises(SystemExit) as done:
        main([])
    text = capsys.readouterr().out
    assert done.value.code == 2 and "consolidate" in text and "X050" not in text
