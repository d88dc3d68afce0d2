"""原始数据 (the consolidated inputs) and 得分明细 (every computation as a live formula over them,
with its value stored), each laid out in page-wide blocks (see grid.py)."""

from __future__ import annotations

import math
from typing import Any

from ...programme.formula import to_excel
from ...score.outcomes import TIE
from ...score.plan import Computation
from ...score.scorer import Scored
from .grid import Block, Column, Grid, RowFormula, pack, write_blocks
from .page import landscape
from .sheet import Cell
from .styles import Styles

RAW, DETAIL = "原始数据", "得分明细"
TOP = 2  # 0-based row of the first block's title (rows 0–1: the sheet's title and note)


def _sheet_top(ws: Any, st: Styles, title: str, note: str, grid: Grid) -> None:
    width = max((2 + len(b.columns) for b in grid.blocks), default=2) - 1
    ws.set_row(0, 28)
    ws.merge_range(0, 0, 0, width, title, st.title)
    ws.set_row(1, 30)
    ws.merge_range(1, 0, 1, width, note, st.note)
    ws.freeze_panes(0, 2)
    landscape(ws)  # every block is one page wide: fitting to the width keeps the text at its size
    ws.repeat_rows(0)


def write_raw(ws: Any, st: Styles, scored: Scored, input_label: Any) -> Grid:
    p = scored.plan.programme
    keys = [k if s is None else f"{k}@{s}" for k, s in scored.plan.inputs]
    columns = [Column(k, input_label(scored, k), 12.0, "本年累计（计分所用）") for k in keys]
    columns += [Column(key, label, 12.0, "登记与排名加减分") for key, label in
                (("adj_bonus", "加分扣分登记：加分"), ("adj_deduction", "加分扣分登记：扣分"), ("rank_bonus", "考核季排名加分"))]
    columns += [Column(f"month:{f.id}", f.label_over("month"), 12.0, f"本月（{scored.data.period.month}月）报表，仅供核对") for f in p.measures]
    said = [f for f in p.fields if not f.numeric]  # text, choices, dates: shown as reported (never computed with)
    columns += [Column(f"text:{f.id}", f.label, 18.0, f"本月（{scored.data.period.month}月）报表：文字") for f in said]
    grid = pack(columns, len(scored.index), TOP)
    _sheet_top(ws, st, f"原始数据（{scored.data.programme.label(scored.data.period)}）",
               ("说明：各村计分所用的数（流量按月累计，存量取最新月末数）与登记加减分，供“得分明细”的公式引用：改正其中一个数，得分、总分和名次一起重算。"
                "“本月”各列只供核对，不参与计算；考核季排名加分按各考核季末的名次算出，改动其他数不会重新分配。不含个人信息。"), grid)
    money = {f.id for f in p.fields if (f.decimals or 0) > 0}
    month = scored.data.monthly[scored.data.period]
    nums = {d: st.number(d) for d in (0, 1, 2)}
    dash = st.cell(align="center", font_color="#808080")
    wrap = st.cell(text_wrap=True, font_size=10)
    values: dict[str, list[float]] = {k: scored.env[k].tolist() for k in keys}
    values |= {"adj_bonus": scored.adj_bonus.tolist(), "adj_deduction": scored.adj_deduction.tolist(), "rank_bonus": scored.rank_bonus.tolist()}
    values |= {f"month:{f.id}": month[f.id][scored.index].tolist() for f in p.measures}

    def decimals(key: str, value: float) -> int:
        base = key.split("@")[0].removeprefix("month:")
        if base in money:
            return 2
        if base.startswith("t:"):
            return 1
        return 0 if value.is_integer() else 2

    codes = scored.codes

    def fill(block: Block, k: int, row: int) -> list[Cell]:
        out: list[Cell] = []
        for col in block.columns:
            if col.key.startswith("text:"):
                text = scored.data.texts.get(codes[k], {}).get(col.key[5:], "")
                out.append(("s", text, wrap))  # a village's words, written as inert text
                continue
            value = float(values[col.key][k])
            if math.isfinite(value):
                out.append(("n", value, nums[decimals(col.key, value)]))
            else:  # a field the month's report did not have (added to the programme later): no number, never a 0
                out.append(("s", "—", dash))
        return out

    villages = [scored.data.villages[i] for i in scored.index]
    write_blocks(ws, grid, villages, (st.block_title, st.head, st.cell()), fill)
    return grid


def _formula(c: Computation, scored: Scored, raw: Grid, detail: Grid) -> str:
    """The computation's formula, every reference with a hole for its row (filled per village)."""

    def ref(name: str) -> str:
        key = scored.plan.resolve(name, c.item, c.scope)
        if key in detail.pos:
            return detail.hole(key)
        return raw.hole(key, f"'{RAW}'!")

    body = to_excel(c.node, ref)
    if c.lo is not None and c.hi is not None:
        return f"=MIN({c.hi:g},MAX({c.lo:g},{body}))"
    if c.lo is not None:
        return f"=MAX({c.lo:g},{body})"
    return f"={body}"


