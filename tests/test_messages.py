"""Golden texts: what the clerk reads for a few problems, word for word, from real files."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pipeline.check import check_bytes
from pipeline.problems import CATALOGUE, RESERVED, Problem

from .conftest import filled


def messages(ctx, data: bytes, name: str = "月报.xlsx") -> dict[tuple[str, str], str]:
    check = check_bytes(data, name, ctx.programme, ctx.registry, ctx.secret)
    return {(p.code, p.field): p.message for p in check.problems}


def test_r001_names_both_values_in_closed_brackets(ctx):
    # 3 reported of 1 born: the message once read "…“本月出生数”（1”。" (a bracket left open)
    got = messages(ctx, filled(ctx, 0, births_total=1, births_reported=3, births_reported_late=0))
    assert got[("R001", "births_reported")] == "“已上报出生数”（3）不能大于“本月出生数”（1）。"


def test_r002_register_count_message(ctx):
    got = messages(ctx, filled(ctx, 0, births_total=7))
    text = got[("R002", "births_total")]
    assert text.startswith("“本月出生数”（7）应等于“出生登记”表中") and text.endswith("行数 2。"), text


def test_value_messages_read_as_written(ctx):
    got = messages(ctx, filled(ctx, 1, births_total="十二", deaths_total=""))
    assert got[("V007", "births_total")] == "“本月出生数”填写的“十二”含义不明确（请写成阿拉伯数字 12）。请只填一个准确的阿拉伯数字。"
    assert got[("V001", "deaths_total")] == "“死亡人数”未填写。没有发生请填 0。"


def test_file_level_messages():
    assert Problem("F001", file="a.xlsx").message == "文件为空（0 字节），请重新保存后再发送。"
    assert Problem("F008", file="a.xlsx", detail="部件 xl/styles.xml 数据校验失败").message == (
        "文件不完整或已损坏（部件 xl/styles.xml 数据校验失败），可能是下载或发送中断。请重新保存后再发送。"
    )
    assert Problem("F011", sheet="月报", detail="1048576 行 × 16384 列").message == (
        "表格过大（工作表“月报”：1048576 行 × 16384 列），超过允许的上限，已停止读取。请删除模板以外的多余行列后再发送。"
    )


# ---- one catalogue: every code the source emits is in it, every code in it is emitted or reserved ----

PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"
CODE = re.compile(r"[FSVRIMCX]\d{3}")


def _code_literals() -> dict[str, set[str]]:
    """Every string constant of pipeline/ that is a problem code ("F008", as in Problem("F008", …),
    fail("F008"), ("V010", shown, detail) notes, CONFIRM_CODES …), with the files it is in; docstrings aside."""
    found: dict[str, set[str]] = {}
    for path in sorted(PIPELINE.rglob("*.py")):
        if path.name == "problems.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if CODE.fullmatch(node.value):
                    found.setdefault(node.value, set()).add(str(path.relative_to(PIPELINE.parent)))
    return found


def test_every_code_the_source_emits_is_in_the_catalogue():
    emitted = _code_literals()
    assert emitted, "the scan found no codes at all"
    unknown = {code: files for code, files in emitted.items() if code not in CATALOGUE}
    assert not unknown, f"codes used but not catalogued: {unknown}"


def test_every_catalogued_code_is_emitted_or_reserved_with_a_reason():
    emitted = _code_literals()
    assert set(RESERVED) <= set(CATALOGUE)
    assert all(len(reason) > 10 for reason in RESERVED.values())
    silent = sorted(set(CATALOGUE) - set(emitted) - set(RESERVED))
    assert not silent, f"catalogued, never emitted, not reserved: {silent}"


def test_no_message_carries_a_code_written_by_hand():
    # "[错误 X005] 请用 --period …" printed as text escapes the catalogue: messages are built from Problems
    hand = re.compile(r"\[(?:错误|警告) ?[A-Z]\d{3}\]")
    for path in PIPELINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not hand.search(node.value), (path, node.value)


def test_cli_messages_golden():
    assert Problem("X010", detail="（或用 --blank 生成空白模板）").message == "请用 --period 指定报告期，如 --period 2026-10（或用 --blank 生成空白模板）。"
    assert Problem("X011", detail="archive/ab").message.startswith("磁盘空间不足，无法写入“archive/ab”。已收到的文件都还在收件箱或已原样归档，没有丢失")
    assert Problem("F014", detail="可能是文件中有读取程序无法处理的内容").message.startswith(
        "读取这个文件时检查程序异常退出（可能是文件中有读取程序无法处理的内容），单独重试一次仍然如此")


def test_a_percent_field_with_words_in_it_is_v016():
    from pipeline.programme.config import FieldSpec
    from pipeline.workbook.normalise import normalise

    spec = FieldSpec(id="phone_ok_rate", label="联系号码准确率", type="percent", min=0, max=100)
    out = normalise("七成", spec)
    assert [code for code, _shown, _detail in out.notes] == ["V016"] and not out.ok
    assert Problem("V016", label=spec.label, value="七成").message == "“联系号码准确率”应为百分数，填写的是“七成”。请填写如 75 或 75%。"
