"""The tables the buttons write back (Excel console and WPS add-in alike): 上报情况, 排名, 问题清单.

Plain data — headers, rows of values, and a colour per row — so that each face (xlwings, the
WPS JavaScript through the local service, the VBA's own painter) only paints cells, and all show the
same thing. Every text value here may come from a village or the registry: the faces write text as
text (number format ``@``), never as a formula — see ``INERT_FORMAT``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .ledger.db import Ledger
from .programme.periods import Month
from .workbook.summary.styles import CRITICISE_FILL, MISSING_FILL, PRAISE_FILL

INERT_FORMAT = "@"  # the number format every face gives a text cell before writing it: "=…" stays text
PROBLEM_HEADERS = ["村（社区）", "文件", "状态", "类别", "代码", "工作表", "单元格", "项目", "填写的值", "说明"]
IN_INBOX = "收件箱中（未收取）"

STATE_COLOURS = {"已报": "#C6EFCE", "退回": "#FFC7CE", "待确认": "#FFEB9C", "未报": MISSING_FILL}
VERDICT_COLOURS = {"通报表扬": PRAISE_FILL, "通报批评": CRITICISE_FILL}


@dataclass
class View:
    sheet: str
    title: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    colours: list[str | None] = field(default_factory=list)  # one background per row (or None)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def status_view(statuses: list[Any], period: Month, label: str | None = None) -> View:
    view = View("上报情况", f"{label or period.chinese} 上报情况", ["村代码", "村（社区）", "状态", "迟报", "收到时间", "版本", "问题数", "来源", "备注"])
    for s in statuses:
        view.rows.append([s.code, s.name, s.state, "迟报" if s.late else "", s.received_at.replace("T", " ")[:16], s.version or "",
                          s.errors or "", "文件夹" if s.sender == "folder" else (s.sender or ""),
                          s.note or (f"记录号 {s.submissions[-1]}" if s.state == "待确认" and s.submissions else "")])
        view.colours.append(STATE_COLOURS.get(s.state))
    view.note = state_counts(statuses)
    return view


def state_counts(statuses: list[Any]) -> str:
    """已报 15 个，退回 2 个，…: how many villages are in each state, in order of first appearance."""
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s.state] = counts.get(s.state, 0) + 1
    return "，".join(f"{k} {v} 个" for k, v in counts.items())


def ranking_view(result: Any) -> View:
    """From an api.Consolidation: rank, change, total and categories, with the praise/criticism bands."""
    from .workbook.summary import rank_change

    scored = result.scored
    label = scored.rules.total_label if scored.rules else "总分"
    view = View("排名", f"{scored.data.programme.label(scored.data.period)} 排名", ["名次", "名次变化", "村（社区）", label, *scored.plan.categories, "登记加减分", "备注"])
    for k in scored.order():
        adj = float(scored.adj_bonus[k] - scored.adj_deduction[k] + scored.rank_bonus[k])
        view.rows.append([
            int(scored.rank[k]), rank_change(int(scored.rank[k]), int(scored.previous_rank[k])),
            scored.data.villages[scored.index[k]].name, round(float(scored.total[k]), 2),
            *[round(float(scored.category_scores[c][k]), 2) for c in scored.plan.categories], round(adj, 2),
            "；".join(x for x in [scored.verdicts[k], *scored.flags[k]] if x),
        ])
        view.colours.append(VERDICT_COLOURS.get(scored.verdicts[k]))
    for s in result.statuses:
        if s.state != "已报":
            view.rows.append(["—", "—", s.name, s.state, *["" for _ in scored.plan.categories], "", "本期不参评"])
            view.colours.append(STATE_COLOURS.get(s.state))
    view.note = f"汇总表：{result.path}"
    return view


def problems_view(ctx: Any, period: Month) -> View:
    """Every problem of every file received for the period (the latest first), as the clerk chases them.

    ``ctx``: an api.Context (its ledger and registry)."""
    view = View("问题清单", f"{ctx.programme.label(period)} 问题清单", list(PROBLEM_HEADERS))
    registry = ctx.registry
    with Ledger(ctx.workspace.ledger_path) as ledger:
        submissions = ledger.submissions(str(period))
    for row in reversed(submissions):
        if row["status"] == "重复":
            continue
        v = registry.by_code(row["village_code"]) if row["village_code"] else None
        for p in json.loads(row["problems_json"]):
            view.rows.append([v.name if v else (row["village_name"] or "（未识别）"), row["original_name"], row["status"], p["severity"],
                              p["code"], p["sheet"], p["cell"], p["label"] or p["field"], "" if p["value"] is None else str(p["value"]),
                              p["message"]])
            view.colours.append("#FFC7CE" if p["severity"] == "错误" else "#FFEB9C")
    view.note = f"共 {len(view.rows)} 处" if view.rows else "本期没有问题。"
    return view


def inbox_checks_rows(checks: list[Any], programme: Any) -> tuple[list[list[Any]], list[str | None]]:
    """问题清单 rows for files checked where they wait in inbox/ (api.FileCheck list), personal values masked;
    a file without a problem gets one row saying it passed."""
    rows: list[list[Any]] = []
    colours: list[str | None] = []
    for check in checks:
        d = check.to_dict(programme)
        name = d["village_name"] or "（未识别）"
        file = d["file"].replace("\\", "/").rsplit("/", 1)[-1]
        if not d["issues"]:
            rows.append([name, file, IN_INBOX, "", "", "", "", "", "", "校验通过"])
            colours.append(STATE_COLOURS["已报"])
        for p in d["issues"]:
            rows.append([name, file, IN_INBOX, p["severity"], p["code"], p["sheet"], p["cell"], p["label"] or p["field"],
                         "" if p["value"] is None else str(p["value"]), p["message"]])
            colours.append("#FFC7CE" if p["severity"] == "错误" else "#FFEB9C")
    return rows, colours
