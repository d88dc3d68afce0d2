"""The ranked summary workbook (汇总排名) — XlsxWriter, every formula live and with its value stored.

Sheets: 通报 (the ranked notice), 得分明细 (every item as a formula over 原始数据), 原始数据 (the
consolidated inputs), 计算说明 (each score in words and numbers), 乡镇合计, 奖惩, 数据质量, 图表.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import xlsxwriter

from ...programme.formula import to_excel
from ...score.plan import SPECIAL_NAMES, Computation
from ...score.scorer import Scored
from ..layout import col_letter
from .sheet import SummarySheet
from .styles import Styles

DATA_ROW = 3  # 0-based first village row in 原始数据 and 得分明细
RAW, DETAIL = "原始数据", "得分明细"


@dataclass
class SummaryInfo:
    township: str
    organ: str
    generated: datetime
    cutoff: str  # 数据截止时间
    statuses: list[Any] = field(default_factory=list)  # status.VillageStatus of the period
    warnings: list[dict[str, Any]] = field(default_factory=list)  # reading warnings of accepted files
    flagged: list[Any] = field(default_factory=list)  # quality.Flagged: out-of-line numbers of the counted reports

    def unconfirmed(self, code: str) -> list[Any]:
        """The village's out-of-line numbers the township has not confirmed yet (its 通报 row carries ※)."""
        return [f for f in self.flagged if f.village_code == code and not f.confirmed]


@dataclass
class Sheet1Map:
    """Where each value lives: column of every input key (原始数据) and computation key (得分明细)."""

    raw_cols: dict[str, int] = field(default_factory=dict)
    detail_cols: dict[str, int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def raw_ref(self, key: str, k: int, absolute_sheet: bool = True) -> str:
        return f"'{RAW}'!${col_letter(self.raw_cols[key])}{DATA_ROW + k + 1}"

    def detail_ref(self, key: str, k: int, other_sheet: bool = False) -> str:
        ref = f"${col_letter(self.detail_cols[key])}{DATA_ROW + k + 1}"
        return f"'{DETAIL}'!{ref}" if other_sheet else ref


def input_label(scored: Scored, key: str) -> str:
    p = scored.plan.programme
    name, _, scope = key.partition("@")
    suffix = f"（{p.assessment_periods[int(scope)].name}）" if scope else ""
    if name.startswith("t:"):
        return f"{name[2:]} 目标任务数（累计）{suffix}".replace("（累计）（", "（")
    labels = {f.id: f.label for f in p.fields} | {t.id: t.label for t in p.tasks} | SPECIAL_NAMES
    reg = {f["id"]: f"{f['label']}（镇考核登记）" for f in (p.raw.get("assessment_register") or {}).get("fields", [])}
    labels |= reg
    spec = next((f for f in p.fields if f.id == name), None)
    if spec is not None and not scope:
        return spec.label_over("month" if p.window == "month" else "ytd")
    return f"{labels.get(name, name)}{suffix}"


def build_summary(scored: Scored, info: SummaryInfo) -> bytes:
    buf = io.BytesIO()
    # constant_memory: rows go to temporary files as they are written (each sheet is written top to bottom),
    # so a county-sized summary does not hold every cell in memory at once
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"title": f"{info.township}{scored.plan.programme.short_name}汇总排名 {scored.data.period.chinese}",
                       "author": info.organ, "company": info.organ, "created": info.generated})
    st = Styles(wb)
    sheets = {name: wb.add_worksheet(name, worksheet_class=SummarySheet) for name in ("通报", DETAIL, RAW, "计算说明", "乡镇合计", "奖惩", "数据质量", "图表")}
    m = Sheet1Map()
    _raw_sheet(sheets[RAW], st, scored, m)
    _detail_sheet(sheets[DETAIL], st, scored, m)
    from .extras import write_explanations, write_quality, write_rewards, write_township
    from .notice import write_notice

    write_notice(wb, sheets["通报"], st, scored, info, m)
    write_explanations(sheets["计算说明"], st, scored)
    write_township(wb, sheets["乡镇合计"], sheets["图表"], st, scored, info)
    write_rewards(sheets["奖惩"], st, scored)
    write_quality(sheets["数据质量"], st, scored, info)
    sheets["通报"].activate()
    wb.close()
    return buf.getvalue()


def _sheet_head(ws: Any, st: Styles, title: str, note: str, headers: list[str], widths: Sequence[float]) -> None:
    last = len(headers) - 1
    ws.set_row(0, 28)
    ws.merge_range(0, 0, 0, max(last, 1), title, st.title)
    ws.merge_range(1, 0, 1, max(last, 1), note, st.note)
    ws.set_row(1, 30)
    ws.set_row(2, 48)
    for c, (h, w) in enumerate(zip(headers, widths)):
        ws.write_string(2, c, h, st.head)
        ws.set_column(c, c, w)
    ws.freeze_panes(DATA_ROW, 2)
    ws.set_paper(9)
    ws.set_landscape()
    ws.set_print_scale(75)  # wide tables print across pages at a readable size, names repeated
    ws.repeat_rows(2)
    ws.repeat_columns(0, 1)
    ws.set_footer("&C第 &P 页，共 &N 页")


