"""The ranked summary workbook: contract sheets, stored values = pipeline values = LibreOffice's
recalculation, no personal data, totals that add up, JSON enough to recompute every score."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import python_calamine as pc

from pipeline import api
from pipeline.demo import run_demo
from pipeline.example import example_report
from pipeline.programme.calendar import year_months
from pipeline.programme.formula import evaluate, parse
from pipeline.workbook.summary.page import HEAD_ROW

from . import lo

SHEETS = ["通报", "得分明细", "原始数据", "计算说明", "乡镇合计", "奖惩", "数据质量", "图表"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo") / "ws")


def formula_cells(path: Path) -> dict[tuple[str, str], str]:
    wb = openpyxl.load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    out[(ws.title, c.coordinate)] = c.value
    return out


def values(data: bytes) -> dict[str, list[list]]:
    wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    return {name: wb.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in wb.sheet_names}


def at(grid: dict[str, list[list]], sheet: str, coord: str):
    col = 0
    letters = re.match(r"[A-Z]+", coord).group(0)
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    row = int(coord[len(letters):]) - 1
    rows = grid[sheet]
    return rows[row][col - 1] if row < len(rows) and col - 1 < len(rows[row]) else None


def test_sheets_and_ranked_notice(demo):
    path = demo.consolidation.path
    assert path.name == "2026-10-汇总排名.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == SHEETS
    ws = wb["通报"]
    assert "排名通报" in ws["A1"].value
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.print_title_rows.replace("$", "") == "6:6"
    names = [ws.cell(row=r, column=3).value for r in range(7, 7 + len(demo.consolidation.scored.index))]
    # 名次 is a live formula over the totals (its cached value is what viewers show)
    assert all(str(ws.cell(row=r, column=1).value).startswith("='得分明细'!") for r in range(7, 7 + len(names)))
    cached = openpyxl.load_workbook(path, data_only=True)["通报"]
    ranks = [cached.cell(row=r, column=1).value for r in range(7, 7 + len(names))]
    assert ranks == sorted(ranks) and ranks[0] == 1
    grid = [[c.value for c in row] for row in ws.iter_rows()]
    flat = "\n".join(str(v) for row in grid for v in row if v is not None)
    assert "王岗村" in flat and "未报" in flat  # the village that never reports is listed, not scored
    # programme A has no rule for praise or criticism by rank (spec): the notice publishes none
    assert "通报表扬" not in flat and "通报批评" not in flat
    assert "示例镇人民政府" in flat and "2026年11月9日" in flat


def test_stored_values_match_the_pipeline(demo):
    path = demo.consolidation.path
    scored = demo.consolidation.scored
    grid = values(path.read_bytes())
    wb = openpyxl.load_workbook(path)
    ws = wb["得分明细"]
    # blocks of columns stacked one under the other: each has its own header row (村代码, 村（社区）, …)
    header = {ws.cell(row=r, column=c).value: (r, c) for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=1).value == "村代码"
              for c in range(3, ws.max_column + 1) if ws.cell(row=r, column=c).value}
    assert len({r for r, _ in header.values()}) > 1  # the 19-village demo does not fit one page width: several blocks
    for k in range(len(scored.index)):
        for comp in scored.plan.computations:
            r, col = header[comp.label]
            got = grid["得分明细"][r + k][col - 1]
            assert got == pytest.approx(float(scored.env[comp.key][k]), abs=1e-9), (comp.label, k)
        r, col = header["总分"]
        assert grid["得分明细"][r + k][col - 1] == pytest.approx(float(scored.total[k]), abs=1e-9)


@pytest.mark.libreoffice
def test_libreoffice_recalculation_reproduces_every_formula(demo, tmp_path):
    lo.require()
    path = demo.consolidation.path
    formulas = formula_cells(path)
    assert len(formulas) > 500
    stored = values(path.read_bytes())
    # a deliberately wrong stored value proves LibreOffice really recalculates (not just shows what we stored)
    tampered = tmp_path / "tampered.xlsx"
    _tamper(path, tampered, sheet_index=2, cell="C5", new_value="12345.678")  # 得分明细!C5 is a formula (first block, first village)
    original = tmp_path / "summary.xlsx"
    shutil.copy(path, original)
    out = tmp_path / "recalc"
    out.mkdir()
    converted = lo.convert_many([original, tampered], "xlsx:Calc MS Excel 2007 XML", out)
    recalculated = values(converted[0].read_bytes())
    mismatches = []
    for (sheet, coord), _formula in formulas.items():
        ours, theirs = at(stored, sheet, coord), at(recalculated, sheet, coord)
        if isinstance(ours, float) or isinstance(theirs, float):
            if not (isinstance(theirs, float) and isinstance(ours, float) and abs(ours - theirs) <= 1e-9 * max(1, abs(ours))):
                mismatches.append((sheet, coord, ours, theirs))
        elif ours != theirs:
            mismatches.append((sheet, coord, ours, theirs))
    assert mismatches == []
    assert at(values(tampered.read_bytes()), "得分明细", "C5") == pytest.approx(12345.678)
    assert at(values(converted[1].read_bytes()), "得分明细", "C5") == pytest.approx(at(stored, "得分明细", "C5"))


def _tamper(src: Path, dst: Path, sheet_index: int, cell: str, new_value: str) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == f"xl/worksheets/sheet{sheet_index}.xml":
                text = data.decode("utf-8")
                text, n = re.subn(rf'(<c r="{cell}"[^>]*>(?:<f>[^<]*</f>)?<v>)[^<]*(</v>)', rf"\g<1>{new_value}\g<2>", text, count=1)
                assert n == 1
                data = text.encode("utf-8")
            zout.writestr(item, data)


def test_no_identity_numbers_or_mothers_names_anywhere(demo):
    ctx_villages = demo.consolidation.scored.data.villages
    ids, names = set(), set()
    programme = demo.consolidation.scored.plan.programme
    for v in ctx_villages:
        for m in year_months(programme, demo.period):
            _, register = example_report(v, m)
            ids |= {r["mother_id"] for r in register}
            names |= {r["mother_name"] for r in register} | {r["baby_name"] for r in register}
    assert ids
    with zipfile.ZipFile(demo.consolidation.path) as z:
        text = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))
    assert not re.search(r"\d{17}[\dX]", text)
    assert not [i for i in ids if i in text or i[:6] + "*" in text]
    long_names = [n for n in names if len(n) >= 3]
    assert not [n for n in long_names if n in text]


def test_township_totals_are_the_sums_of_the_villages(demo):
    scored = demo.consolidation.scored
    wb = openpyxl.load_workbook(demo.consolidation.path)
    ws = wb["乡镇合计"]
    rows = {ws.cell(row=r, column=1).value: (ws.cell(row=r, column=2).value, ws.cell(row=r, column=3).value) for r in range(1, ws.max_row + 1)}
    d = scored.data
    stocks = 0
    for f in scored.plan.programme.fields:
        month_total, ytd_total = rows[f.label]
        assert month_total == pytest.approx(float(np.nansum(d.monthly[d.period][f.id])))
        if f.stock:  # e.g. 宣传标语条数: each village's latest month, added up over the villages (never over months)
            latest = 0.0
            for i in range(len(d.villages)):
                seen = [float(d.monthly[m][f.id][i]) for m in d.months if not np.isnan(d.monthly[m][f.id][i])]
                latest += seen[-1] if seen else 0.0
            assert ytd_total == pytest.approx(latest)
            stocks += 1
        else:  # a flow: every month of every village
            assert ytd_total == pytest.approx(sum(float(np.nansum(d.monthly[m][f.id])) for m in d.months))
    assert stocks == 1 and 150 < rows["宣传标语条数"][1] < 300  # about 10 slogans a village, never 10 months of them
    births = rows["本月出生数"][1]
    boys = sum(float(np.nansum(d.monthly[m]["births_boys"])) for m in d.months)
    girls = sum(float(np.nansum(d.monthly[m]["births_girls"])) for m in d.months)
    assert boys + girls == births
    ratio_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(row=r, column=1).value == "出生人口性别比")
    assert (ws.cell(row=ratio_row, column=2).value, ws.cell(row=ratio_row, column=3).value) == (boys, girls)


def test_json_table_recomputes_every_score(demo):
    table = json.loads(json.dumps(demo.consolidation.table))
    items = {i["code"]: i for i in table["programme"]["items"]}
    for v in table["villages"]:
        for code, got in v["items"].items():
            item = items[code]
            assert 0 <= got["base"] <= item["max"] + 1e-9
            assert got["bonus"] >= 0
            if item["per_period"]:
                continue
            env = {k: np.array([val]) for k, val in v["inputs"].items()}
            env |= {n: np.array([val]) for n, val in got.get("let", {}).items()}
            if item["target"]:
                env["t"] = np.array([v["inputs"][f"t:{code}"]])
            base = float(np.clip(evaluate(parse(item["base"]), env), 0, item["max"]).reshape(-1)[0])
            assert base == pytest.approx(got["base"]), (v["name"], code)
        total = v["base_total"] + v["bonus_total"] + v["register_bonus"] - v["register_deduction"] + v["rank_bonus"]
        assert total == pytest.approx(v["total"])
    ranks = [v["rank"] for v in table["villages"]]
    totals = [v["total"] for v in table["villages"]]
    assert ranks == [1 + sum(1 for u in totals if u > t) for t in totals]
    assert {v["name"] for v in table["not_scored"]} == {"王岗村", "桃园村"}


@pytest.mark.parametrize("formula", [
    "=MIN(10,MAX(0,'原始数据'!$C4*2))", '=IF(C4=0,"—",B4/C4*100)', "=SUM(B4:B22)", "=ROUND(A1,2)+IFERROR(1/0,0)",
    "=XLOOKUP(1,A1:A2,B1:B2)", "=IFS(A1>1,1,TRUE,0)", "=_xlfn.SWITCH(A1,1,2)", "{=SUM(A1:A2*B1:B2)}", "=FILTER(A1:A3,B1:B3>0)",
])
def test_fast_formula_preparation_equals_xlsxwriters(formula):
    from xlsxwriter.worksheet import Worksheet

    from pipeline.workbook.summary.sheet import SummarySheet

    ours, theirs = SummarySheet(), Worksheet()
    for flag in (False, True):
        ours.use_future_functions = theirs.use_future_functions = flag
        assert ours._prepare_formula(formula) == theirs._prepare_formula(formula)


def test_summary_with_fast_sheets_is_byte_identical(demo, monkeypatch):
    """The cheaper formula preparation and the whole-row writing change nothing in the file XlsxWriter writes."""
    from xlsxwriter.worksheet import Worksheet

    from pipeline import api
    from pipeline.workbook import summary
    from pipeline.workbook.summary import sheet

    class Plain(sheet.SummarySheet):  # every cell through XlsxWriter's own methods and formula preparation
        _prepare_formula = Worksheet._prepare_formula

    ctx = api.load_context(demo.workspace)
    scored = demo.consolidation.scored
    info = summary.SummaryInfo("镇", "机关", datetime(2026, 11, 9, 10, 0), "截止", api.status(ctx, demo.period), [])
    fast = summary.build_summary(scored, info)
    monkeypatch.setattr(summary, "SummarySheet", Plain)
    monkeypatch.setattr(sheet, "FAST_ROWS", False)
    plain = summary.build_summary(scored, info)
    a, b = zipfile.ZipFile(io.BytesIO(fast)), zipfile.ZipFile(io.BytesIO(plain))
    assert a.namelist() == b.namelist()
    assert all(a.read(n) == b.read(n) for n in a.namelist())
    assert b"<f>" in a.read("xl/worksheets/sheet2.xml")


def test_whole_rows_are_written_as_xlsxwriter_writes_each_cell(monkeypatch):
    """write_cells against XlsxWriter's per-cell methods on the odd values a village's text or a score can be."""
    import xlsxwriter

    from pipeline.workbook.summary import sheet

    def book(fast: bool) -> bytes:
        monkeypatch.setattr(sheet, "FAST_ROWS", fast)
        buf = io.BytesIO()
        wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
        ws = wb.add_worksheet("表", worksheet_class=sheet.SummarySheet)
        f1, f2 = wb.add_format({"bold": True}), wb.add_format({"num_format": "0.00", "border": 1})
        texts = ["", " 前导空格", "末尾空格 ", "换\n行", "末尾换行\n", '&<>"\'', "<r>rich</r>", "_x0041_", "响\x07铃", "\ufffe",
                 "=1+1", "x" * 20000, "村（社区）"]
        ws.write_string(0, 0, "标题", f1)
        ws.set_row(0, 30)
        for r, text in enumerate(texts, start=1):
            ws.write_cells(r, 0, [("s", text, f1), ("n", r * 1.5, f2), ("n", -r, f2), ("b", None, f2)])
        ws.write_string(len(texts) + 1, 0, "分隔", f1)
        ws.write_cells(len(texts) + 1, 1, [("n", 1e20, f2), ("n", 0.1 + 0.2, f2), ("n", np.float64(2.5), f2), ("n", True, f2)])
        for r, value in enumerate([12.5, 0.0, "—", "", "#N/A", True, False, 3], start=len(texts) + 2):
            ws.write_cells(r, 0, [("s", "村", f2), ("f", f"=MIN(10,MAX(0,B{r + 1}*2))", f1, value),
                                  ("f", "=XLOOKUP(1,A1:A2,B1:B2)", f2, 1.0), ("f", '=IF(C4=0,"—",B4/C4*100)', None, "—")])
            ws.set_row(r, 14 * (r % 3 + 1))
        ws.write_cells(40, 2, [("s", "后写", None)])
        wb.close()
        return buf.getvalue()

    fast, plain = book(True), book(False)
    a, b = zipfile.ZipFile(io.BytesIO(fast)), zipfile.ZipFile(io.BytesIO(plain))
    assert a.namelist() == b.namelist()
    assert [n for n in a.namelist() if a.read(n) != b.read(n)] == []
    assert b'xml:space="preserve"' in a.read("xl/worksheets/sheet1.xml")


@pytest.mark.libreoffice
def test_the_printed_summary_is_readable(demo, tmp_path):
    """LibreOffice prints it (PDF): every sheet starts on a page with its title, nothing prints below
    8 pt, and no chart runs across a page break."""
    import os

    lo.require("pdftotext", "pdfinfo", "pdftoppm")
    pdf = lo.convert(demo.consolidation.path, "pdf", tmp_path)
    pages = [p.replace(" ", "") for p in lo.pdf_pages_text(pdf)]
    period = demo.period.chinese
    # each sheet in order: its title and something from its first rows are on the same (first) page
    firsts = []
    for title, first_rows in (("排名通报", "名次变化"), (f"得分明细（{period}）", "村代码"), (f"原始数据（{period}）", "村代码"),
                              (f"计算说明（{period}）", "代入数值"), (f"合计（{period}）", "分子（本年累计）"), (f"奖惩（{period}）", "日期/考核季"),
                              (f"数据质量（{period}）", "本年缺报月份"), ("图表", "各村总分")):
        page = next(i for i, text in enumerate(pages) if title in text)
        assert first_rows in pages[page], (title, page)
        firsts.append(page)
    assert firsts == sorted(firsts) and firsts[0] == 0
    assert "第1页，共" in pages[0]
    # the ranked notice of 19 villages is one page
    assert firsts[1] == 1
    # no text below 8 pt (a word's box is about 0.91 of its font size in points)
    small = []
    for n in range(1, len(pages) + 1):
        small += [(n, w[0], round((w[4] - w[2]) / 0.91, 1)) for w in lo.pdf_words(pdf, n) if (w[4] - w[2]) / 0.91 < 8]
    assert small == []
    # charts: the bar chart (all villages, down to the last-ranked) on one page, the trend chart on the next
    scored = demo.consolidation.scored
    last = scored.data.villages[scored.index[scored.order()[-1]]].name
    bar = next(i for i, text in enumerate(pages) if "各村总分" in text and "图表" in text)
    assert last in pages[bar]
    trend = next(i for i, text in enumerate(pages) if "全镇主要比率逐月走势" in text)
    assert trend == bar + 1 and "2026年1月" in pages[trend]
    if os.environ.get("HUIZONG_RENDER_DOCS") == "1":  # refresh the pictures in docs/ (one per sheet) and the page count
        images = Path(__file__).resolve().parent.parent / "docs" / "images"
        for name, page in zip(("通报", "得分明细", "原始数据", "计算说明", "乡镇合计", "奖惩", "数据质量", "图表"), firsts):
            lo.render_page(pdf, page + 1, images / f"汇总-{name}.png", dpi=70)
        lo.render_page(pdf, trend + 1, images / "汇总-图表2.png", dpi=70)
        (images / "汇总-页数.txt").write_text(f"{len(pages)}\n", encoding="utf-8")


@pytest.mark.libreoffice
def test_correcting_an_input_reranks_in_the_spreadsheet(demo, tmp_path):
    """名次 and 名次变化 are live: raising the last village's registered bonus in 原始数据 makes it first
    once LibreOffice recalculates, in 得分明细 and in the 通报."""
    lo.require()
    path = demo.consolidation.path
    scored = demo.consolidation.scored
    last = scored.order()[-1]
    wb = openpyxl.load_workbook(path)

    def find(sheet: str, header: str) -> tuple[int, int]:
        ws = wb[sheet]
        return next((r, c) for r in range(1, ws.max_row + 1) for c in range(1, ws.max_column + 1) if ws.cell(row=r, column=c).value == header)

    r, c = find("原始数据", "加分扣分登记：加分")
    cell = f"{openpyxl.utils.get_column_letter(c)}{r + 1 + last}"
    tampered = tmp_path / "raised.xlsx"
    _tamper(path, tampered, sheet_index=3, cell=cell, new_value="500")
    out = tmp_path / "recalc"
    out.mkdir()
    grid = values(lo.convert(tampered, "xlsx:Calc MS Excel 2007 XML", out).read_bytes())
    rank_r, rank_c = find("得分明细", "名次")
    change_r, change_c = find("得分明细", "名次变化")
    assert grid["得分明细"][rank_r + last][rank_c - 1] == 1
    first = scored.order()[0]
    assert grid["得分明细"][rank_r + first][rank_c - 1] == 2
    before = int(scored.previous_rank[last])
    assert grid["得分明细"][change_r + last][change_c - 1] == (f"↑{before - 1}" if before > 1 else "→0")
    notice = grid["通报"]
    row = next(i for i, line in enumerate(notice) if len(line) > 2 and str(line[2]).startswith(scored.data.villages[scored.index[last]].name))
    assert notice[row][0] == 1


def test_a_county_s_explanations_continue_on_further_sheets(demo, monkeypatch):
    """Excel keeps at most 1,023 page breaks in a sheet (and 1,048,576 rows): 计算说明 holds a fixed number of
    villages per sheet and goes on in 计算说明（2）, （3）…, every village once, in rank order, each on its own page."""
    from pipeline import api
    from pipeline.workbook import summary
    from pipeline.workbook.summary import explain

    monkeypatch.setattr(explain, "VILLAGES_PER_SHEET", 5)
    ctx = api.load_context(demo.workspace)
    scored = demo.consolidation.scored
    info = summary.SummaryInfo("镇", "机关", datetime(2026, 11, 9, 10, 0), "截止", api.status(ctx, demo.period), [])
    data = summary.build_summary(scored, info)
    grid = values(data)
    n = len(scored.index)
    names = explain.explanation_sheets(n)
    assert names == ["计算说明", "计算说明（2）", "计算说明（3）", "计算说明（4）"][: -(-n // 5)]
    assert list(grid) == SHEETS[:3] + names + SHEETS[4:]
    seen = []
    for k, name in enumerate(names):
        rows = grid[name]
        assert f"第 {k + 1} 张，共 {len(names)} 张" in rows[0][0]
        heads = [r[0] for r in rows[HEAD_ROW + 1:] if isinstance(r[0], str) and "　第 " in r[0] and "名　总分" in r[0]]
        assert len(heads) == min(5, n - 5 * k)
        seen += [h.split("　")[0] for h in heads]
        xml = zipfile.ZipFile(io.BytesIO(data)).read(f"xl/worksheets/sheet{4 + k}.xml").decode()
        assert xml.count("<brk ") == len(heads) - 1  # a page of its own for every village of the sheet
    ranked = [scored.data.villages[scored.index[k]].name for k in scored.order()]
    assert seen == ranked


def test_register_sums_are_labelled_as_sums_of_the_year(demo):
    """计算说明 labels YTD sums as 累计 (spec): “12 − 3×例会缺席次数 = 12 − 3×3” read as one month's absences
    while the 3 was the year's three 考核季 added up; a state (组织制度落实项数) is the latest entry."""
    wb = openpyxl.load_workbook(demo.consolidation.path, read_only=True)
    lines = [" | ".join(str(c) for c in r if c is not None) for r in wb["计算说明"].iter_rows(values_only=True)]
    assert any("C1.2" in t and "例会缺席次数（累计）" in t for t in lines)
    assert any("C1.1" in t and "组织制度落实项数（最新）" in t for t in lines)
    head = next(r for r in wb["原始数据"].iter_rows(values_only=True) if r and r[0] == "村代码")
    assert "例会缺席次数（镇考核登记，累计）" in head


