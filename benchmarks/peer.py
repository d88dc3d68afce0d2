"""The naive peer: the same month's job as a township IT person would script it.

pandas.read_excel (openpyxl) per file for the form and the birth register, jsonschema.validate
per record (first error only), the cross-field rules by hand, a CSV of the earlier months as the
"ledger", the 20 scoring items of programme A vectorised in pandas/numpy, and an openpyxl summary
with as many cells as huizong's. It does less than huizong: no archive, no signatures, no
normalisation of sloppy input, no feedback files, no rank bonuses, flags or previous-month ranks,
no formulas in the output — so its time is a generous lower bound for such a script.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import openpyxl
import pandas as pd
import yaml

MAIN, REGISTER = "月报", "出生登记"
YEAR, MONTH = 2026, 10
QUARTER_OF_MONTH = {m: (0 if m <= 4 else 1 if m <= 8 else 2) for m in range(1, 13)}
WEIGHTS = (0.4, 0.3, 0.3)


def load_spec(programme_yaml: Path) -> dict[str, Any]:
    return yaml.safe_load(programme_yaml.read_text(encoding="utf-8"))


def schema_for(spec: dict[str, Any]) -> dict[str, Any]:
    """A hand-written-style schema: numbers ≥ 0, footer texts, register columns."""
    fields = [f for s in spec["report"]["sections"] for f in s["fields"]]
    props: dict[str, Any] = {f["id"]: {"type": "integer" if f["type"] == "integer" else "number", "minimum": 0} for f in fields}
    props.update({"unit_head": {"type": "string"}, "filled_by": {"type": "string"}, "phone": {"type": "string", "pattern": r"^\d{7,12}$"},
                  "report_date": {"type": "string"}})
    row = {
        "type": "object",
        "properties": {
            "baby_name": {"type": "string"}, "sex": {"enum": ["男", "女"]}, "birth_date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
            "birth_order": {"type": "integer", "minimum": 1, "maximum": 15}, "mother_name": {"type": "string"},
            "mother_id": {"type": "string", "pattern": r"^\d{17}[\dX]$"}, "report_status": {"enum": ["按时上报", "迟报", "未上报"]},
        },
        "required": ["baby_name", "sex", "birth_date", "birth_order", "mother_name", "mother_id", "report_status"],
    }
    return {"type": "object", "properties": {"fields": {"type": "object", "properties": props, "required": [f["id"] for f in fields]},
                                             "register": {"type": "array", "items": row}}}


def plain(v: Any) -> Any:
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return v.date().isoformat() if isinstance(v, dt.datetime) else v.isoformat()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def read_report(path: Path, labels: dict[str, str], columns: list[str]) -> tuple[str, dict[str, Any]]:
    sheets = pd.read_excel(path, sheet_name=[MAIN, REGISTER], header=None, engine="openpyxl")
    main, reg = sheets[MAIN], sheets[REGISTER]
    code = str(main.iat[3, 1])
    fields = {}
    for label, value in zip(main[1], main[3]):
        if isinstance(label, str) and label.rstrip("：") in labels:
            fields[labels[label.rstrip("：")]] = plain(value)
    rows = []
    for values in reg.iloc[3:, 1:1 + len(columns)].itertuples(index=False):
        if isinstance(values[0], str) and not values[0].startswith("说明"):
            rows.append({c: plain(v) for c, v in zip(columns, values)})
    return code, {"fields": {k: v for k, v in fields.items() if v is not None}, "register": rows}


def rules_ok(record: dict[str, Any], spec: dict[str, Any]) -> bool:
    f, reg = record["fields"], record["register"]
    for r in spec["rules"]:
        if r["type"] == "lte" and f[r["field"]] > f[r["other"]]:
            return False
        if r["type"] == "register_count":
            wanted = (r.get("where") or {}).get("report_status")
            count = sum(1 for row in reg if wanted is None or row["report_status"] in wanted)
            if f[r["field"]] != count:
                return False
    return True


def table(path: Path, labels: dict[str, str]) -> pd.DataFrame:
    df = pd.read_excel(path, header=2, engine="openpyxl", dtype={"村代码": str})
    df = df[df["村代码"].notna()].rename(columns=labels)
    return df


def score(now: pd.DataFrame, history: pd.DataFrame, villages: pd.DataFrame, register: pd.DataFrame, adjust: pd.DataFrame,
          spec: dict[str, Any]) -> pd.DataFrame:
    """The 20 items of programme A, year to date, vectorised. Returns per-village base and bonus."""
    fields = [f for s in spec["report"]["sections"] for f in s["fields"]]
    latest = [f["id"] for f in fields if f.get("aggregate") == "latest"]
    counts = [f["id"] for f in fields if f["id"] not in latest]
    year = pd.concat([history, now], ignore_index=True)
    year = year[year["village_code"].isin(now["village_code"])]
    year["month"] = year["period"].str[5:7].astype(int)
    year["q"] = year["month"].map(QUARTER_OF_MONTH)
    g = year.groupby("village_code")
    ytd = g[counts].sum().join(year.sort_values("month").groupby("village_code")[latest].last())
    per_q = year.groupby(["village_code", "q"])[["prenatal_due", "prenatal_done"]].sum().unstack("q", fill_value=0)

    reg_fields = spec["assessment_register"]["fields"]
    reg_latest = [f["id"] for f in reg_fields if f.get("aggregate") == "latest"]
    reg_counts = [f["id"] for f in reg_fields if f["id"] not in reg_latest]
    names = [a["name"] for a in spec["periods"]["assessment"]]
    register = register[register["year"] == YEAR].copy()
    register["q"] = register["assessment_period"].map({n: i for i, n in enumerate(names)})
    rg = register.sort_values("q").groupby("village_code")
    reg = rg[reg_counts].sum().join(rg[reg_latest].last())

    d = villages.set_index("code").loc[ytd.index].join(ytd).join(reg).fillna(0.0)
    v = {c: d[c].to_numpy(dtype=float) for c in d.columns if c not in ("name",)}
    share = sum(WEIGHTS[: QUARTER_OF_MONTH[MONTH] + 1])

    def ratio(a: np.ndarray, b: np.ndarray, when_zero: float, scale: float = 1.0) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b == 0, when_zero, a / np.where(b == 0, 1, b) * scale)

    def clip(x: np.ndarray, hi: float) -> np.ndarray:
        return np.minimum(hi, np.maximum(0.0, x))

    pos = np.maximum
    caps = {i["code"]: (i.get("bonus_max"), i.get("period_bonus_max")) for i in spec["scoring"]["items"]}
    out: dict[str, np.ndarray] = {}
    out["C1.1"] = clip(2 * v["committee_items"], 8)
    out["C1.2"] = clip(12 - 3 * v["meeting_absences"], 12)
    rate = ratio(v["info_errors"], v["population"], 0.0, 1000)
    out["C2.1"] = clip(np.where(v["births_concealed"] > 0, 0, 60 * np.minimum(1, pos(0, (5 - rate) / 2)) - 30 * v["fabricated_records"]), 60)
    out["C2.2"] = clip(ratio(120 * v["births_reported"], v["births_total"], 120) - v["births_reported_late"] - 2 * v["births_missed"]
                       - 5 * v["births_false"] - 2 * v["births_misreported"] - 2 * v["key_clients_unmanaged"], 120)
    c31, c31b = np.zeros(len(d)), np.zeros(len(d))
    for q in range(QUARTER_OF_MONTH[MONTH] + 1):
        due = per_q[("prenatal_due", q)].reindex(d.index, fill_value=0).to_numpy(dtype=float)
        done = per_q[("prenatal_done", q)].reindex(d.index, fill_value=0).to_numpy(dtype=float)
        r = ratio(done, due, 100, 100)
        c31 += clip(np.where(due == 0, 25, 25 - pos(0, 70 - r)), 25)
        c31b += clip(np.where(due == 0, 0, 5 * pos(0, r - 70)), caps["C3.1"][1])
    out["C3.1"], out["C3.1+"] = c31, clip(c31b, caps["C3.1"][0])
    for code, task, field, full, extra in (("C3.2", "task_birth_reg", "birth_registrations", 75, 2), ("C4", "task_prepreg", "prepreg_checks", 120, 5),
                                           ("C6.1", "task_child_health", "child_health_managed", 180, 5), ("C6.2", "task_elderly", "elderly_checks", 40, 2)):
        t = v[task] * share
        base = np.where(t == 0, full, full * np.minimum(1, ratio(v[field], t, 0)))
        if code == "C4":
            base = base - 2 * (v["followups_due"] - v["followups_done"])
        bonus = extra * pos(0, v[field] - t)
        if code == "C6.1":
            bonus = bonus + 2 * v["special_family_visits"] + 1 * v["newborn_visits"]
        out[code], out[code + "+"] = clip(base, full), clip(bonus, caps[code][0])
    out["C5.1"] = clip(np.where(v["key_clients"] == 0, 20, 20 - 2 * pos(0, 80 - ratio(v["key_clients_phone_ok"], v["key_clients"], 0, 100))), 20)
    out["C5.2"] = clip(10 - v["dept_info_missing"], 10)
    out["C5.3"] = clip(10 - 2 * v["migrant_info_missing"], 10)
    out["C5.4"] = clip(ratio(20 * v["deaths_reported_timely"], v["deaths_total"], 20) - 3 * v["deaths_concealed"], 20)
    out["C5.5"], out["C5.5+"] = clip(10 - 2 * v["households_missed_materials"], 10), clip(10 * v["big_campaigns"], caps["C5.5"][0])
    out["C5.6"] = clip(10 - 3 * pos(0, MONTH - v["board_updates"]), 10)
    out["C5.7"], out["C5.7+"] = clip(10 - pos(0, 10 - v["slogans"]), 10), clip(2 * pos(0, v["slogans"] - 10), caps["C5.7"][0])
    c = ratio(v["support_cases_paid"], v["support_cases_due"], 100, 100)
    out["C7.1"] = clip(np.where(v["support_cases_due"] == 0, 40, 40 * np.minimum(1, c / 90)), 40)
    out["C7.1+"] = clip(np.where(v["support_cases_due"] == 0, 0, 5 * pos(0, c - 90)), caps["C7.1"][0])
    out["C7.2"] = clip(np.where(v["relief_amount_due"] == 0, 140, 140 * np.minimum(1, ratio(v["relief_amount_paid"], v["relief_amount_due"], 0, 100) / 95))
                       - 20 * v["misuse_cases"], 140)
    out["C7.3"] = clip(20 * v["support_plan_done"], 20)
    out["C8"] = clip(v["association_score"], 20)
    scores = pd.DataFrame(out, index=d.index)
    bonus_cols = [k for k in scores.columns if k.endswith("+")]
    scores["base_total"] = scores.drop(columns=bonus_cols).sum(axis=1)
    scores["bonus_total"] = scores[bonus_cols].sum(axis=1)
    points = adjust.groupby("village_code")["points"].sum()
    scores["adjust"] = points.reindex(scores.index, fill_value=0.0)
    scores["total"] = scores["base_total"] + scores["bonus_total"] + scores["adjust"]
    scores["rank"] = scores["total"].rank(method="min", ascending=False).astype(int)
    scores["name"] = d["name"]
    return scores.join(ytd, rsuffix="_ytd")


def write_summary(path: Path, scores: pd.DataFrame, cells: int) -> int:
    """通报, 得分明细, 原始数据 from the frames; 计算说明 in words up to huizong's number of cells."""
    wb = openpyxl.Workbook()
    written = 0
    ranked = scores.sort_values(["rank", "total"], ascending=[True, False])
    item_cols = [c for c in scores.columns if c.startswith("C")]
    other = [c for c in scores.columns if c not in item_cols and c not in ("name", "rank")]
    for title, cols in (("通报", ["rank", "name", "total", "base_total", "bonus_total", "adjust"]), ("得分明细", ["name", *item_cols, "total"]),
                        ("原始数据", ["name", *other])):
        ws = wb.active if title == "通报" else wb.create_sheet(title)
        ws.title = title
        ws.append(["村代码", *cols])
        for code, row in zip(ranked.index, ranked[cols].itertuples(index=False)):
            ws.append([code, *[plain(x) for x in row]])
        written += (len(ranked) + 1) * (len(cols) + 1)
    ws = wb.create_sheet("计算说明")
    while written < cells:
        for code, row in zip(ranked.index, ranked[item_cols].itertuples(index=False)):
            line = [f"{code} {item}：得分 {value:.2f}" for item, value in zip(item_cols, row)][: cells - written]
            ws.append(line)
            written += len(line)
            if written >= cells:
                break
    wb.save(path)
    return written


