"""The design workbook (方案设计表) as data: which sheet holds which part of a programme, its columns,
and the conversion between a programme's YAML document and plain rows — both ways, losslessly.

Like an XLSForm, a township writes its programme as tables in Excel: 方案 (settings, one per row),
填报项 (the report's fields, grouped by 分组), 考核项 (items and formulas), 考核季, 年度任务, … .
Cell values are Chinese where a clerk chooses (类型 整数/数字/…, 是/否, 流量/存量); lists are
written 1、2、3 and name–formula pairs one per line. This module only maps; reading and writing
the workbook is workbook/design.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

# Chinese words a clerk picks ⇄ the configuration's values
WORDS: dict[str, dict[str, str]] = {
    "type": {"整数": "integer", "数字": "number", "百分数": "percent", "文字": "text", "选项": "enum", "日期": "date",
             "身份证号": "id_number", "电话": "phone"},
    "aggregate": {"流量": "sum", "存量": "latest", "月均": "average"},
    "bool": {"是": True, "否": False},  # type: ignore[dict-item]
    "rule": {"不大于": "lte", "等于": "eq", "等于登记行数": "register_count", "等于登记表之和": "register_sum"},
    "effect": {"通报批评": "criticise", "强制列入后几名": "bottom", "一票否决": "veto", "不参与排名": "unranked", "备注说明": "note"},
    "scope": {"本期": "period", "全年": "year"},
    "every": {"每月": "month", "考核季末": "period_end"},
    "window": {"本年累计": "ytd", "本月": "month"},
    "order": {"高分在前": "desc", "低值在前": "asc"},
    "granularity": {"每考核季": "period", "每月": "month"},
    "period_kind": {"每月": "month", "每季度": "quarter"},
}
FOOTER = "落款（表尾）"  # the 分组 of the report's footer fields (单位负责人, 填表人, …)
KINDS = {"flags": "评判", "rewards": "奖励补贴", "rank_rewards": "名次奖励"}


@dataclass(frozen=True)
class Col:
    key: str  # the key in the YAML object
    label: str  # the header in the workbook
    kind: str = "str"  # str int num bool ints nums strs pairs numpairs lists formula, or a WORDS table name
    width: float = 12.0
    hint: str = ""


@dataclass(frozen=True)
class Table:
    sheet: str
    cols: tuple[Col, ...]
    note: str


FIELD_COLS = (
    Col("id", "字段代码", width=18, hint="英文小写字母、数字、下划线，如 births_total；公式中用它"),
    Col("label", "中文名", width=24),
    Col("type", "类型", "type", width=9),
    Col("unit", "单位", width=7),
    Col("min", "最小值", "num", 8), Col("max", "最大值", "num", 8), Col("decimals", "小数位", "int", 7),
    Col("max_length", "最多字数", "int", 8),
    Col("values", "下拉选项", "strs", 18, "选项类型填：男、女"),
    Col("required", "必填", "bool", 6), Col("aggregate", "流量/存量", "aggregate", 9),
    Col("personal", "个人信息", "bool", 8), Col("within_period", "须在报告期内", "bool", 10),
    Col("example", "演示数据范围", "nums", 12, "如 0、8：演示和模拟时在这个范围内取数"),
    Col("since", "起用月份", width=10, hint="年中新增的填报项：从这个月起才要求填，如 2026-07"),
    Col("hint", "填写提示", width=30),
)
FIELD_KEYS = tuple(c.key for c in FIELD_COLS)

TABLES: dict[tuple[str, ...], Table] = {
    ("report", "sections"): Table("填报项", (Col("section", "分组", width=18),) + FIELD_COLS,
                                   f"说明：月报的每个填报项一行；分组相同的连续几行是月报上的一节；分组写“{FOOTER}”的是表尾（单位负责人、填表人等）。"),
    ("register", "columns"): Table("登记表列", FIELD_COLS, "说明：随月报附的明细登记表（如出生登记）的列，每列一行。没有登记表可删去本表。"),
    ("rules",): Table("校验规则", (Col("type", "规则", "rule", 14), Col("field", "字段", width=22), Col("other", "另一字段", width=22),
                                Col("column", "登记表列", width=18, hint="等于登记表之和时：要相加的登记表列"),
                                Col("where", "登记表条件", "lists", 30, "等于登记行数时的条件，每行一个：report_status: 按时上报、迟报")),
                     "说明：字段之间的关系，如“已上报出生数”不大于“本月出生数”。"),
    ("periods", "assessment"): Table("考核季", (Col("name", "名称", width=14), Col("months", "月份", "ints", 16), Col("weight", "任务比例", "num", 10)),
                                     "说明：考核年度分成几个考核季；按年度任务计分的，各考核季的任务比例合计为 1。"),
    ("tasks",): Table("年度任务", (Col("id", "代码", width=22), Col("label", "名称（村名册的列名）", width=30)),
                      "说明：村名册中每村的年度任务数（每个一列）；考核项的“目标”写这里的代码。"),
    ("assessment_register", "fields"): Table("镇考核登记", FIELD_COLS, "说明：镇里每考核季（或每月）对每村登记的考核发现，每项一行。"),
    ("adjustments", "items"): Table("加分扣分", (Col("id", "代码", width=26), Col("label", "项目", width=30), Col("points", "分值", "num", 8),
                                               Col("per", "计量单位", width=8)), "说明：加分扣分登记的项目；扣分的分值写负数。"),
    ("scoring", "items"): Table("考核项", (
        Col("code", "代码", width=7), Col("category", "类别", width=12), Col("name", "项目", width=20), Col("max", "满分", "num", 7),
        Col("target", "目标（年度任务代码）", width=16), Col("let", "中间量", "pairs", 34, "每行一个：rate = 公式"),
        Col("labels", "中间量名称", "pairs", 24, "每行一个：rate = 中文名"),
        Col("base", "基本分公式", "formula", 44, "Excel 写法，不写等号；字段用字段代码"), Col("bonus", "加分公式", "formula", 30),
        Col("bonus_max", "加分上限", "num", 8), Col("per_period", "按考核季计分", "bool", 8), Col("period_max", "每考核季满分", "num", 8),
        Col("period_bonus_max", "每考核季加分上限", "num", 8), Col("veto", "一票否决", "bool", 8, "基本分 IF(条件,0,…) 原文件称一票否决的写“是”"),
        Col("explain", "说明", width=20)),
        "说明：每个考核项一行。基本分限在 0～满分之间；有加分公式的必须写加分上限。公式中可用：字段代码、年度任务代码、t（目标）、"
        "population（户籍人口）、months_elapsed（已过月数）。"),
    ("plausibility", "limits"): Table("合理上限", (Col("field", "字段", width=24), Col("max", "上限（数字或公式）", "formula", 26),
                                                   Col("why", "理由", width=40)),
                                      "说明：一个月的数超过上限即退回请村里核实。上限可写数字，或用年度任务代码、population 写的公式。"),
    ("derived",): Table("派生计数", (Col("id", "代码", width=18), Col("label", "名称", width=18),
                                    Col("count_register", "计数条件", "lists", 30, "数行数时的条件，每行一个：sex: 男"),
                                    Col("sum_register", "求和的登记表列", width=16), Col("where", "求和条件", "lists", 30, "求和时的条件，每行一个")),
                     "说明：由登记表算出的数：满足条件的行数（如出生男孩数），或某一列之和（如明细金额合计）。"),
    ("township", "indicators"): Table("乡镇指标", (
        Col("name", "指标", width=22), Col("numerator", "分子", width=20), Col("denominator", "分母", width=20, hint="字段代码，或 t:年度任务代码"),
        Col("unit", "单位", width=8), Col("scale", "倍数", "num", 7), Col("low", "下限", "num", 7), Col("high", "上限", "num", 7), Col("note", "说明", width=30)),
        "说明：乡镇合计中的率，由全镇分子、分母合计重新计算。"),
}
OUTCOMES = Table("奖惩", (
    Col("kind", "类别", width=10), Col("name", "名称", width=30), Col("formula", "条件或金额公式", "formula", 40),
    Col("effect", "效果", "effect", 12), Col("scope", "范围", "scope", 7), Col("from_month", "起判月份", "int", 8),
    Col("target", "目标", width=14), Col("every", "发放", "every", 10), Col("amounts", "各名次金额", "nums", 16),
    Col("criticise_bottom", "批评后几名", "int", 9), Col("review_last", "末名检讨", "bool", 8)),
    "说明：类别“评判”（条件成立时的效果）、“奖励补贴”（金额公式，元）、“名次奖励”（考核季按名次发的金额）。")

# 方案 sheet: (path, label, kind) — one setting per row
SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("id", "方案代码", "str"), ("name", "方案名称", "str"), ("short_name", "简称", "str"), ("version", "版本", "str"),
    ("unit_label", "单位称呼（村/社区）", "str"), ("period_kind", "报告周期", "period_kind"),
    ("report.form_no", "表号", "str"), ("report.title", "月报标题", "str"), ("report.sheet", "月报工作表名", "str"),
    ("report.units_note", "计量单位说明", "str"),
    ("register.id", "登记表代码", "str"), ("register.label", "登记表名称", "str"), ("register.sheet", "登记表工作表名", "str"),
    ("register.name", "登记表区域名", "str"), ("register.rows", "登记表行数", "int"), ("register.max_rows", "登记表最多行数", "int"),
    ("register.hint", "登记表说明", "str"),
    ("periods.year_start_month", "考核年度起始月", "int"), ("periods.report_months", "上报月份", "ints"),
    ("assessment_register.file", "镇考核登记文件", "str"), ("assessment_register.sheet", "镇考核登记工作表", "str"),
    ("assessment_register.granularity", "镇考核登记周期", "granularity"),
    ("adjustments.file", "加分扣分登记文件", "str"), ("adjustments.sheet", "加分扣分登记工作表", "str"),
    ("adjustments.rank_bonus.label", "考核季排名加分名称", "str"), ("adjustments.rank_bonus.points", "考核季排名加分（第1名、第2名…）", "nums"),
    ("scoring.window", "计分范围", "window"), ("scoring.total_label", "总分名称", "str"),
    ("scoring.ranking.order", "排名方向", "order"), ("scoring.ranking.praise_top", "表扬前几名", "int"),
    ("scoring.ranking.criticise_bottom", "批评后几名", "int"), ("scoring.ranking.criticise_if", "后几名中批评的条件", "formula"),
    ("scoring.ranking.show", "通报备注列出的字段", "strs"),
    ("plausibility.outliers.factor", "异常提示：超过往月最大值的倍数", "num"), ("plausibility.outliers.margin", "异常提示：且至少多出", "num"),
    ("plausibility.outliers.months", "异常提示：看此前几个月", "int"), ("plausibility.outliers.min_peers", "异常提示：至少几个村已报才比中位数", "int"),
    ("plausibility.outliers.min_months", "异常提示：本村至少几个月往月数据才和自己比", "int"),
    ("plausibility.outliers.within_year", "异常提示：只和本考核年度的往月比", "bool"),
    ("plausibility.outliers.fields", "异常提示：检查的字段", "strs"),
    ("plausibility.outliers.zero_after.fields", "突然为 0 提示：字段（如比率的分母）", "strs"),
    ("plausibility.outliers.zero_after.min", "突然为 0 提示：此前每月至少", "num"),
    ("plausibility.outliers.zero_after.months", "突然为 0 提示：至少看几个月", "int"),
    ("plausibility.outliers.zero_after.given", "突然为 0 提示：分子 = 分母（分母本月为 0 时不提示分子）", "pairs"),
    ("plausibility.outliers.margins", "异常提示：另定差额的字段（如金额）", "numpairs"),
    ("plausibility.outliers.falls", "偏小提示：字段（如比率的分母）", "strs"),
    ("plausibility.outliers.falls_months", "偏小提示：至少看几个月", "int"),
)


# ---- values ⇄ cell text ------------------------------------------------------------------------

def to_cell(value: Any, kind: str) -> Any:
    """A configuration value as the workbook shows it (None: an empty cell)."""
    if value is None:
        return None
    if kind in WORDS:
        back = {v: k for k, v in WORDS[kind].items()}
        return back.get(value, value)
    if kind in ("ints", "nums", "strs"):
        return "、".join(_num_text(x) if kind != "strs" else str(x) for x in value)
    if kind in ("pairs", "numpairs"):
        return "\n".join(f"{k} = {_num_text(v) if kind == 'numpairs' else v}" for k, v in value.items())
    if kind == "lists":
        return "\n".join(f"{k}: {'、'.join(map(str, v))}" for k, v in value.items())
    return value


def from_cell(text: Any, kind: str, say: Callable[[str], None]) -> Any:
    """A cell's value as configuration; ``say`` is told what is wrong (in Chinese)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if kind in WORDS:
        words = WORDS[kind]
        key = str(text).strip()
        if key in words:
            return words[key]
        if key in words.values():  # the configuration's own word is accepted too
            return key
        say(f"应为 {'、'.join(words)} 之一")
        return None
    if kind in ("int", "num"):
        if isinstance(text, str):
            try:
                text = float(text.strip())
            except ValueError:
                say("应为数字")
                return None
        number = float(text)
        if kind == "int" and not number.is_integer():
            say("应为整数")
            return None
        return int(number) if number.is_integer() else number
    if kind in ("ints", "nums", "strs"):
        parts = [p.strip() for p in _split(str(text)) if p.strip()]
        if kind == "strs":
            return parts
        out = []
        for p in parts:
            try:
                x = float(p)
            except ValueError:
                say(f"“{p}”不是数字；多个数用顿号分隔，如 1、2、3")
                return None
            out.append(int(x) if x.is_integer() else x)
        return out
    if kind == "numpairs":
        pairs = from_cell(text, "pairs", say)
        if pairs is None:
            return None
        numbers = {}
        for k, v in pairs.items():
            numbers[k] = from_cell(v, "num", partial(_say_of, say, k))
        return None if None in numbers.values() else numbers
    if kind in ("pairs", "lists"):
        out_map: dict[str, Any] = {}
        for line in str(text).splitlines():
            if not line.strip():
                continue
            sep = "=" if kind != "lists" else ":"
            line = line.replace("：", ":") if kind == "lists" else line
            if sep not in line:
                say(f"“{line.strip()}”应写成 名称 {sep} 内容，每行一个")
                return None
            key, _, rest = line.partition(sep)
            out_map[key.strip()] = rest.strip() if kind == "pairs" else [p.strip() for p in _split(rest) if p.strip()]
        return out_map
    if kind == "formula":  # a bare number (an upper limit of 100000) stays a number
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            return int(text) if float(text).is_integer() else float(text)
        try:
            number = float(str(text).strip())
        except ValueError:
            return str(text).strip()
        return int(number) if number.is_integer() else number
    if kind == "str" and isinstance(text, float) and text.is_integer():
        return str(int(text))
    return str(text)