def write_detail(ws: Any, st: Styles, scored: Scored, raw: Grid) -> Grid:
    from . import rank_change

    comps = scored.plan.computations
    forced = bool(scored.forced_bottom.any())
    items = {i.code: i for i in scored.plan.items}
    columns = [Column(c.key, c.label, 11.0, f"{c.item} {items[c.item].name}") for c in comps]
    totals = [("base_total", "基本分合计"), ("bonus_total", "加分合计"), ("adj_bonus", "登记加分"), ("adj_deduction", "登记扣分"),
              ("rank_bonus", "考核季排名加分"), ("total", "总分")]
    totals += [("forced", "强制列入后几名（1=是）")] if forced else []
    totals += [("rank", "名次"), ("previous_rank", "上月名次"), ("rank_change", "名次变化")]
    columns += [Column(key, label, 10.0, "总分与名次") for key, label in totals]
    grid = pack(columns, len(scored.index), TOP)
    _sheet_top(ws, st, f"得分明细（{scored.data.programme.label(scored.data.period)}）",
               "说明：每个得分单元格都是公式，引用“原始数据”中同一村的数值，点击单元格即可看到算法；基本分限在 0～该项满分之间，加分限在 0～该项加分上限之间。", grid)
    bases = [c.key for c in comps if c.scope is None and c.role == "base"]
    bonuses = [c.key for c in comps if c.scope is None and c.role == "bonus"]

    def sum_of(keys: list[str]) -> str:
        return "=" + ("+".join(grid.hole(x) for x in keys) if keys else "0")

    total = "=" + "+".join(grid.hole(x) for x in ("base_total", "bonus_total", "adj_bonus", "rank_bonus")) + "-" + grid.hole("adj_deduction")
    number, bold = st.number(2), st.number(2, bold=True)
    cells: dict[str, tuple[RowFormula, list[Any], Any]] = {
        c.key: (RowFormula(_formula(c, scored, raw, grid)), scored.env[c.key].tolist(), number) for c in comps}
    for key, formula, values in (
        ("base_total", sum_of(bases), scored.base_total), ("bonus_total", sum_of(bonuses), scored.bonus_total),
        ("adj_bonus", "=" + raw.hole("adj_bonus", f"'{RAW}'!"), scored.adj_bonus),
        ("adj_deduction", "=" + raw.hole("adj_deduction", f"'{RAW}'!"), scored.adj_deduction),
        ("rank_bonus", "=" + raw.hole("rank_bonus", f"'{RAW}'!"), scored.rank_bonus), ("total", total, scored.total)):
        cells[key] = (RowFormula(formula), values.tolist(), bold if key == "total" else number)
    rank, change = _rank_formulas(scored, grid, forced)
    centred = st.cell(align="center")
    cells["rank"] = (RowFormula(rank), scored.rank.tolist(), st.number(0, bold=True, align="center"))
    ranks, previous = scored.rank.tolist(), scored.previous_rank.tolist()
    changes = [rank_change(int(r), int(p)) for r, p in zip(ranks, previous)]
    cells["rank_change"] = (RowFormula(change), changes, centred)

    # a column's formulas differ only in their row numbers: whether XlsxWriter needs to do more than drop
    # the "=" is decided once per column ("F"), not for each of its cells ("f")
    kinds = {key: ("f" if ws.prepared_formula(formula.fill(0)) is None else "F") for key, (formula, _, _) in cells.items()}

    def fill(block: Block, k: int, row: int) -> list[Cell]:
        out: list[Cell] = []
        for col in block.columns:
            if col.key == "forced":
                out.append(("n", int(scored.forced_bottom[k]), centred))
            elif col.key == "previous_rank":
                out.append(("n", int(previous[k]), centred) if previous[k] else ("b", None, centred))
            else:
                formula, values, fmt = cells[col.key]
                value = values[k]
                kind = kinds[col.key]
                text = formula.fill(k)
                out.append((kind, text if kind == "f" else text[1:], fmt, value if isinstance(value, str) else float(value)))
        return out

    villages = [scored.data.villages[i] for i in scored.index]
    write_blocks(ws, grid, villages, (st.block_title, st.head, st.cell()), fill)
    return grid


def _rank_formulas(scored: Scored, grid: Grid, forced: bool) -> tuple[str, str]:
    """名次 as a live competition rank over the totals (ties within TIE share a rank, forced villages
    after all others) and 名次变化 against the stored 上月名次 — so a corrected input re-ranks."""
    rng, me = grid.column_range("total"), grid.hole("total")
    ascending = scored.rules is not None and scored.rules.order == "asc"
    better = f"({rng}<{me}-{TIE:g})" if ascending else f"({rng}>{me}+{TIE:g})"
    if forced:
        frng, fme = grid.column_range("forced"), grid.hole("forced")
        rank = f"=1+SUMPRODUCT(({frng}<{fme})*1)+SUMPRODUCT(({frng}={fme})*{better})"
    else:
        rank = f"=1+SUMPRODUCT({better}*1)"
    r, p = grid.hole("rank"), grid.hole("previous_rank")
    change = f'=IF({p}="","—",IF({p}={r},"→0",IF({r}<{p},"↑"&({p}-{r}),"↓"&({r}-{p}))))'
    return rank, change