def test_every_cell_written_reaches_the_file(demo, monkeypatch):
    """The summary is written in XlsxWriter's constant-memory mode, where a row written after a later one is
    dropped without a word (the 通报's legend line was). Written both ways, the two files hold the same cells."""
    from datetime import datetime

    import xlsxwriter

    from pipeline.programme.periods import Month

    ctx = api.load_context(demo.workspace)
    period = Month(2026, 10)

    def cells(path) -> dict:
        wb = openpyxl.load_workbook(path)
        return {(ws.title, c.coordinate): c.value for ws in wb.worksheets for r in ws.iter_rows() for c in r if c.value is not None}

    now = datetime(2026, 11, 8, 10, 0)  # the same date on both files, whenever the test runs
    streamed = cells(api.consolidate(ctx, period, now=now).path)
    real = xlsxwriter.Workbook

    class InMemory(real):  # type: ignore[misc, valid-type]
        def __init__(self, target, options=None):
            super().__init__(target, {**(options or {}), "constant_memory": False})

    monkeypatch.setattr(xlsxwriter, "Workbook", InMemory)
    whole = cells(api.consolidate(ctx, period, now=now).path)
    assert streamed == whole


def test_explanations_call_only_a_declared_veto_a_veto():
    """计算说明 called every IF(…, 0, …) 一票否决: programme B's 依法行政 (0 after a complaint) and programme C's
    village with no fruit checked read as 一票否决, which in B is something else (恶劣影响: out of the year)."""
    from pipeline.programme.formula import parse, words

    node = parse("IF(OR(violations>0,negative_reports>0),0,10)")
    assert words(node, {"violations": "1", "negative_reports": "0"}) == "若 OR(1>0, 0>0)，则计 0 分；否则 10"
    assert "一票否决（计 0 分）" in words(node, {"violations": "1", "negative_reports": "0"}, veto=True)
    from pipeline.programme.config import load_programme
    from pipeline.score.check import register_columns_for
    from pipeline.score.plan import build_plan

    def vetoed_items(pid: str) -> list[str]:
        p = load_programme(pid)
        return [i.code for i in build_plan(p, {f.id for f in register_columns_for(p)}).items if i.veto]

    vetoes = {pid: vetoed_items(pid) for pid in ("qianfen", "monthly-b", "fruitfly-c")}
    assert vetoes == {"qianfen": ["C2.1"], "monthly-b": [], "fruitfly-c": []}


