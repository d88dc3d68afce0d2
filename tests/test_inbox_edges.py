"""What an office's inbox/ really holds never stops a collection: a GBK file name from a network share, a
name whose "extension" is 200 bytes long, a file larger than memory, a file Excel keeps open, an annotated
copy Excel keeps open, a file called 已处理, a folder, a corrected file that kept the old one's name, size
and time, a name with rich-text markup. Each is collected (or said), the other files go on, and
collecting again changes nothing.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import zipfile
from pathlib import Path

import pytest

from pipeline import api
from pipeline.intake import folder

from .conftest import PERIOD, filled

GBK_NAME = "桃园村10月报表.xlsx"


def _ledger(ctx) -> list[dict]:
    con = sqlite3.connect(ctx.workspace.ledger_path)
    con.row_factory = sqlite3.Row
    rows = con.execute("SELECT r.original_name, r.source_ref, s.status, s.problems_json, s.feedback_path FROM submissions s"
                       " JOIN receipts r ON r.id = s.receipt_id ORDER BY s.id").fetchall()
    return [{**dict(r), "codes": [p["code"] for p in json.loads(r["problems_json"])]} for r in rows]


def _waiting(ctx) -> list[str]:
    return sorted(p.name for p in ctx.workspace.inbox.iterdir() if p.is_file())


def test_a_gbk_file_name_is_collected_and_shown_in_chinese(ctx):
    """Unzipped by an old tool or copied from a Samba share, a name arrives as GBK bytes: every run stopped
    (UnicodeEncodeError storing it). It is now decoded as Chinese Windows would, stored and moved so."""
    inbox = os.fsencode(ctx.workspace.inbox)
    with open(inbox + b"/" + GBK_NAME.encode("gbk"), "wb") as f:
        f.write(filled(ctx, 0))
    (ctx.workspace.inbox / "01.xlsx").write_bytes(filled(ctx, 1))
    summary = api.collect(ctx)
    assert sorted(i.name for i in summary.items) == sorted([GBK_NAME, "01.xlsx"])
    assert {r["original_name"]: r["status"] for r in _ledger(ctx)} == {GBK_NAME: "已接收", "01.xlsx": "已接收"}
    assert _waiting(ctx) == []
    assert [p.name for p in ctx.workspace.processed.rglob("*.xlsx") if p.name == GBK_NAME]
    assert api.collect(ctx).items == []


def test_a_name_with_a_very_long_extension_is_collected(ctx):
    """"报表.xlsx（最终版）（最终版）…": the text after the last dot made archive names too long for the disk."""
    name = "桃园村.xlsx" + "（最终版）" * 16
    assert 240 < len(name.encode("utf-8")) <= 255
    (ctx.workspace.inbox / name).write_bytes(filled(ctx, 0))
    (ctx.workspace.inbox / "01.xlsx").write_bytes(filled(ctx, 1))
    summary = api.collect(ctx)
    assert {i.name for i in summary.items} == {name, "01.xlsx"}
    assert _waiting(ctx) == []
    assert len(list(ctx.workspace.archive.rglob("*"))) >= 2


def test_a_file_over_the_size_limit_is_archived_and_refused_without_being_read(ctx, monkeypatch):
    """A 4 GB file was read whole before F010: on an office PC, a MemoryError on every run. Now it is
    copied to the archive in pieces and refused unread (a worker that read it would crash: it is not asked)."""
    ctx.workspace.settings.setdefault("limits", {})["max_file_mb"] = 0.5
    big = ctx.workspace.inbox / "大文件.xlsx"
    big.write_bytes(filled(ctx, 0) + os.urandom(700 * 1024))
    (ctx.workspace.inbox / "01.xlsx").write_bytes(filled(ctx, 1))
    monkeypatch.setenv("HUIZONG_CRASH_READING", "大文件.xlsx")  # reading it in a worker would give F014, not F010
    summary = api.collect(ctx)
    statuses = {i.name: i.status for i in summary.items}
    assert statuses == {"大文件.xlsx": "退回", "01.xlsx": "已接收"}
    (row,) = [r for r in _ledger(ctx) if r["original_name"] == "大文件.xlsx"]
    assert row["codes"] == ["F010"]
    archived = [p for p in ctx.workspace.archive.rglob("*.xlsx") if p.stat().st_size > 700 * 1024]
    assert len(archived) == 1 and archived[0].read_bytes() == (ctx.workspace.processed / archived[0].parent.name).parent.joinpath(
        next(ctx.workspace.processed.iterdir()).name, "大文件.xlsx").read_bytes()
    assert not list(ctx.workspace.archive.rglob(".tmp-*"))


def test_a_file_that_cannot_be_moved_is_left_and_said_and_the_rest_go_on(ctx, monkeypatch):
    """On Windows a report the clerk opened from inbox/ in Excel can be read but not moved: the run stopped
    (X012) with the batch recorded and none moved, and every later run stopped in the same place. Linux
    cannot hold a file that way, so moving that one file is made to fail as Windows fails it."""
    for i in range(3):
        (ctx.workspace.inbox / f"{i:02d}.xlsx").write_bytes(filled(ctx, i))
    real = os.replace

    def replace(src, dst):
        if Path(src).name == "01.xlsx" and Path(src).parent == ctx.workspace.inbox:
            raise PermissionError(13, "另一个程序正在使用此文件，进程无法访问。", str(src))
        return real(src, dst)

    monkeypatch.setattr(folder.os, "replace", replace)
    summary = api.collect(ctx)
    assert {i.name: i.status for i in summary.items} == {f"{i:02d}.xlsx": "已接收" for i in range(3)}
    assert [p.code for p in summary.problems] == ["X037"] and "01.xlsx" in summary.problems[0].message
    assert _waiting(ctx) == ["01.xlsx"]
    (ctx.workspace.inbox / "03.xlsx").write_bytes(filled(ctx, 3))
    again = api.collect(ctx)  # still open: the new file goes on all the same
    assert [i.name for i in again.items] == ["03.xlsx"] and again.resumed == []  # not “moved”: it is still there
    assert [p.code for p in again.problems] == ["X037"]
    assert _waiting(ctx) == ["01.xlsx"]
    monkeypatch.setattr(folder.os, "replace", real)  # closed in Excel
    last = api.collect(ctx)
    assert last.items == [] and [i.name for i in last.resumed] == ["01.xlsx"] and _waiting(ctx) == []
    assert len(_ledger(ctx)) == 4


def test_an_annotated_copy_open_in_excel_does_not_stop_the_batch(ctx, monkeypatch):
    """The same faulty file sent twice gets the same annotated copy name; with the first copy open in Excel
    the write failed (X004) and the whole batch rolled back, every run. The second copy goes beside it."""
    bad = filled(ctx, 0, births_total="十二")
    (ctx.workspace.inbox / "a.xlsx").write_bytes(bad)
    api.collect(ctx)
    (first,) = [r["feedback_path"] for r in _ledger(ctx)]
    real = folder.atomic_write

    def atomic_write(path, data):
        if str(path).endswith(Path(first).name):
            from pipeline.problems import HuizongError, Problem
            raise HuizongError(Problem("X004", file=str(path), detail=str(path)))
        return real(path, data)

    monkeypatch.setattr(folder, "atomic_write", atomic_write)
    (ctx.workspace.inbox / "a.xlsx").write_bytes(bad)
    (ctx.workspace.inbox / "01.xlsx").write_bytes(filled(ctx, 1))
    summary = api.collect(ctx)
    assert {i.name: i.status for i in summary.items} == {"a.xlsx": "退回", "01.xlsx": "已接收"}  # checked again
    copies = [r["feedback_path"] for r in _ledger(ctx) if r["feedback_path"]]
    assert copies == [first, first.replace("_校验结果.xlsx", "_校验结果 (2).xlsx")]
    assert all((ctx.workspace.root / c).is_file() for c in copies)
    assert _waiting(ctx) == []


def test_a_file_called_the_processed_folder_and_a_folder_in_inbox(ctx):
    """A plain file named 已处理 stopped every run (NotADirectoryError); reports inside a folder were passed
    over without a word."""
    (ctx.workspace.inbox / "已处理").write_bytes(b"not a folder")
    sub = ctx.workspace.inbox / "10月报表（青龙等）"
    sub.mkdir()
    (sub / "x.xlsx").write_bytes(filled(ctx, 2))
    (ctx.workspace.inbox / "01.xlsx").write_bytes(filled(ctx, 1))
    summary = api.collect(ctx)
    assert {i.name: i.status for i in summary.items} == {"已处理": "退回", "01.xlsx": "已接收"}
    assert [(p.code, p.value) for p in summary.problems] == [("X038", "10月报表（青龙等）")]
    assert _waiting(ctx) == []
    moved = [q for q in ctx.workspace.inbox.rglob("已处理") if q.is_file()]
    assert len(moved) == 1 and moved[0].read_bytes() == b"not a folder"  # into a tidy folder beside its name
    assert [p.code for p in api.collect(ctx).problems] == ["X038"]


def test_a_missing_inbox_is_said(ctx):
    ctx.workspace.inbox.rmdir() if not any(ctx.workspace.inbox.iterdir()) else None
    summary = api.collect(ctx)
    assert [p.code for p in summary.problems] == ["X039"]


def _with_comment(data: bytes, comment: bytes) -> bytes:
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as z:
        z.comment = comment
    return buf.getvalue()


def test_a_corrected_file_with_the_old_name_size_and_time_is_recorded(ctx):
    """Copy tools keep modification times: a corrected file with the same name, size and time as the one
    recorded before was taken for that one (an interrupted run) and moved away unrecorded."""
    path = ctx.workspace.inbox / "报表.xlsx"
    first = _with_comment(filled(ctx, 0, births_total="十二"), b"aaaa")
    second = _with_comment(filled(ctx, 0), b"bbbb")
    second = second if len(second) == len(first) else None
    if second is None:  # the two workbooks differ in length: pad the comment of the shorter to match
        a, b = filled(ctx, 0, births_total="十二"), filled(ctx, 0)
        pad = max(len(a), len(b)) + 8
        first, second = _with_comment(a, b"a" * (pad - len(a))), _with_comment(b, b"b" * (pad - len(b)))
    assert len(first) == len(second) and first != second
    path.write_bytes(first)
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert api.collect(ctx).items[0].status == "退回"
    path.write_bytes(second)
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    summary = api.collect(ctx)
    assert [(i.name, i.status) for i in summary.items] == [("报表.xlsx", "已接收")] and summary.resumed == []
    assert [r["status"] for r in _ledger(ctx)] == ["退回", "已接收"]


def test_markup_in_a_name_is_shown_as_typed(ctx):
    """“[/]” typed as a village's name ended collect with a MarkupError after recording (the table was lost)
    and made `status` fail for the month; “[bold]” in a file name vanished from the table."""
    from rich.console import Console
    from typer.testing import CliRunner

    from pipeline.cli import _collected_table, app

    (ctx.workspace.inbox / "青龙村[bold]报表[link=x].xlsx").write_bytes(filled(ctx, 0))
    res = CliRunner().invoke(app, ["collect", "-w", str(ctx.workspace.root)])
    assert res.exit_code == 0, res.output
    console = Console(record=True, width=200)
    console.print(_collected_table("本次收取", [folder.Collected("青龙村[bold]报表[link=x].xlsx", "退回", "[/]", "2026-10", 1, 1, 0, 1)]))
    shown = console.export_text()
    assert "│ [/]" in shown and "青龙村[bold]报表[link=x].xlsx" in shown


@pytest.mark.parametrize("raw", [float("inf"), float("nan")])
def test_a_non_finite_number_in_an_id_cell_is_a_located_v014(raw):
    from pipeline.programme.config import FieldSpec
    from pipeline.workbook.normalise import normalise_id_number

    out = normalise_id_number(raw, FieldSpec(id="mother_id", label="母亲身份证号", type="id_number"))
    assert [n[0] for n in out.notes] == ["V014"] and out.value is None


def test_masking_keeps_the_message_whole_and_hides_the_number_everywhere(ctx):
    """An ID typed "8" made the stored message "应为 1* 位"; an ID with spaces kept the cleaned number in
    the V010 note unmasked."""
    from pipeline.check import check_bytes, redacted_problems

    good = "110105199001011234"
    data = filled(ctx, 0, register=[
        {"baby_name": "王小明", "sex": "男", "birth_date": "2026-10-03", "birth_order": 1, "mother_name": "李芳", "mother_id": "8", "report_status": "按时上报"},
    ])
    check = check_bytes(data, "a.xlsx", ctx.programme, ctx.registry, ctx.secret)
    stored = redacted_problems(check, ctx.programme)
    v014 = [p for p in stored if p["code"] == "V014"]
    assert v014 and "应为 18 位身份证号码" in v014[0]["message"]
    from pipeline.problems import Problem

    check.problems = [Problem("V010", field="register.0.mother_id", label="母亲身份证号", value=f"{good[:6]} {good[6:]}",
                              detail=f"身份证号码 {good}（去掉了空格）")]
    (masked,) = redacted_problems(check, ctx.programme)
    assert good not in json.dumps(masked, ensure_ascii=False) and good[:6] in masked["message"]
    check.problems = [Problem("V010", field="register.0.mother_name", label="母亲姓名", value="李　芳",
                              detail="文字“李 芳”（去掉了看不见的字符或全角空格）"),
                      Problem("V014", field="register.0.mother_id", label="母亲身份证号", value="1101051990", detail="共 10 位")]
    stored = json.dumps(redacted_problems(check, ctx.programme), ensure_ascii=False)
    assert "芳" not in stored and "1101051990" not in stored  # a name as read in a note; a short ID kept whole by mask()
    check.problems = [Problem("F013", file="a.xlsx", detail="ValueError: invalid literal for int(): '110105199001011234'")]
    assert "110105199001011234" not in json.dumps(redacted_problems(check, ctx.programme), ensure_ascii=False)


def test_a_village_code_stored_as_a_number_reads_whole():
    from pipeline.workbook.reader import _number_text

    assert _number_text(340121001001.0) == "340121001001" and _number_text(2.5) == "2.5"


def _ods(content_body: str) -> bytes:
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2">'
               f'<office:body><office:spreadsheet>{content_body}</office:spreadsheet></office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
                'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def test_an_ods_whose_repeats_expand_past_the_limits_is_refused_before_it_is_read(ctx):
    """One value repeated 1,000 columns in a row repeated 5,000 times: a few hundred bytes, 5 million cells once
    read (16,384 × 5,000 took 5 GB). Its extent is counted from the XML first, as an .xlsx sheet's is; the
    empty repeated cells LibreOffice ends every sheet with do not count."""
    from pipeline.check import check_bytes
    from pipeline.workbook.ods_parts import ods_cells

    bomb = _ods('<table:table table:name="月报"><table:table-row table:number-rows-repeated="5000">'
                '<table:table-cell table:number-columns-repeated="1000" office:value-type="float" office:value="1"/>'
                '</table:table-row></table:table>')
    assert len(bomb) < 1500
    check = check_bytes(bomb, "炸弹.ods", ctx.programme, ctx.registry, ctx.secret)
    assert [(p.code, p.sheet, p.detail) for p in check.problems] == [("F011", "月报", "5000 行 × 1000 列")]
    tail = ('<table:table table:name="Sheet1"><table:table-row><table:table-cell office:value-type="string"><text:p>a</text:p>'
            '</table:table-cell><table:table-cell table:number-columns-repeated="16383"/></table:table-row>'
            '<table:table-row table:number-rows-repeated="1048575"><table:table-cell table:number-columns-repeated="16384"/>'
            '</table:table-row></table:table>')
    content = zipfile.ZipFile(io.BytesIO(_ods(tail))).read("content.xml")
    found = ods_cells(content)
    assert found is not None and {k: (v.max_row, v.max_col) for k, v in found.items()} == {"Sheet1": (1, 1)}


def test_a_file_refused_as_a_whole_still_counts_for_its_village(ctx):
    """A signed report whose 出生登记 is far too long is refused (F011) — and was stored as nobody's: no
    village, no month, status 未报 (a reminder would chase a village that did report), the annotated copy
    in feedback/未识别/, and a spurious “找不到登记表的表头” on top."""
    import openpyxl

    from pipeline.check import check_bytes

    ctx.workspace.settings.setdefault("limits", {})["max_rows"] = 60  # the 月报 has 48 rows, the 出生登记 now 90
    wb = openpyxl.load_workbook(io.BytesIO(filled(ctx, 0)))
    for r in range(50, 91):
        wb["出生登记"].cell(row=r, column=1, value=f"王{r}")
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    check = check_bytes(data, "长.xlsx", ctx.programme, ctx.registry, ctx.secret, ctx.workspace.limits)
    assert [p.code for p in check.problems] == ["F011"] and check.problems[0].sheet == "出生登记"
    (ctx.workspace.inbox / "长.xlsx").write_bytes(data)
    (item,) = api.collect(ctx).items
    assert (item.status, item.period) == ("退回", "2026-10") and item.village == ctx.registry.villages[0].name
    (state,) = [s for s in api.status(ctx, PERIOD) if s.code == ctx.registry.villages[0].code]
    assert state.state == "退回"
    assert "未识别" not in (item.feedback or "")


@pytest.mark.parametrize("limits", [{"max_file_mb": float("nan")}, {"max_file_mb": "20MB"}, {"max_rows": 0}, {"max_file_mb": True}])
def test_a_limit_set_wrong_in_the_settings_is_named(ctx, limits):
    """`max_file_mb: .nan` stopped every command with an internal error (X013)."""
    from pipeline.problems import HuizongError

    ctx.workspace.settings["limits"] = limits
    with pytest.raises(HuizongError) as err:
        api.collect(ctx)
    (problem,) = err.value.problems
    assert problem.code == "C002" and problem.field == f"limits.{next(iter(limits))}"


def test_a_date_cell_holding_a_number_or_a_time_is_not_a_date():
    """3 typed in a date-formatted cell reads as 1900-01-03, a time as 1899-12-30: refused, not stored."""
    from datetime import date, datetime

    from pipeline.programme.config import FieldSpec
    from pipeline.workbook.normalise import normalise_date

    spec = FieldSpec(id="report_date", label="报出日期", type="date")
    for raw in (datetime(1900, 1, 3), date(1899, 12, 30), datetime(2262, 1, 1)):
        out = normalise_date(raw, spec)
        assert out.value is None and [n[0] for n in out.notes] == ["V011"]
    assert normalise_date(datetime(2026, 10, 3, 0, 0), spec).value == date(2026, 10, 3)


def test_a_control_character_in_a_typed_value_is_shown():
    from pipeline.problems import Problem

    message = Problem("V002", label="本月出生数", value="1\x012").message
    assert "1␁2" in message  # "1\x012" read "12": the clerk could not see what was wrong
    assert "1e+308" in Problem("V002", label="x", value=1e308).message  # not a 309-digit number


def test_a_shortcut_to_nothing_and_a_pipe_in_inbox_are_said(ctx):
    (ctx.workspace.inbox / "桃园村.xlsx").symlink_to(ctx.workspace.root / "不存在.xlsx")
    os.mkfifo(ctx.workspace.inbox / "管道.xlsx")
    (ctx.workspace.inbox / "01.xlsx").write_bytes(filled(ctx, 1))
    summary = api.collect(ctx)
    assert [i.name for i in summary.items] == ["01.xlsx"]
    assert sorted((p.code, p.value, p.detail) for p in summary.problems) == [
        ("X040", "桃园村.xlsx", "快捷方式指向的文件不存在"), ("X040", "管道.xlsx", "不是普通文件")]


def test_two_names_shown_alike_stay_two_files(ctx):
    """The same name once as UTF-8 and once as GBK bytes, same size and time, different content: both are
    recorded (the arrival is keyed on the name as the disk gives it, not as it is shown)."""
    a, b = filled(ctx, 0, elderly_checks=20), filled(ctx, 0, elderly_checks=21)
    pad = max(len(a), len(b)) + 8
    a, b = _with_comment(a, b"a" * (pad - len(a))), _with_comment(b, b"b" * (pad - len(b)))
    inbox = os.fsencode(ctx.workspace.inbox)
    for raw_name, data in ((GBK_NAME.encode("utf-8"), a), (GBK_NAME.encode("gbk"), b)):
        with open(inbox + b"/" + raw_name, "wb") as f:
            f.write(data)
        os.utime(inbox + b"/" + raw_name, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    summary = api.collect(ctx)
    assert [i.name for i in summary.items] == [GBK_NAME, GBK_NAME]
    assert len({i.submission_id for i in summary.items}) == 2 and len(_ledger(ctx)) == 2
    assert _waiting(ctx) == []


def test_the_workers_start_data_left_by_a_killed_run_is_swept(ctx):
    """The programme and registry (with the villages' e-mail addresses) the workers start from were left in
    the system's temporary folder by every killed run. They now live in the workspace and the next collection
    sweeps what a killed one left."""
    stale = ctx.workspace.state / ".tmp-huizong-left.pickle"
    stale.write_bytes(b"left by a killed run")
    (ctx.workspace.inbox / "01.xlsx").write_bytes(filled(ctx, 1))
    assert [i.status for i in api.collect(ctx).items] == ["已接收"]
    assert not list(ctx.workspace.state.glob(".tmp-*"))