def _say_of(say: Callable[[str], None], key: str, message: str) -> None:
    say(f"“{key}”的值{message}")


def _split(text: str) -> list[str]:
    for sep in ("，", ",", "；", ";", "/"):
        text = text.replace(sep, "、")
    return text.split("、")


def _num_text(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


# ---- the programme document ⇄ rows -----------------------------------------------------------

def _get(doc: dict[str, Any], path: str | tuple[str, ...]) -> Any:
    node: Any = doc
    for key in (path.split(".") if isinstance(path, str) else path):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _put(doc: dict[str, Any], path: str | tuple[str, ...], value: Any) -> None:
    keys = path.split(".") if isinstance(path, str) else list(path)
    node = doc
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def to_rows(doc: dict[str, Any]) -> tuple[list[tuple[str, str, Any]], dict[str, list[dict[str, Any]]]]:
    """(settings as (path, label, cell)), and the rows of every table sheet, as the workbook shows them."""
    settings = [(path, label, to_cell(_get(doc, path), kind)) for path, label, kind in SETTINGS]
    tables: dict[str, list[dict[str, Any]]] = {}
    for path, table in TABLES.items():
        cols = {c.key: c for c in table.cols}
        if path == ("report", "sections"):
            items = [dict(f, section=s["title"]) for s in doc["report"]["sections"] for f in s["fields"]]
            items += [dict(f, section=FOOTER) for f in doc["report"].get("footer", [])]
        else:
            items = _get(doc, path) or []
        tables[table.sheet] = [{k: to_cell(v, cols[k].kind) for k, v in item.items()} for item in items]
    outcomes = []
    for key, kind in KINDS.items():
        for item in _get(doc, ("scoring", key)) or []:
            row = dict(item, kind=kind)
            row["formula"] = row.pop("when", None) or row.pop("amount", None)
            cols = {c.key: c for c in OUTCOMES.cols}
            outcomes.append({k: to_cell(v, cols[k].kind) for k, v in row.items() if v is not None})
    tables[OUTCOMES.sheet] = outcomes
    return settings, tables


Where = tuple[str, int, str]  # sheet, row index in the table (-1: the 方案 sheet's setting), column key or path


def from_rows(settings: dict[str, Any], tables: dict[str, list[dict[str, Any]]],
              say: Callable[[Where, str], None]) -> dict[str, Any]:
    """The programme document from the workbook's cells (as read: numbers, text); faults go to ``say``."""
    doc: dict[str, Any] = {}
    for key, _label, kind in SETTINGS:
        value = from_cell(settings.get(key), kind, _teller(say, ("方案", -1, key)))
        if value is not None:
            _put(doc, key, value)
    for path, table in TABLES.items():
        rows = tables.get(table.sheet)
        if rows is None:
            continue
        items = [_item(table.cols, row, table.sheet, i, say) for i, row in enumerate(rows)]
        if path == ("report", "sections"):
            sections: list[dict[str, Any]] = []
            footer = []
            for item in items:
                title = item.pop("section", None)
                if title == FOOTER:
                    footer.append(item)
                elif sections and sections[-1]["title"] == title:
                    sections[-1]["fields"].append(item)
                else:
                    sections.append({"title": title or "", "fields": [item]})
            doc.setdefault("report", {})["sections"] = sections
            if footer:
                doc["report"]["footer"] = footer
        elif items:
            _put(doc, path, items)
    for i, row in enumerate(tables.get(OUTCOMES.sheet) or []):
        item = _item(OUTCOMES.cols, row, OUTCOMES.sheet, i, say)
        kind = item.pop("kind", None)
        group = next((k for k, v in KINDS.items() if v == kind), None)
        if group is None:
            say((OUTCOMES.sheet, i, "kind"), f"类别应为 {'、'.join(KINDS.values())} 之一")
            continue
        formula = item.pop("formula", None)
        if formula is not None:
            item["when" if group == "flags" else "amount"] = formula
        doc.setdefault("scoring", {}).setdefault(group, []).append(item)
    return doc


def _teller(say: Callable[[Where, str], None], where: Where) -> Callable[[str], None]:
    return lambda message: say(where, message)


def _item(cols: tuple[Col, ...], row: dict[str, Any], sheet: str, index: int, say: Callable[[Where, str], None]) -> dict[str, Any]:
    out = {}
    for c in cols:
        value = from_cell(row.get(c.key), c.kind, _teller(say, (sheet, index, c.key)))
        if value is not None:
            out[c.key] = value
    return out