def test_a_notice_a_little_over_a_page_prints_on_one_and_a_long_one_keeps_its_size(tmp_path):
    """A 19-village 通报 that runs a few rows over one page would print its signature alone under a repeated
    header on page 2: it is fitted to one page. A county's long list keeps its size and prints on several."""
    import xlsxwriter

    from pipeline.workbook.summary.page import landscape, one_page_if_short

    widths = [6, 8, 11, 9, 9, 9, 9, 9, 9, 9, 42]
    path = tmp_path / "pages.xlsx"
    wb = xlsxwriter.Workbook(path)
    fitted = []
    for rows in (19, 300):
        ws = wb.add_worksheet(f"n{rows}")
        landscape(ws)
        fitted.append(one_page_if_short(ws, widths, 36 + 2 * 18 + 40 + (rows + 12) * 15))
    wb.close()
    assert fitted == [True, False]
    book = openpyxl.load_workbook(path)

    def fit(name: str) -> tuple[int, int]:  # an omitted attribute is 1
        setup = book[name].page_setup
        return tuple(1 if v is None else int(v) for v in (setup.fitToWidth, setup.fitToHeight))  # type: ignore[return-value]

    assert fit("n19") == (1, 1) and fit("n300") == (1, 0)


def _taken(monkeypatch) -> list[bool]:
    """Whether each helper's rows were taken (or the lines written here after all)."""
    from pipeline.workbook.summary import elsewhere

    taken: list[bool] = []
    take = elsewhere.Helper.take

    def spy(self, sheets):
        taken.append(take(self, sheets))
        return taken[-1]

    monkeypatch.setattr(elsewhere.Helper, "take", spy)
    monkeypatch.setattr(elsewhere, "WAIT_SECONDS", (3600.0, 0.0))  # a loaded machine's slow helper is still waited for
    return taken