def _raw_sheet(ws: Any, st: Styles, scored: Scored, m: Sheet1Map) -> None:
    p = scored.plan.programme
    keys = [k if s is None else f"{k}@{s}" for k, s in scored.plan.inputs]
    extra = [("adj_bonus", "加分扣分登记：加分"), ("adj_deduction", "加分扣分登记：扣分"), ("rank_bonus", "考核季排名加分")]
    month_keys = [f"month:{f.id}" for f in p.fields]
    headers = ["村代码", "村（社区）"] + [input_label(scored, k) for k in keys] + [x[1] for x in extra] + [f"{f.label}（{scored.data.period.month}月）" for f in p.fields]
    _sheet_head(ws, st, f"原始数据（{scored.data.period.chinese}，本年累计与本月）",
                "说明：各村本年累计数（按月相加；存量指标取最新月）与本月数，供“得分明细”的公式引用；不含个人信息。", headers, [14, 10] + [12] * (len(headers) - 2))
    for c, key in enumerate(keys + [x[0] for x in extra] + month_keys, start=2):
        m.raw_cols[key] = c
        m.labels[key] = headers[c]
    money = {f.id for f in p.fields if (f.decimals or 0) > 0}
    month = scored.data.monthly[scored.data.period]
    cell, nums = st.cell(), {d: st.number(d) for d in (0, 1, 2)}
    columns: list[tuple[int, Any, str | None]] = [(m.raw_cols[key], scored.env[key].tolist(), key.split("@")[0]) for key in keys]
    columns += [(m.raw_cols[key], arr.tolist(), None) for key, arr in
                (("adj_bonus", scored.adj_bonus), ("adj_deduction", scored.adj_deduction), ("rank_bonus", scored.rank_bonus))]
    monthly = [(m.raw_cols[f"month:{f.id}"], month[f.id][scored.index].tolist(), nums[2 if f.id in money else 0]) for f in p.fields]
    for k, i in enumerate(scored.index):
        v = scored.data.villages[i]
        r = DATA_ROW + k
        ws.write_string(r, 0, v.code, cell)
        ws.write_string(r, 1, v.name, cell)
        for c, values, base in columns:
            value = float(values[k])
            if base is None:  # registered bonus, deduction, rank bonus
                decimals = 0 if value.is_integer() else 2
            else:
                decimals = 2 if base in money else (1 if base.startswith("t:") else (0 if value.is_integer() else 2))
            ws.write_number(r, c, value, nums[decimals])
        for c, values, fmt in monthly:
            ws.write_number(r, c, float(values[k]), fmt)


ROW = "\x00"  # stands for the row number in a formula rendered once for every village


def _formula(c: Computation, scored: Scored, m: Sheet1Map) -> str:
    """The computation's formula with ROW for the row number (the same in every reference)."""

    def ref(name: str) -> str:
        key = scored.plan.resolve(name, c.item, c.scope)
        if key in m.detail_cols:
            return f"${col_letter(m.detail_cols[key])}{ROW}"
        return f"'{RAW}'!${col_letter(m.raw_cols[key])}{ROW}"

    body = to_excel(c.node, ref)
    if c.lo is not None and c.hi is not None:
        return f"=MIN({c.hi:g},MAX({c.lo:g},{body}))"
    if c.lo is not None:
        return f"=MAX({c.lo:g},{body})"
    return f"={body}"


