"""乡镇合计 (with the monthly trend), 奖惩, 数据质量 and the native charts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...quality import COUNT_DOUBT, DOUBT_FACTOR, REGISTER_DOUBT, REGISTER_MARGIN, Doubts
from ...score.scorer import Scored
from ...score.township import field_total, part_total
from ..layout import text_units
from .page import HEAD_ROW, landscape
from .page import start_sheet as _start
from .styles import Styles


def _township_rows(scored: Scored) -> list[tuple[str, float, float, float, dict[str, Any]]]:
    """(name, numerator, denominator, value, spec) of each township indicator, over the year so far."""
    d = scored.data
    out = []
    for ind in (scored.plan.programme.raw.get("township") or {}).get("indicators", []):
        num = part_total(d, ind["numerator"], d.months)
        den = part_total(d, ind["denominator"], d.months)
        scale = float(ind.get("scale", 1000 if ind.get("unit") == "‰" else 100))
        out.append((ind["name"], num, den, num / den * scale if den else float("nan"), ind))
    return out


def _villages_outside(d: Any, ind: dict[str, Any], scale: float, lo: float | None, hi: float | None) -> list[tuple[str, float]]:
    """The villages whose own rate over the year so far (from their summed parts) is outside the indicator's
    range, worst first."""
    num, den = d.year_all.get(ind["numerator"]), d.year_all.get(ind["denominator"])
    if num is None or den is None:
        return []
    out = []
    for i, v in enumerate(d.villages):
        if den[i] > 0 and v.active(d.period):
            rate = float(num[i] / den[i] * scale)
            if (hi is not None and rate > hi) or (lo is not None and rate < lo):
                out.append((v.name, rate))
    return sorted(out, key=lambda x: -x[1] if hi is not None else x[1])


def write_township(wb: Any, ws: Any, charts: Any, st: Styles, scored: Scored, info: Any) -> None:
    d = scored.data
    p = scored.plan.programme
    _start(ws, st, f"{info.township}合计（{d.programme.label(d.period)}）",
           "说明：率由全镇分子、分母合计重新计算，不取各村平均；本年累计含全部已报月份（含本期未参评村此前已报的月份）。",
           ["指标", "分子（本年累计）", "分母（本年累计）", "本年累计", "目标/正常范围", "情况"], [24, 14, 14, 12, 16, 40])
    row = HEAD_ROW + 1
    for name, num, den, value, ind in _township_rows(scored):
        unit = ind.get("unit", "%")
        scale = float(ind.get("scale", 1000 if unit == "‰" else 100))
        ws.write_string(row, 0, name, st.cell())
        ws.write_number(row, 1, num, st.number(0 if num.is_integer() else 2))
        ws.write_number(row, 2, den, st.number(0 if den.is_integer() else 2))
        cached: Any = round(value, 10) if np.isfinite(value) else "—"
        ws.write_formula(row, 3, f'=IF(C{row + 1}=0,"—",B{row + 1}/C{row + 1}*{scale:g})', st.number(2), cached)  # 2.0097‰ is not "2.0"
        lo, hi = ind.get("low"), ind.get("high")
        rng = (f"{lo:g}–{hi:g}" if lo is not None and hi is not None else (f"≥{lo:g}" if lo is not None else (f"≤{hi:g}" if hi is not None else "—")))
        ws.write_string(row, 4, f"{rng}{unit if unit in ('%', '‰') and rng != '—' else ''}", st.cell(align="center"))
        verdict = "—" if not np.isfinite(value) else ("达标" if (lo is None or value >= lo) and (hi is None or value <= hi) else ("偏高" if hi is not None and value > hi else "未达标"))
        note = verdict + (f"。{ind['note']}" if ind.get("note") and verdict != "达标" else "")
        outside = _villages_outside(d, ind, scale, lo, hi)
        if outside:  # by name, with their rates (spec): the leaders see who, not only that
            note += f"。{'高于' if hi is not None else '低于'}目标的村（本年累计）：" + "、".join(f"{n} {r:.2f}{unit}" for n, r in outside)
        ws.write_string(row, 5, note, st.cell(text_wrap=True, font_size=9, font_color="#C00000" if verdict in ("未达标", "偏高") else "#000000"))
        if len(note) > 22:
            ws.set_row(row, 13 * (1 + len(note) // 22))
        row += 1
    row += 1
    ws.merge_range(row, 0, row, 5, "主要数据合计（流量按月相加；存量取各村最新月末数相加；比率不相加）", st.cell(bold=True, bg_color="#EDEDED"))
    row += 1
    for c, h in enumerate(["指标", f"本月（{d.period.month}月）", "本年累计 / 最新月末", "单位", "类别"]):
        ws.write_string(row, c, h, st.head)
    ws.set_row(row, 30)
    row += 1
    for f in p.measures:
        decimals = 2 if (f.decimals or 0) else 0
        ws.write_string(row, 0, f.label_over("month"), st.cell())
        for c, months in ((1, [d.period]), (2, d.months)):
            value = field_total(d, f.id, months)
            if np.isfinite(value):
                ws.write_number(row, c, value, st.number(decimals))
            else:
                ws.write_string(row, c, "—", st.cell(align="center"))
        ws.write_string(row, 3, f.unit, st.cell(align="center"))
        kind = "比率（不相加）" if f.type == "percent" else ("月均（各村月均之和）" if f.aggregate == "average" else ("存量（月末数）" if f.stock else "流量（本月数）"))
        ws.write_string(row, 4, kind, st.cell(align="center", font_size=9))
        row += 1
    # monthly trend of the township's rates (also the data of the line chart)
    row += 1
    indicators = [i for i in (p.raw.get("township") or {}).get("indicators", []) if not str(i["denominator"]).startswith("t:")][:6]
    ws.merge_range(row, 0, row, 5, "各月全镇主要比率（由当月全镇分子、分母计算）", st.cell(bold=True, bg_color="#EDEDED"))
    row += 1
    trend_head = row
    ws.write_string(row, 0, "月份", st.head)
    ws.set_row(row, 44)
    ws.set_column(6, 6, 16)
    for c, ind in enumerate(indicators, start=1):
        ws.write_string(row, c, f"{ind['name']}（{ind.get('unit', '%')}）", st.head)
    row += 1
    first = row
    for m in d.months:
        ws.write_string(row, 0, d.programme.label(m), st.cell())
        for c, ind in enumerate(indicators, start=1):
            num = part_total(d, ind["numerator"], [m])
            den = part_total(d, ind["denominator"], [m])
            scale = float(ind.get("scale", 1000 if ind.get("unit") == "‰" else 100))
            if den and np.isfinite(den) and np.isfinite(num):
                ws.write_number(row, c, num / den * scale, st.number(1))
            else:
                ws.write_blank(row, c, None, st.cell())
        row += 1
    _charts(wb, charts, st, scored, ws.name, trend_head, first, row - 1, len(indicators))


def _charts(wb: Any, ws: Any, st: Styles, scored: Scored, township_sheet: str, head: int, first: int, last: int, n_series: int) -> None:
    ws.merge_range(0, 0, 0, 12, "图表", st.title)
    n = len(scored.index)
    bar = wb.add_chart({"type": "bar"})
    bar.add_series({
        "name": "总分",
        "categories": ["通报", 6, 2, 6 + n - 1, 2],
        "values": ["通报", 6, 3, 6 + n - 1, 3],
        "fill": {"color": "#4472C4"},
        "data_labels": {"value": True, "num_format": "0.0"},
    })
    bar.set_title({"name": f"各村总分（{scored.data.programme.label(scored.data.period)}，按名次）", "name_font": {"name": "黑体", "size": 12}})
    bar.set_y_axis({"reverse": True, "num_font": {"name": "宋体", "size": 9}})
    bar.set_x_axis({"num_font": {"name": "宋体", "size": 9}})
    bar.set_legend({"none": True})
    # a chart never runs across a page break: the bar chart fits one A4 landscape page (≤ 620 px high,
    # the bars of a large township get thinner) and the trend chart starts the next page
    height = min(24 * n + 120, 620)
    bar.set_size({"width": 720, "height": height})
    ws.insert_chart(2, 0, bar)
    next_page = 2 + -(-height // 20) + 1  # rows are 20 px high
    ws.set_h_pagebreaks([next_page])
    if last >= first and n_series:
        line = wb.add_chart({"type": "line"})
        for c in range(1, n_series + 1):
            line.add_series({
                "name": [township_sheet, head, c],
                "categories": [township_sheet, first, 0, last, 0],
                "values": [township_sheet, first, c, last, c],
                "marker": {"type": "circle", "size": 5},
            })
        line.set_title({"name": "全镇主要比率逐月走势", "name_font": {"name": "黑体", "size": 12}})
        line.set_legend({"position": "bottom", "font": {"name": "宋体", "size": 9}})
        line.set_size({"width": 720, "height": 360})
        ws.insert_chart(next_page + 1, 0, line)
    landscape(ws)


def write_rewards(ws: Any, st: Styles, scored: Scored, info: Any) -> None:
    bonus = ((scored.plan.programme.raw.get("adjustments") or {}).get("rank_bonus") or {})
    points = "、".join(f"第{i}名 +{x:g}" for i, x in enumerate(bonus.get("points") or [], start=1))
    note = "说明：加分扣分登记中本年至本期的事项" + (f"，以及{bonus.get('label', '考核季综合排名加分')}（{points}，由系统按各考核季末累计得分计算）" if points else "") + "。"
    _start(ws, st, f"奖惩（{scored.data.programme.label(scored.data.period)}）", note,
           ["村（社区）", "日期/考核季", "项目", "分值", "次数", "合计", "备注"], [11, 14, 30, 8, 8, 9, 30], repeat=False)
    row = HEAD_ROW + 1
    for k in scored.order():
        v = scored.data.villages[scored.index[k]]
        for a in sorted(scored.data.adjustments.get(v.code, []), key=lambda a: a.day):
            ws.write_string(row, 0, v.name, st.cell())
            ws.write_string(row, 1, f"{a.day.year}年{a.day.month}月{a.day.day}日", st.cell())
            ws.write_string(row, 2, a.label, st.cell())
            ws.write_number(row, 3, a.points, st.number(0))
            ws.write_number(row, 4, a.count, st.number(0))
            ws.write_formula(row, 5, f"=D{row + 1}*E{row + 1}", st.number(0), a.total)
            ws.write_string(row, 6, a.note, st.cell(font_size=9))
            row += 1
        for text in scored.rank_bonus_detail[k]:
            period, _, pts = text.partition(" +")
            ws.write_string(row, 0, v.name, st.cell())
            ws.write_string(row, 1, period, st.cell())
            ws.write_string(row, 2, "考核季综合排名加分", st.cell())
            ws.write_number(row, 3, float(pts), st.number(0))
            ws.write_number(row, 4, 1, st.number(0))
            ws.write_formula(row, 5, f"=D{row + 1}*E{row + 1}", st.number(0), float(pts))
            ws.write_string(row, 6, "系统计算", st.cell(font_size=9))
            row += 1
    if row == HEAD_ROW + 1:
        ws.merge_range(row, 0, row, 6, "本年至本期没有登记加分、扣分事项。", st.cell(align="center"))
        row += 1
    row = _money(ws, st, scored, row + 1, info)


def _money(ws: Any, st: Styles, scored: Scored, row: int, info: Any) -> int:
    """Rewards and subsidies in 元, and the rank rewards of a 考核季 that ends with this period. A village
    whose numbers are not yet confirmed (※ in the 通报) carries the ※ here too: the money follows them."""
    quarter = scored.rank_reward.codes if scored.rank_reward is not None else []
    marked = {c for c in (*scored.codes, *quarter) if info.unconfirmed(c)}  # (one paid for the 考核季 may be unscored now)
    breaks: list[int] = []  # each money table starts a printed page, under its own header

    def name(v: Any) -> str:
        return v.name + ("※" if v.code in marked else "")

    if scored.rewards:
        breaks.append(row)
        ws.merge_range(row, 0, row, 6, "奖励与工作补贴（元）", st.cell(bold=True, bg_color="#EDEDED"))
        row += 1
        heads = ["村（社区）"] + [r.name + ("" if r.due else "（季末发放，测算）") for r in scored.rewards] + ["合计（元）"]
        for c, h in enumerate(heads[:7]):
            ws.write_string(row, c, h, st.head)
        ws.set_row(row, 32)
        row += 1
        first = row
        for k in scored.order():
            v = scored.data.villages[scored.index[k]]
            ws.write_string(row, 0, name(v), st.cell())
            for c, r in enumerate(scored.rewards[:5], start=1):
                ws.write_number(row, c, float(r.amounts[k]), st.number(2))
            n = min(len(scored.rewards), 5)
            due_total = sum(float(r.amounts[k]) for r in scored.rewards[:5] if r.due)
            cols = "+".join(f"{_letter(c)}{row + 1}" for c, r in enumerate(scored.rewards[:5], start=1) if r.due) or "0"
            ws.write_formula(row, n + 1, f"={cols}", st.number(2, bold=True), due_total)
            row += 1
        ws.write_string(row, 0, "合计", st.cell(bold=True))
        for c in range(1, min(len(scored.rewards), 5) + 2):
            col = _letter(c)
            total = float(sum(float(x) for x in (scored.rewards[c - 1].amounts if c <= min(len(scored.rewards), 5) else [])))
            if c == min(len(scored.rewards), 5) + 1:
                total = float(sum(float(r.amounts.sum()) for r in scored.rewards[:5] if r.due))
            ws.write_formula(row, c, f"=SUM({col}{first + 1}:{col}{row})", st.number(2, bold=True), total)
        row += 1
        if marked:
            ws.merge_range(row, 0, row, 6, "※ 含待核实数据：金额按所填数字计算，镇里核实确认之前请勿发放（见“数据质量”）。",
                           st.cell(font_size=9, font_color="#C00000"))
            row += 1
        ending = [r.name for r in scored.rewards if r.due and r.every != "month"]  # e.g. the season's tiers, paid once
        absent = [s.name for s in info.statuses if s.state != "已报" and s.code and s.code in scored.data.village_by_code
                  and scored.data.village_by_code[s.code].active(scored.data.period)]
        if ending and absent:  # not in the table above: their reward is not refused, it waits for the report
            text = (f"本期未报（或未通过、待确认）的村不在上表中，{'、'.join(ending)}待补报后重新汇总核定："
                    + "、".join(absent) + "。")
            ws.merge_range(row, 0, row, 6, text, st.cell(font_size=9, text_wrap=True, font_color="#C00000"))
            ws.set_row(row, 15 * (1 + text_units(text) // 100))
            row += 1
        row += 1
    rr = scored.rank_reward
    if rr is not None:
        breaks.append(row)
        ws.merge_range(row, 0, row, 6, f"{rr.period_name}{rr.name}（按{'、'.join(rr.months)}各月总分之和排名）", st.cell(bold=True, bg_color="#EDEDED"))
        row += 1
        for c, h in enumerate(["村（社区）", "各月总分之和", "名次", "金额（元）"]):
            ws.write_string(row, c, h, st.head)
        ws.merge_range(row, 4, row, 6, "备注", st.head)  # over the notes, merged below as well
        row += 1
        for k in sorted(range(len(rr.ranks)), key=lambda k: (rr.ranks[k] == 0, rr.ranks[k], rr.codes[k])):
            v = scored.data.village_by_code[rr.codes[k]]
            ws.write_string(row, 0, name(v), st.cell())
            ws.write_number(row, 1, float(rr.sums[k]), st.number(2))
            if rr.ranks[k]:
                ws.write_number(row, 2, int(rr.ranks[k]), st.number(0))
            else:  # not ranked for the 考核季 (joined or left during it)
                ws.write_string(row, 2, "—", st.cell(align="center"))
            ws.write_number(row, 3, float(rr.amounts[k]), st.number(2))
            ws.merge_range(row, 4, row, 6, "；".join(rr.notes[k]), st.cell(font_size=9))
            row += 1
    if breaks:
        ws.set_h_pagebreaks(breaks)
    return row


def _letter(c: int) -> str:
    from ..layout import col_letter

    return col_letter(c)


QUALITY_WIDTHS = (11, 10, 17, 6, 6, 24, 24, 8)  # 数据质量's columns; its later tables share them


def _lines9(text: str, width: float) -> int:
    """Printed lines of 9-point text in a column ``width`` wide (about 10 % more fits than at 11 points)."""
    return -(-text_units(text) // int(width * 1.08))


def _flagged(ws: Any, st: Styles, info: Any, row: int, label: Any) -> int:
    """与往月差异过大的填报: every out-of-line number of a counted report, and whether it was checked."""
    ws.merge_range(row, 0, row, 7, "与往月差异过大的填报（照常计分；未核实的，通报中村名后标 ※）", st.cell(bold=True, bg_color="#EDEDED"))
    row += 1
    # the columns are the status table's above (QUALITY_WIDTHS): the value with its label takes the wide third one,
    # the command to confirm goes under the reason (an 8-wide cell wrapped it over eight lines)
    for c, h in enumerate(["村（社区）", "月份", "填报值", "记录号", "单元格", "说明", "", "核实"]):
        if c == 5:
            ws.merge_range(row, 5, row, 6, h, st.head)
        elif c != 6:
            ws.write_string(row, c, h, st.head)
    row += 1
    if not info.flagged:
        ws.merge_range(row, 0, row, 7, "计入本期汇总的报表中没有与往月差异过大的填报。", st.cell(align="center"))
        return row + 1
    for f in sorted(info.flagged, key=lambda f: (f.confirmed, f.village_code, f.period)):
        colour = "#000000" if f.confirmed else "#C00000"
        cells = [f.village_name, label(f.period), f"“{f.label}” {f.value_text}", str(f.submission_id), f.cell]
        for c, text in enumerate(cells):
            ws.write_string(row, c, text, st.cell(font_size=9, text_wrap=True))
        said = f.detail if f.confirmed else f"{f.detail}\n核实无误后运行：huizong accept {f.submission_id} --note 理由"
        ws.merge_range(row, 5, row, 6, said, st.cell(font_size=9, text_wrap=True))
        ws.write_string(row, 7, "已核实" if f.confirmed else "待核实", st.cell(font_size=9, text_wrap=True, font_color=colour, align="center"))
        # printed lines of 9-point text in the cells' widths (the reason across two columns): the tallest decides
        lines = max(*(_lines9(cells[c], QUALITY_WIDTHS[c]) for c in range(3)),
                    sum(_lines9(part, QUALITY_WIDTHS[5] + QUALITY_WIDTHS[6]) for part in said.split("\n")), 1)
        ws.set_row(row, 13 * lines + 2)
        row += 1
    return row


def write_quality(ws: Any, st: Styles, scored: Scored, info: Any, doubted: Doubts) -> None:
    d = scored.data
    _start(ws, st, f"数据质量（{d.programme.label(d.period)}）",
           "说明：各村本期报送情况、本年缺报月份（未计入累计）、镇考核登记缺少的考核季（按 0 计）及读取时自动规范的填写（提示）。",
           ["村（社区）", "本期状态", "收到时间", "版本", "迟报", "本年缺报月份", "镇考核登记缺少", "提示数"], list(QUALITY_WIDTHS))
    warn_count: dict[str, int] = {}
    for w in info.warnings:
        warn_count[w.get("village_code", "")] = warn_count.get(w.get("village_code", ""), 0) + 1
    row = HEAD_ROW + 1
    statuses = {s.code: s for s in info.statuses}
    for v in d.villages:
        s = statuses.get(v.code)
        lacking = [m for m in d.missing_months(v.code) if m != d.period]
        earlier = [m for m in d.months if m != d.period and v.active(m)]
        missing = ["此前各月均未报"] if earlier and len(lacking) == len(earlier) else [f"{m.month}月" for m in lacking]
        joined = v.start is not None and d.months[0] < v.start <= d.period
        left_out = doubted.outside.get(v.code)  # reports its 起始月份 leaves out: sums, and rank, lower than sent
        if joined and v.start is not None:
            missing = [f"自{v.start.chinese}起参加考核" + (f"；缺报 {'、'.join(missing)}" if missing else "")
                       + (f"；{left_out}，请核对村名册" if left_out else "")]
        if not v.active(d.period):
            when = v.taking_part(d.period)
            sent = s is not None and s.state != "未报"  # a report came anyway: the 起始/停止月份 may be a typo
            cells = [v.name, "不参加（本期有报表）" if sent else "不参加", "", "", "",
                     when + ("；本期收到了报表，未参加排名，请核对村名册的起始/停止月份" if sent else ""), "", ""]
            for c, text in enumerate(cells):
                ws.write_string(row, c, text, st.cell(text_wrap=True, font_color="#C00000" if sent else "#595959"))
            if sent:
                ws.set_row(row, 15 * (1 + len(cells[5]) // 12))
            row += 1
            continue
        state = (s.state + (f"（{s.note}）" if s.note else "")) if s else "未报"  # e.g. a correction sent back since
        cells = [v.name, state, (s.received_at.replace("T", " ")[:16] if s and s.received_at else ""),
                 str(s.version or "") if s else "", "是" if s and s.late else "", "、".join(missing),
                 "、".join(d.register_missing.get(v.code, [])), str(warn_count.get(v.code, 0))]
        bad = bool(not s or s.state != "已报" or lacking or left_out or s.correction)
        for c, text in enumerate(cells):
            ws.write_string(row, c, text, st.cell(text_wrap=True, font_color="#C00000" if bad and c in (1, 5) else "#000000"))
        tallest = max(len(cells[5]) // 12, len(cells[6]) // 12, len(cells[1]) // 5)
        if tallest:
            ws.set_row(row, 15 * (1 + tallest))
        row += 1
    taking_part = [v for v in d.villages if v.active(d.period)]
    # a task 0 for every village is said once, township-wide (info.notes), not village by village
    some = [t for t in d.programme.tasks if any(v.tasks.get(t.id) for v in taking_part)]
    zero = [f"{v.name}（{'、'.join(t.label for t in some if not v.tasks.get(t.id))}）"
            for v in taking_part if any(not v.tasks.get(t.id) for t in some)]
    notes = list(info.notes)  # red notes under the table: what the township should check, each with the villages it concerns
    if zero:
        notes.append("年度任务为 0（这些项目按“无任务”计满分，请核对村名册）：" + "；".join(zero))

    def by_village(found: Mapping[str, Sequence[str]]) -> str:
        return "；".join(f"{d.village_by_code[c].name}：{'、'.join(items)}" for c, items in found.items() if c in d.village_by_code)

    if doubted.registry:
        notes.append(f"村名册中年度任务与户籍人口不相称（与全镇一般比例相差 {DOUBT_FACTOR:g} 倍以上，可能多打或少打了一位数；这些村在通报中注明“村名册待核实”）："
                     + by_village(doubted.registry))
    if doubted.counts:
        notes.append(f"加分扣分登记中次数大于 {COUNT_DOUBT} 的行（一行是一天的事项，请核对是否多打了数字；这些村在通报中注明“加分扣分登记待核实”）："
                     + by_village(doubted.counts))
    if doubted.register:
        notes.append(f"镇考核登记中远高于全镇同期一般水平的数（超过中位数 {REGISTER_DOUBT:g} 倍且多出 {REGISTER_MARGIN:g} 以上，请核对是否多打了数字；"
                     "已照常计分，这些村在通报中注明“镇考核登记待核实”）：" + by_village(doubted.register))
    if doubted.unseen:
        notes.append("“已核实”选了“是”、仍注明待核实的数（“是”只确认这一行未选“是”时通报标出过的数，这些数没有这样标出过："
                     "例如连同“是”复制来的行、核实后改过的数，或后来才需要核实的数。请核对，无误的把“已核实”清空、重新汇总本月一次，再选“是”）："
                     + by_village(doubted.unseen))
    said = [(text, "#C00000") for text in notes]
    if doubted.checked:  # confirmed by the township: no mark in the 通报, but the trail stays
        said.append(("镇里已在登记表“已核实”一栏确认无误的数（照常计分，通报中不再注明待核实）：" + by_village(doubted.checked), "#595959"))
    for text, colour in said:
        row += 1
        ws.merge_range(row, 0, row, 7, text, st.cell(font_size=9, text_wrap=True, font_color=colour))
        ws.set_row(row, 15 * (1 + text_units(text) // 150))
        row += 1
    if info.revision is not None:  # made before with other numbers: which villages moved, and from which inputs
        row += 1
        for i, text in enumerate(info.revision.lines()):
            ws.merge_range(row, 0, row, 7, text, st.cell(font_size=9, bold=i == 0, font_color="#C00000"))
            row += 1
    row = _flagged(ws, st, info, row + 1, d.programme.label)
    row += 1
    ws.merge_range(row, 0, row, 7, "读取时自动规范的填写（已按括号中的值计入）", st.cell(bold=True, bg_color="#EDEDED"))
    row += 1
    for c, h in enumerate(["村（社区）", "月份", "工作表", "单元格", "代码", "说明"]):
        ws.write_string(row, c, h, st.head)
    row += 1
    if not info.warnings:
        ws.merge_range(row, 0, row, 7, "本期已接收的报表中没有需要自动规范的填写。", st.cell(align="center"))
    for w in info.warnings:
        cells = [w.get("village_name", ""), w.get("period", ""), w.get("sheet", ""), w.get("cell", ""), w.get("code", ""), w.get("message", "")]
        for c, text in enumerate(cells):
            if c == 5:
                ws.merge_range(row, 5, row, 7, str(text), st.cell(font_size=9, text_wrap=True))
            else:
                ws.write_string(row, c, str(text), st.cell(font_size=9))
        row += 1