@pytest.mark.parametrize("per_sheet", [1024, 5])
def test_a_helper_process_writes_the_same_explanations_byte_for_byte(demo, monkeypatch, per_sheet):
    """A county's 计算说明 (over half the summary's cells) is written by a helper process while this one writes the
    other sheets; the main workbook takes its rows. The file is the one a single process writes — on one sheet
    or several (a county's 计算说明（2）…). Real processes here: nothing of XlsxWriter or the helper is stood in for."""
    from pipeline import api
    from pipeline.workbook import summary
    from pipeline.workbook.summary import explain

    from pipeline.workbook.summary import elsewhere

    monkeypatch.setattr(explain, "VILLAGES_PER_SHEET", per_sheet)
    ctx = api.load_context(demo.workspace)
    info = summary.SummaryInfo("镇", "机关", datetime(2026, 11, 9, 10, 0), "截止", api.status(ctx, demo.period), [])
    monkeypatch.setattr(elsewhere, "PARALLEL_FROM", 10**9)
    alone = summary.build_summary(demo.consolidation.scored, info)
    monkeypatch.setattr(elsewhere, "PARALLEL_FROM", 0)
    taken = _taken(monkeypatch)
    helped = summary.build_summary(demo.consolidation.scored, info)
    assert taken == [True]
    a, b = zipfile.ZipFile(io.BytesIO(alone)), zipfile.ZipFile(io.BytesIO(helped))
    assert a.namelist() == b.namelist() and all(a.read(n) == b.read(n) for n in a.namelist())
    assert ("计算说明（2）" in values(helped)) == (per_sheet == 5)


