"""Golden texts: what the clerk reads for a few problems, word for word, from real files."""

from __future__ import annotations

from pipeline.check import check_bytes
from pipeline.problems import Problem

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
