"""The 通报 sheet: the ranked table leaders read and print (A4 landscape, official typography)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...quality import COUNT_DOUBT, DOUBT_FACTOR, REGISTER_DOUBT, REGISTER_MARGIN, Doubts, empty_months_line
from ...score.scorer import Scored
from ..layout import text_units
from . import Sheet1Map, SummaryInfo, rank_change
from .page import DEFAULT_ROW, landscape, one_page_if_short
from .styles import BANDS, CRITICISE_FILL, MISSING_FILL, NA_FILL, PRAISE_FILL, Styles, band


def not_ranked_names(scored: Scored, statuses: Sequence[Any]) -> list[str]:
    """Every village of the period not in the ranking, with why — the 通报's 未参评 line and the command's."""
    d = scored.data
    out = [f"{s.name}（{s.state}）" for s in statuses if s.state != "已报"] + [f"{v.name}（一票否决）" for v, _ in scored.vetoed]
    # a report from a village the 村名册 says is not taking part this month: an 起始/停止月份 typo hides it otherwise
    out += [f"{s.name}（本期不参加，但有报表，请核对村名册）" for s in statuses
            if s.state == "已报" and (v := d.village_by_code.get(s.code)) is not None and not v.active(d.period)]
    return out + [f"{v.name}（{'、'.join(flags)}）" for v, flags in scored.unranked]


def verdicts(scored: Scored) -> list[str]:
    return scored.verdicts


def category_max(scored: Scored) -> dict[str, float]:
    out: dict[str, float] = {}
    periods = len(scored.data.periods)
    for item in scored.plan.items:
        out[item.category] = out.get(item.category, 0.0) + (item.period_max * periods if item.per_period else item.max)
    return out


def write_notice(wb: Any, ws: Any, st: Styles, scored: Scored, info: SummaryInfo, m: Sheet1Map, doubted: Doubts) -> None:
    p = scored.plan.programme
    d = scored.data
    cats = scored.plan.categories
    cmax = category_max(scored)
    rules = scored.rules
    ascending = rules is not None and rules.order == "asc"
    total_label = rules.total_label if rules else "总分"
    unit = p.unit_label
    doubts, counts, outside = doubted.registry, doubted.counts, doubted.outside  # the same lists 数据质量 gives
    has_bonus = scored.bonus_attainable > 0
    bonus_head = [f"加分\n（≤{scored.bonus_attainable:g}）"] if has_bonus else []
    headers = (["名次", "名次变化", f"{unit}名", total_label] + ([f"{c}\n（{cmax[c]:g}）" for c in cats] if not ascending else [c for c in cats])
               + bonus_head + ["登记加减分", "备注"])
    widths = [6, 8, 11, max(9, text_units(total_label) + 2)] + [9] * len(cats) + [9] * len(bonus_head) + [9]
    widths.append(max(24, min(60, 130 - sum(widths))))  # 备注 takes the page width a programme of few columns leaves
    per_line = widths[-1] * 2 // 3  # characters of a 9-point remark on one line
    last = len(headers) - 1
    months = d.months
    span = f"{months[0].year}年{months[0].month}—{months[-1].month}月" if len(months) > 1 else p.label(d.period)
    if p.period_kind == "quarter" and len(months) > 1:
        span = f"{p.label(months[0])}至{p.label(months[-1])[5:]}"
    heights: dict[int, float] = {}  # rows set taller than the default, to know how the sheet prints

    def tall(r: int, points: float) -> None:
        heights[r] = points
        ws.set_row(r, points)

    tall(0, 36)
    ws.merge_range(0, 0, 0, last, f"{info.township}{p.short_name}排名通报", st.title)
    window = p.window
    ws.merge_range(1, 0, 1, last, f"（{span}累计）" if window != "month" else f"（{d.programme.label(d.period)}）", st.subtitle)
    missing = [s for s in info.statuses if s.state != "已报"]
    not_ranked = not_ranked_names(scored, info.statuses)
    full = f"按{total_label}从低到高排名"
    if not ascending:
        full = f"满分（截至本期）：{scored.attainable:g} 分" + (f"，各项加分合计最多 {scored.bonus_attainable:g} 分" if has_bonus else "")
    late = [s.name for s in info.statuses if s.state == "已报" and s.late]
    everyone = f"；全部已报，其中迟报 {len(late)} 个：" + "、".join(late) if late else "；全部按时上报"
    lines = [
        f"考核方案：{p.name}　报告期：{d.programme.label(d.period)}　{full}",
        f"数据截止：{info.cutoff}　参评 {len(scored.index)} 个村（社区）"
        + (f"；未参评 {len(not_ranked)} 个：" + "、".join(not_ranked) if not_ranked else everyone),
    ]
    # months of the year no village has a report for (a township that began using huizong in July): the sums
    # are of fewer months than the targets, and the 通报 must not read as the year's
    empty = empty_months_line(d)
    if empty:
        lines.append(empty)
    width = sum(widths)
    for r, text in enumerate(lines, start=2):
        ws.merge_range(r, 0, r, last, text, st.meta if r < 4 else st.get(font_name="宋体", font_size=10, bold=True, font_color="#C00000",
                                                                            text_wrap=True, valign="vcenter"))
        units = text_units(text)
        tall(r, 18 * (1 + units // max(width, 1)))
    head_row = 5
    tall(head_row, 40)
    for c, (h, w) in enumerate(zip(headers, widths)):
        ws.write_string(head_row, c, h, st.head)
        ws.set_column(c, c, w)
    verdict = verdicts(scored)
    statuses = {s.code: s for s in info.statuses}
    items_by_cat: dict[str, list[str]] = {}
    for item in scored.plan.items:
        items_by_cat.setdefault(item.category, []).append(item.code)
    row = head_row + 1
    first_data = row
    for k in scored.order():
        name = scored.data.villages[scored.index[k]].name
        waiting = info.unconfirmed(scored.codes[k])
        if waiting:
            name += "※"
        fill = {"通报表扬": PRAISE_FILL, "通报批评": CRITICISE_FILL}.get(verdict[k])
        plain = st.cell(align="center", **({"bg_color": fill} if fill else {}))
        ws.write_formula(row, 0, f"={m.detail_ref('rank', k, other_sheet=True)}",
                         st.cell(align="center", bold=True, num_format="0", **({"bg_color": fill} if fill else {})), int(scored.rank[k]))
        change = rank_change(int(scored.rank[k]), int(scored.previous_rank[k]))
        ws.write_formula(row, 1, f"={m.detail_ref('rank_change', k, other_sheet=True)}", st.cell(align="center", font_color="#595959"), change)
        ws.write_string(row, 2, name, plain)
        ws.write_formula(row, 3, f"={m.detail_ref('total', k, other_sheet=True)}", st.number(2, bold=True), float(scored.total[k]))
        for c, cat in enumerate(cats, start=4):
            keys = [f"{code}:base" for code in items_by_cat[cat]]
            value = float(scored.category_scores[cat][k])
            colour_fill = band(value / cmax[cat] if cmax[cat] else 1.0)[0] if not ascending else "#FFFFFF"
            formula = "=" + "+".join(m.detail_ref(x, k, other_sheet=True) for x in keys)
            ws.write_formula(row, c, formula, st.number(2, bg_color=colour_fill), value)
        if has_bonus:
            ws.write_formula(row, 4 + len(cats), f"={m.detail_ref('bonus_total', k, True)}", st.number(2), float(scored.bonus_total[k]))
        adj = float(scored.adj_bonus[k] - scored.adj_deduction[k] + scored.rank_bonus[k])
        adj_formula = f"={m.detail_ref('adj_bonus', k, True)}-{m.detail_ref('adj_deduction', k, True)}+{m.detail_ref('rank_bonus', k, True)}"
        ws.write_formula(row, last - 1, adj_formula, st.number(2), adj)
        notes = [verdict[k]] + (["※含待核实数据"] if waiting else []) + (["村名册待核实"] if scored.codes[k] in doubts or scored.codes[k] in outside else [])
        notes += ["加分扣分登记待核实"] if scored.codes[k] in counts else []
        notes += ["镇考核登记待核实"] if scored.codes[k] in doubted.register else []
        notes += scored.flags[k] + scored.rank_bonus_detail[k] + progress(scored, k)
        status = statuses.get(scored.codes[k])
        if status is not None and status.late:
            notes.append("迟报")
        if status is not None and status.correction:
            notes.append(f"更正件{status.correction}，按第 {status.version} 版计")
        note = "；".join(x for x in notes if x)
        ws.write_string(row, last, note, st.cell(font_size=9, text_wrap=True))
        if len(note) > per_line:
            tall(row, 15 * (1 + len(note) // per_line))
        row += 1
    last_data = row - 1
    if last_data >= first_data and not ascending:  # a rate is never averaged: 乡镇合计 recomputes it
        ws.write_string(row, 2, "全镇平均", st.cell(bold=True, align="center"))
        for c in range(3, last):
            col = _col(c)
            avg = _average(ws, row, c, first_data, last_data, col)
            ws.write_formula(row, c, avg, st.number(2, bold=True), _mean(scored, c, cats, has_bonus))
        ws.write_blank(row, 0, None, st.cell())
        ws.write_blank(row, 1, None, st.cell())
        ws.write_blank(row, last, None, st.cell())
        row += 1
    excluded = [(v, "一票否决", flags) for v, flags in scored.vetoed] + [(v, "不参与排名", flags) for v, flags in scored.unranked]
    for v, state, flags in excluded:
        red = st.cell(align="center", bg_color=CRITICISE_FILL, italic=True)
        for c in range(0, last):
            ws.write_string(row, c, {0: "—", 1: "—", 2: v.name, 3: state}.get(c, "不参评"), red)
        ws.write_string(row, last, "；".join(flags), st.cell(font_size=9, text_wrap=True, bg_color=CRITICISE_FILL))
        row += 1
    for s in missing:
        grey = st.cell(align="center", bg_color=MISSING_FILL, italic=True)
        ws.write_string(row, 0, "—", grey)
        ws.write_string(row, 1, "—", grey)
        ws.write_string(row, 2, s.name, grey)
        ws.write_string(row, 3, s.state, grey)
        for c in range(4, last):
            ws.write_string(row, c, "不参评", grey)
        ws.write_string(row, last, "本期未报，不计分" if s.state == "未报" else f"本期{s.state}，不计分", grey)
        row += 1
    row += 1
    ws.write_string(row, 0, "图例：", st.get(font_name="宋体", font_size=9, bold=True))
    c = 1
    for _lo, colour, label in BANDS if not ascending else ():  # a programme ranked lowest first colours no score
        ws.merge_range(row, c, row, c + 1, label, st.get(font_name="宋体", font_size=9, bg_color=colour, border=1, align="center"))
        c += 2
    ws.write_string(row, c, "未报/不参评", st.get(font_name="宋体", font_size=9, bg_color=MISSING_FILL, border=1, align="center", italic=True))
    marks = list(info.notes)  # what each mark in 备注 means (and what concerns every village), in red under the legend
    if any(info.unconfirmed(c) for c in scored.codes):
        marks.append("※ 含待核实数据：该村有与往月差异过大的填报，镇里尚未核实确认（见“数据质量”；核实后运行 huizong accept 记录号 --note 理由）。")
    if any(c in doubts for c in scored.codes):
        marks.append(f"村名册待核实：该村年度任务与户籍人口不相称（与全镇一般比例相差 {DOUBT_FACTOR:g} 倍以上），完成率可能因任务数填错而偏高或偏低（见“数据质量”；核对无误的，在村名册“已核实”栏选“是”）。")
    if any(c in outside for c in scored.codes):
        marks.append("村名册待核实：该村有已收到的报表因村名册的起始月份（或停止月份）未计入累计，如起始月份填错，得分和名次偏低（见“数据质量”；核对无误的，在村名册“已核实”栏选“是”）。")
    if any(s.correction for s in info.statuses if s.state == "已报"):
        marks.append("更正件退回/待确认：该村本期又发来一份更正，未通过校验或待镇里核实，本表仍按已采用的那一版计（见“数据质量”；更正通过后重新汇总）。")
    if any(c in counts for c in scored.codes):
        marks.append(f"加分扣分登记待核实：该村有一行次数大于 {COUNT_DOUBT}（一行是一天的事项），请核对是否多打了数字（见“数据质量”；核对无误的，在该行“已核实”栏选“是”）。")
    if any(c in doubted.register for c in scored.codes):
        marks.append(f"镇考核登记待核实：该村有登记数超过全镇同期中位数的 {REGISTER_DOUBT:g} 倍（且多出 {REGISTER_MARGIN:g} 以上），请核对是否多打了数字（见“数据质量”；核对无误的，在该行“已核实”栏选“是”）。")
    colours = "分类得分为基本分（不含加分），按占该类满分（截至本期）的比例着色；加分单列；" if not ascending else f"按{total_label}从低到高排名；"
    legend = [(colours + "表扬行绿色、批评行橙色；名次变化与上月比较，↑上升、↓下降、→0 持平、— 无上月名次。", "#595959")]
    # each line is merged across the table and wraps: a line left to overflow is cut at the print area's edge
    # (a programme with few columns lost half its legend on paper)
    across = sum(widths[1:])
    for i, (text, colour) in enumerate(legend + [(t, "#C00000") for t in marks], start=row + 1):
        ws.merge_range(i, 1, i, last, text, st.get(font_name="宋体", font_size=9, font_color=colour, text_wrap=True, valign="top"))
        tall(i, 13 * (1 + text_units(text) * 9 // 11 // max(across, 1)))
    _ = NA_FILL
    row += 3 + max(1, len(marks))
    ws.merge_range(row, last - 5, row, last, info.organ, st.meta_right)
    g = info.generated
    ws.merge_range(row + 1, last - 5, row + 1, last, f"{g.year}年{g.month}月{g.day}日", st.meta_right)
    landscape(ws)
    # a township's 通报 that runs a little over one page prints on one: otherwise its last page holds the
    # repeated header and the signature alone
    one_page_if_short(ws, widths, sum(heights.get(r, DEFAULT_ROW) for r in range(row + 2)))
    ws.repeat_rows(head_row)
    ws.center_horizontally()
    ws.print_area(0, 0, row + 1, last)
    ws.freeze_panes(head_row + 1, 3)
    # 名次变化 is a live formula: its colour follows the text it shows (↓ red, ↑ green)
    for prefix, colour in (("↓", "#C00000"), ("↑", "#00703C")):
        ws.conditional_format(first_data, 1, max(first_data, last_data), 1, {
            "type": "text", "criteria": "begins with", "value": prefix, "format": wb.add_format({"font_color": colour})})


def progress(scored: Scored, k: int) -> list[str]:
    """The values the programme asks the 通报 to show (e.g. rounds done so far), as one note."""
    if scored.rules is None or not scored.rules.show:
        return []
    p = scored.plan.programme
    labels = {f.id: f.label for f in p.fields} | {f["id"]: f["label"] for f in (p.raw.get("assessment_register") or {}).get("fields", [])}
    values = {**scored.data.ytd, **scored.data.register}
    i = scored.index[k]
    return ["、".join(f"{labels.get(f, f)} {float(values[f][i]):g}" for f in scored.rules.show if f in values)]


def _col(c: int) -> str:
    from ..layout import col_letter

    return col_letter(c)


def _average(ws: Any, row: int, c: int, first: int, last: int, col: str) -> str:
    return f"=AVERAGE({col}{first + 1}:{col}{last + 1})"


def _mean(scored: Scored, c: int, cats: list[str], has_bonus: bool) -> float:
    if c == 3:
        return float(scored.total.mean())
    if c < 4 + len(cats):
        return float(scored.category_scores[cats[c - 4]].mean())
    if has_bonus and c == 4 + len(cats):
        return float(scored.bonus_total.mean())
    return float((scored.adj_bonus - scored.adj_deduction + scored.rank_bonus).mean())
