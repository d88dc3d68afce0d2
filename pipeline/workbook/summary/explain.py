"""计算说明: every score of every village in words and numbers — the algorithm as the programme
states it, the village's numbers put in, the result, and what clamping cut off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...programme.formula import Template, template
from ...programme.formula import words as formula_words
from ...score.plan import SPECIAL_NAMES, raw_key
from ...score.scorer import Scored
from ..layout import text_units
from . import register_label
from .page import HEAD_ROW, start_sheet
from .styles import Styles


def fmt_number(v: float) -> str:
    if not np.isfinite(v):
        return "—"
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _names(scored: Scored) -> dict[str, str]:
    p = scored.plan.programme
    over = "month" if p.window == "month" else "ytd"
    labels = {f.id: f.label_over(over) for f in p.fields} | {t.id: t.label for t in p.tasks} | dict(SPECIAL_NAMES)
    labels |= {f["id"]: register_label(f, p.window) for f in (p.raw.get("assessment_register") or {}).get("fields", [])}
    labels["t"] = "目标任务数"
    return labels


@dataclass(frozen=True)
class _Line:
    """What 计算说明 shows for one computation, prepared once for all villages."""

    key: str
    label: str
    words: str
    keys: tuple[str, ...]  # env key of each hole of ``numbers`` — the numbers change per village
    numbers: Template | None  # the formula with holes for the numbers (None: a sum of ``parts``)
    parts: tuple[str, ...]  # per-period parts of a sum
    height: int  # printed lines of the label and the words
    cut: tuple[str, str]  # what clamping below / above says in words ("" where nothing is clamped)


def _lines_of(scored: Scored) -> list[_Line]:
    labels = _names(scored)
    scoped = {f.id: f.label for f in scored.plan.programme.fields}  # a 考核季's own values: named as reported
    out = []
    for comp in scored.plan.computations:
        clamp = ""
        if comp.role == "base" and comp.hi is not None:
            clamp = f"（限 0～{comp.hi:g}）"
        elif comp.role == "bonus" and comp.hi is not None:
            clamp = f"（0～{comp.hi:g}，加分上限）"
        elif comp.role == "bonus" and comp.lo is not None:
            clamp = "（不低于 0）"
        label = comp.label + clamp
        if comp.role in ("base", "bonus") and comp.scope is None and scored.plan.item(comp.item).per_period:
            parts = tuple(f"{comp.item}@{ps.index}:{comp.role}" for ps in scored.data.periods)
            words = "各考核季（已开始的）之和"
            out.append(_Line(comp.key, label, words, (), None, parts, max(_lines(words), _lines(label, 13)), _cut(comp)))
            continue
        names = _free_names(comp.node)
        named = labels if comp.scope is None else {**labels, **scoped}
        words = formula_words(comp.node, {n: named.get(n) or scored.plan.item(comp.item).label(n) for n in names}, veto=comp.role == "base" and scored.plan.item(comp.item).veto)
        numbers = template(comp.node, excel=False)
        keys = tuple(scored.plan.resolve(n, comp.item, comp.scope) for n in numbers.holes)
        out.append(_Line(comp.key, label, words, keys, numbers, (), max(_lines(words), _lines(label, 13)), _cut(comp)))
    return out


def _cut(comp: Any) -> tuple[str, str]:
    low = f"不低于 {comp.lo:g}" if comp.lo is not None else ""
    high = "" if comp.hi is None else (f"加分上限 {comp.hi:g}" if comp.role == "bonus" else f"不超过满分 {comp.hi:g}")
    return low, high


class _Shown:
    """Every value of the env as 计算说明 prints it, formatted once per key and village."""

    def __init__(self, env: dict[str, Any]):
        self.env = env
        self._texts: dict[str, list[str]] = {}

    def __call__(self, key: str) -> list[str]:
        if key not in self._texts:
            self._texts[key] = [fmt_number(x) for x in self.env[key].tolist()]
        return self._texts[key]


WIDTHS = (9, 28, 47, 47, 9)  # 140 units: one A4 landscape page at 100 %, so 10-pt text prints at 10 pt
# villages per 计算说明 sheet: each village starts a printed page, and Excel keeps at most 1,023 page
# breaks in a sheet (XlsxWriter drops the rest); a county's villages go on to 计算说明（2）, （3）… — which
# also keeps every sheet far below Excel's 1,048,576 rows (a sheet per 1,024 villages, ~40 rows each)
VILLAGES_PER_SHEET = 1024
TITLE = "计算说明"


def explanation_sheets(villages: int) -> list[str]:
    """The names of the 计算说明 sheets for this many scored villages (one for a township)."""
    count = max(1, -(-villages // VILLAGES_PER_SHEET))
    return [TITLE] + [f"{TITLE}（{k}）" for k in range(2, count + 1)]


def start_explanations(sheets: list[Any], st: Styles, scored: Scored, per_sheet: int | None = None) -> None:
    """Each sheet's title, note, header and page setup (the same calls wherever its lines are written).
    ``per_sheet``: villages to a sheet (``VILLAGES_PER_SHEET``; a helper process is told the caller's)."""
    order = scored.order()
    label = scored.data.programme.label(scored.data.period)
    per = per_sheet or VILLAGES_PER_SHEET
    for k, ws in enumerate(sheets):
        part = order[k * per:(k + 1) * per]
        of = f"，第 {k + 1} 张，共 {len(sheets)} 张：名次第 {int(scored.rank[part[0]])}–{int(scored.rank[part[-1]])} 名" if len(sheets) > 1 and part else ""
        start_sheet(ws, st, f"计算说明（{label}{of}）",
                    "说明：逐村逐项列出所用数据、算法（文字）、代入数值与得分；基本分限在 0～满分之间，加分限在 0～该项加分上限之间，超出的在“代入数值”中注明。每村另起一页。",
                    ["村（社区）", "项目", "算法", "代入数值", "得分"], WIDTHS)


def formats(st: Styles) -> list[Any]:
    """Every format the 计算说明 sheets use (their cells name them by number: see summary/elsewhere.py)."""
    return [st.title, st.note, st.head, *_line_formats(st)]


def _line_formats(st: Styles) -> tuple[Any, Any, Any]:
    return st.cell(text_wrap=True, font_size=10, valign="top"), st.cell(bold=True, bg_color="#EDEDED"), st.number(2)


def write_village_lines(sheets: list[Any], st: Styles, scored: Scored, per_sheet: int | None = None) -> None:
    """Each village's lines, in rank order, ``VILLAGES_PER_SHEET`` villages to a sheet, under each sheet's header
    (``start_explanations``)."""
    order = scored.order()
    prepared = _prepared(scored)
    text, head, number = _line_formats(st)
    per = per_sheet or VILLAGES_PER_SHEET
    for k, ws in enumerate(sheets):
        _write_villages(ws, scored, order[k * per:(k + 1) * per], prepared, text, head, number)


def _prepared(scored: Scored) -> list[Any]:
    """Per line: its texts, and for each hole of its numbers the formatted values of every village."""
    env = scored.env
    shown = _Shown(env)
    prepared = []
    for ln in _lines_of(scored):
        holes = [shown(key) if key in env else None for key in ln.keys]
        names = ln.numbers.holes if ln.numbers else ()
        parts = [shown(p) for p in ln.parts]
        before = env.get(raw_key(ln.key))  # the value before clamping, where there is a clamp
        prepared.append((ln, holes, names, parts, shown(ln.key), env[ln.key].tolist(),
                         None if before is None else (shown(raw_key(ln.key)), before.tolist())))
    return prepared


def _write_villages(ws: Any, scored: Scored, order: list[int], prepared: list[Any], text: Any, head: Any, number: Any) -> None:
    row = HEAD_ROW + 1
    breaks = []
    for k in order:
        v = scored.data.villages[scored.index[k]]
        if row > HEAD_ROW + 1:
            breaks.append(row)  # every village on pages of its own: its lines are handed out and defended together
        ws.set_row(row, 20)
        ws.merge_range(row, 0, row, 4, f"{v.name}　第 {int(scored.rank[k])} 名　总分 {scored.total[k]:.2f}"
                       f"（基本分 {scored.base_total[k]:.2f} + 加分 {scored.bonus_total[k]:.2f} + 登记加分 {scored.adj_bonus[k]:g}"
                       f" − 登记扣分 {scored.adj_deduction[k]:g} + 考核季排名加分 {scored.rank_bonus[k]:g}）", head)
        row += 1
        for ln, holes, names, parts, result, values, unclamped in prepared:
            if ln.numbers is None:
                numbers = " + ".join(p[k] for p in parts) or "0"
            else:
                numbers = ln.numbers.fill({n: (h[k] if h is not None else n) for n, h in zip(names, holes)})
            line = f"{numbers} = {result[k]}"
            if unclamped is not None and abs(unclamped[1][k] - values[k]) > 1e-9:  # clamping changed it: say so
                why = ln.cut[0] if unclamped[1][k] < values[k] else ln.cut[1]
                line = f"{numbers} = {unclamped[0][k]}，计 {result[k]} 分（{why}）"
            ws.write_cells(row, 0, [("s", v.name, text), ("s", ln.label, text), ("s", ln.words, text), ("s", line, text),
                                    ("n", values[k], number)])
            height = max(ln.height, _lines(line))
            if height > 1:
                ws.set_row(row, 14 * height)
            row += 1
    ws.set_h_pagebreaks(breaks)


def _lines(text: str, width: int = 24) -> int:
    """Printed lines of a wrapped cell (a CJK character is about two Latin ones wide)."""
    if len(text) < width:  # even if every character were wide
        return 1
    units = text_units(text)
    return 1 + units // (2 * width)


def _free_names(node: Any) -> list[str]:
    from ...programme.formula import names

    return sorted(names(node))