def test_a_helper_that_fails_leaves_the_lines_to_this_process(demo, monkeypatch):
    """A helper that cannot write (here: it is given no number for a format its lines use, and refuses rather
    than write a wrong one) costs nothing but time: the lines are written here, the file is whole."""
    from pipeline import api
    from pipeline.workbook import summary
    from pipeline.workbook.summary import elsewhere, explain

    ctx = api.load_context(demo.workspace)
    info = summary.SummaryInfo("镇", "机关", datetime(2026, 11, 9, 10, 0), "截止", api.status(ctx, demo.period), [])
    monkeypatch.setattr(explain, "formats", lambda st: [st.title, st.note, st.head])  # the lines' own three left out
    monkeypatch.setattr(elsewhere, "PARALLEL_FROM", 10**9)
    alone = summary.build_summary(demo.consolidation.scored, info)
    monkeypatch.setattr(elsewhere, "PARALLEL_FROM", 0)
    taken = _taken(monkeypatch)
    helped = summary.build_summary(demo.consolidation.scored, info)
    assert taken == [False] and helped == alone
    grid = values(helped)
    assert sum(1 for r in grid["计算说明"] if isinstance(r[0], str) and "名　总分" in r[0]) == len(demo.consolidation.scored.index)


def test_a_consolidation_starts_its_helper_early_and_publishes_the_same_file(demo, monkeypatch):
    """For a county the helper is started as the consolidation begins (it imports while the ledger is read) and
    ended with it; the 通报 published is the one a single process makes."""
    from pipeline import api
    from pipeline.workbook.summary import elsewhere

    ctx = api.load_context(demo.workspace)
    made = datetime(2026, 11, 9, 10, 0)
    monkeypatch.setattr(elsewhere, "PARALLEL_FROM", 10**9)
    alone = api.consolidate(ctx, demo.period, now=made).path.read_bytes()
    monkeypatch.setattr(elsewhere, "PARALLEL_FROM", 0)
    started = []
    start = elsewhere.start
    monkeypatch.setattr(elsewhere, "start", lambda: started.append(1) or start())
    taken = _taken(monkeypatch)
    helped = api.consolidate(ctx, demo.period, now=made).path.read_bytes()
    assert started == [1] and taken == [True]  # one helper, started once (not again by the summary)
    a, b = zipfile.ZipFile(io.BytesIO(alone)), zipfile.ZipFile(io.BytesIO(helped))
    assert a.namelist() == b.namelist() and all(a.read(n) == b.read(n) for n in a.namelist())