def run(inbox: Path, workspace: Path, history_csv: Path, programme_yaml: Path, out: Path, cells: int) -> dict[str, Any]:
    spec = load_spec(programme_yaml)
    fields = [f for s in spec["report"]["sections"] for f in s["fields"]] + spec["report"]["footer"]
    labels = {f["label"]: f["id"] for f in fields}
    columns = [c["id"] for c in spec["register"]["columns"]]
    schema = schema_for(spec)
    accepted, rejected = [], 0
    for path in sorted(inbox.iterdir()):
        code, record = read_report(path, labels, columns)
        try:
            jsonschema.validate(record, schema)
        except jsonschema.ValidationError:
            rejected += 1
            continue
        if not rules_ok(record, spec):
            rejected += 1
            continue
        accepted.append({"village_code": code, "period": f"{YEAR}-{MONTH:02d}", **record["fields"]})
    now = pd.DataFrame(accepted)
    history = pd.read_csv(history_csv, dtype={"village_code": str})
    village_labels = {"村代码": "code", "村（社区）名称": "name", "户籍人口": "population"} | {t["label"]: t["id"] for t in spec["tasks"]}
    villages = table(workspace / "村名册.xlsx", village_labels)[list(village_labels.values())]
    reg_labels = {"村代码": "village_code", "年度": "year", "考核季": "assessment_period"} | {
        f["label"]: f["id"] for f in spec["assessment_register"]["fields"]}
    register = table(workspace / spec["assessment_register"]["file"], reg_labels)
    points = {i["label"]: i["points"] for i in spec["adjustments"]["items"]}
    adjust = table(workspace / spec["adjustments"]["file"], {"村代码": "village_code", "日期": "date", "项目": "item", "次数": "count"})
    adjust = adjust[pd.to_datetime(adjust["date"]) <= pd.Timestamp(YEAR, MONTH, 31)]
    adjust = adjust.assign(points=adjust["item"].map(points) * adjust["count"])
    scores = score(now[now.columns.intersection(["village_code", "period", *history.columns])], history, villages, register, adjust, spec)
    written = write_summary(out, scores, cells)
    return {"accepted": len(accepted), "rejected": rejected, "cells_written": written,
            "item_totals": {str(k): round(float(b + x), 6) for k, b, x in zip(scores.index, scores["base_total"], scores["bonus_total"])}}
