"""The ranked summary workbook (汇总排名) — XlsxWriter, every formula live and with its value stored.

Sheets: 通报 (the ranked notice), 得分明细 (every item as a formula over 原始数据), 原始数据 (the
consolidated inputs), 计算说明 (each score in words and numbers), 乡镇合计, 奖惩, 数据质量, 图表.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import xlsxwriter

from ...quality import doubts_of
from ...score.plan import SPECIAL_NAMES
from ...score.scorer import Scored
from .grid import Grid
from .sheet import SummarySheet
from .styles import Styles
from .tables import DETAIL, RAW, write_detail, write_raw


@dataclass
class SummaryInfo:
    township: str
    organ: str
    generated: datetime
    cutoff: str  # 数据截止时间
    statuses: list[Any] = field(default_factory=list)  # status.VillageStatus of the period
    warnings: list[dict[str, Any]] = field(default_factory=list)  # reading warnings of accepted files
    flagged: list[Any] = field(default_factory=list)  # quality.Flagged: out-of-line numbers of the counted reports
    revision: Any = None  # revision.Revision: the month made before with other numbers
    doubts: Any = None  # quality.Doubts: what the township's tables are marked for (None: found here, every 是 counting)
    notes: list[str] = field(default_factory=list)  # what concerns every village (tasks all 0, last year's tasks)

    def unconfirmed(self, code: str) -> list[Any]:
        """The village's out-of-line numbers the township has not confirmed yet (its 通报 row carries ※)."""
        return [f for f in self.flagged if f.village_code == code and not f.confirmed]


@dataclass
class Sheet1Map:
    """Where each value lives: every input key in 原始数据, every computation key in 得分明细."""

    raw: Grid = field(default_factory=Grid)
    detail: Grid = field(default_factory=Grid)

    def detail_ref(self, key: str, k: int, other_sheet: bool = False) -> str:
        return self.detail.ref(key, k, f"'{DETAIL}'!" if other_sheet else "")

    def has_detail(self, key: str) -> bool:
        return key in self.detail.pos


def register_label(field: dict[str, Any], window: str, where: str = "") -> str:
    """A 镇考核登记 field's name for the value scoring uses: over the year a count is the sum of its 考核季
    entries (累计, as the spec asks of 计算说明) and a state its latest entry; a monthly window's, as entered.
    ``where``: the register's name, said first inside the brackets (镇考核登记，累计)."""
    how = "" if window == "month" else ("最新" if field.get("aggregate") == "latest" else "累计")
    inside = "，".join(x for x in (where, how) if x)
    return f"{field['label']}（{inside}）" if inside else str(field["label"])


def input_label(scored: Scored, key: str) -> str:
    p = scored.plan.programme
    name, _, scope = key.partition("@")
    suffix = f"（{p.assessment_periods[int(scope)].name}）" if scope else ""
    if name.startswith("t:"):
        return f"{name[2:]} 目标任务数（累计）{suffix}".replace("（累计）（", "（")
    labels = {f.id: f.label for f in p.fields} | {t.id: t.label for t in p.tasks} | SPECIAL_NAMES
    reg = {f["id"]: register_label(f, p.window if not scope else "month", "镇考核登记")
           for f in (p.raw.get("assessment_register") or {}).get("fields", [])}
    labels |= reg
    spec = next((f for f in p.fields if f.id == name), None)
    if spec is not None and not scope:
        return spec.label_over("month" if p.window == "month" else "ytd")
    return f"{labels.get(name, name)}{suffix}"


def build_summary(scored: Scored, info: SummaryInfo, pool: Any = None) -> bytes:
    """The workbook's bytes. From ``elsewhere.PARALLEL_FROM`` villages 计算说明 is written by a helper process:
    ``pool``, one already started (``elsewhere.start``, ended here), or one started now."""
    buf = io.BytesIO()
    # constant_memory: rows go to temporary files as they are written (each sheet is written top to bottom),
    # so a county-sized summary does not hold every cell in memory at once
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"title": f"{info.township}{scored.plan.programme.short_name}汇总排名 {scored.data.programme.label(scored.data.period)}",
                       "author": info.organ, "company": info.organ, "created": info.generated})
    st = Styles(wb)
    from .elsewhere import PARALLEL_FROM, Helper
    from .explain import explanation_sheets, formats

    numbers = st.numbered(formats(st))  # first, so a helper can write 计算说明's cells (the same file either way)
    explained = explanation_sheets(len(scored.index))
    helper = Helper(scored, explained, numbers, pool) if len(scored.index) >= PARALLEL_FROM else None
    try:
        _write_sheets(wb, st, scored, info, explained, helper)
    finally:
        if helper is not None:
            helper.close()
        elif pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    return buf.getvalue()


def _write_sheets(wb: Any, st: Styles, scored: Scored, info: SummaryInfo, explained: list[str], helper: Any) -> None:
    from .explain import start_explanations, write_village_lines

    names = ("通报", DETAIL, RAW, *explained, "乡镇合计", "奖惩", "数据质量", "图表")
    sheets = {name: wb.add_worksheet(name, worksheet_class=SummarySheet) for name in names}
    m = Sheet1Map()
    m.raw = write_raw(sheets[RAW], st, scored, input_label)
    m.detail = write_detail(sheets[DETAIL], st, scored, m.raw)
    from .extras import write_quality, write_rewards, write_township
    from .notice import write_notice

    doubted = doubts_of(scored.data) if info.doubts is None else info.doubts  # what 通报 marks and 数据质量 lists, found once
    write_notice(wb, sheets["通报"], st, scored, info, m, doubted)
    lines = [sheets[name] for name in explained]
    start_explanations(lines, st, scored)
    write_township(wb, sheets["乡镇合计"], sheets["图表"], st, scored, info)
    write_rewards(sheets["奖惩"], st, scored, info)
    write_quality(sheets["数据质量"], st, scored, info, doubted)
    if helper is None or not helper.take(lines):  # the lines a helper wrote meanwhile, or written now
        write_village_lines(lines, st, scored)
    sheets["通报"].activate()
    wb.close()


def rank_change(rank: int, previous: int) -> str:
    """↑2 / ↓1 / →0 against last month's rank; — without one (the same text the live formula gives)."""
    if previous <= 0:
        return "—"
    if previous == rank:
        return "→0"
    return f"↑{previous - rank}" if rank < previous else f"↓{rank - previous}"


def as_float(x: Any) -> float:
    return float(np.asarray(x))