def _detail_sheet(ws: Any, st: Styles, scored: Scored, m: Sheet1Map) -> None:
    comps = scored.plan.computations
    forced = bool(scored.forced_bottom.any())
    totals = [("base_total", "基本分合计"), ("bonus_total", "加分合计"), ("adj_bonus", "登记加分"), ("adj_deduction", "登记扣分"),
              ("rank_bonus", "考核季排名加分"), ("total", "总分")]
    totals += [("forced", "强制列入后几名（1=是）")] if forced else []
    totals += [("rank", "名次"), ("previous_rank", "上月名次"), ("rank_change", "名次变化")]
    headers = ["村代码", "村（社区）"] + [c.label for c in comps] + [t[1] for t in totals]
    _sheet_head(ws, st, f"得分明细（{scored.data.period.chinese}）",
                "说明：每个得分单元格都是公式，引用“原始数据”中同一行的数值；点击单元格即可看到算法。基本分限定在 0 到该项满分之间，加分不低于 0。",
                headers, [14, 10] + [11] * (len(headers) - 2))
    for c, comp in enumerate(comps, start=2):
        m.detail_cols[comp.key] = c
    for c, (key, _label) in enumerate(totals, start=2 + len(comps)):
        m.detail_cols[key] = c
    bases = [c.key for c in comps if c.scope is None and c.role == "base"]
    bonuses = [c.key for c in comps if c.scope is None and c.role == "bonus"]

    def sum_of(keys: list[str]) -> str:
        return "=" + ("+".join(f"${col_letter(m.detail_cols[x])}{ROW}" for x in keys) if keys else "0")

    def raw(key: str) -> str:
        return f"='{RAW}'!${col_letter(m.raw_cols[key])}{ROW}"

    total = "=" + "+".join(f"${col_letter(m.detail_cols[x])}{ROW}" for x in ("base_total", "bonus_total", "adj_bonus", "rank_bonus"))
    total += f"-${col_letter(m.detail_cols['adj_deduction'])}{ROW}"
    number, bold = st.number(2), st.number(2, bold=True)
    columns = [(m.detail_cols[c.key], _formula(c, scored, m), scored.env[c.key].tolist(), number) for c in comps]
    columns += [(m.detail_cols[key], formula, values.tolist(), bold if key == "total" else number) for key, formula, values in (
        ("base_total", sum_of(bases), scored.base_total), ("bonus_total", sum_of(bonuses), scored.bonus_total),
        ("adj_bonus", raw("adj_bonus"), scored.adj_bonus), ("adj_deduction", raw("adj_deduction"), scored.adj_deduction),
        ("rank_bonus", raw("rank_bonus"), scored.rank_bonus), ("total", total, scored.total))]
    rank_formula, change_formula = _rank_formulas(scored, m, forced)
    columns += [(m.detail_cols["rank"], rank_formula, scored.rank.tolist(), st.number(0, bold=True, align="center"))]
    cell, centred = st.cell(), st.cell(align="center")
    prev_col, change_col = m.detail_cols["previous_rank"], m.detail_cols["rank_change"]
    for k, i in enumerate(scored.index):
        v = scored.data.villages[i]
        r = DATA_ROW + k
        ws.write_string(r, 0, v.code, cell)
        ws.write_string(r, 1, v.name, cell)
        row = str(r + 1)
        for c, formula, values, fmt in columns:
            ws.write_formula(r, c, formula.replace(ROW, row), fmt, float(values[k]))
        if forced:
            ws.write_number(r, m.detail_cols["forced"], int(scored.forced_bottom[k]), centred)
        previous = int(scored.previous_rank[k])
        if previous:
            ws.write_number(r, prev_col, previous, centred)
        else:
            ws.write_blank(r, prev_col, None, centred)
        ws.write_formula(r, change_col, change_formula.replace(ROW, row), centred, rank_change(int(scored.rank[k]), previous))


def rank_change(rank: int, previous: int) -> str:
    """↑2 / ↓1 / →0 against last month's rank; — without one (the same text the live formula gives)."""
    if previous <= 0:
        return "—"
    if previous == rank:
        return "→0"
    return f"↑{previous - rank}" if rank < previous else f"↓{rank - previous}"


def _rank_formulas(scored: Scored, m: Sheet1Map, forced: bool) -> tuple[str, str]:
    """名次 as a live competition rank over the totals (ties within TIE share a rank, forced villages
    after all others) and 名次变化 against the stored 上月名次 — so a corrected input re-ranks."""
    from ...score.outcomes import TIE

    first, last = DATA_ROW + 1, DATA_ROW + len(scored.index)
    t = col_letter(m.detail_cols["total"])
    rng = f"${t}${first}:${t}${last}"
    ascending = scored.rules is not None and scored.rules.order == "asc"
    better = f"({rng}<${t}{ROW}-{TIE:g})" if ascending else f"({rng}>${t}{ROW}+{TIE:g})"
    if forced:
        f = col_letter(m.detail_cols["forced"])
        frng = f"${f}${first}:${f}${last}"
        rank = f"=1+SUMPRODUCT(({frng}<${f}{ROW})*1)+SUMPRODUCT(({frng}=${f}{ROW})*{better})"
    else:
        rank = f"=1+SUMPRODUCT({better}*1)"
    r, p = f"${col_letter(m.detail_cols['rank'])}{ROW}", f"${col_letter(m.detail_cols['previous_rank'])}{ROW}"
    change = f'=IF({p}="","—",IF({p}={r},"→0",IF({r}<{p},"↑"&({p}-{r}),"↓"&({r}-{p}))))'
    return rank, change


def as_float(x: Any) -> float:
    return float(np.asarray(x))
