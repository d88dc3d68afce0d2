"""The one library face of huizong. The CLI and the Excel/WPS buttons only call these functions.

Nothing here prints: results come back as data, problems as Problem lists, fatal situations as
HuizongError (which carries its problems).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .filenames import file_name
from .intake.lock import workspace_lock
from .ledger.archive import sha256
from .ledger.db import ACCEPTED, DUPLICATE, PENDING, REJECTED, VOID, Ledger
from .ledger.editions import Edition, last_edition, marked_before, published_before, remember, remember_marked
from .ledger.mail import failed_replies, outbox_standing
from .problems import HuizongError, Problem
from .programme.calendar import period_of, year_start
from .programme.config import Programme, load_programme
from .programme.periods import Month
from .quality import doubts_of, flagged_numbers, task_notes, ticked_anywhere, unconfirmed_by_village
from .registry import CHECKED_NOTE, Registry, Village, register_columns, registry_columns, year_task_columns
from .revision import Revision, compare
from .score.report import scored_table
from .score.scorer import Scored, Scorer
from .status import MISSING, VillageStatus, deadline, note_undelivered, village_statuses
from .validate.plausibility import OUTLIER, plausibility
from .validate.registers import Adjustment, AssessmentEntry, Years, adjustments, assessment_entries
from .validate.registry import build_registry
from .workbook.reader import ReadResult, read_table
from .workbook.safety import DEFAULT_LIMITS
from .workbook.summary import SummaryInfo, build_summary
from .workspace import Workspace, atomic_write, create_layout, machine_errors, open_workspace, repair_layout

# What only some commands need is imported where it is used: `huizong consolidate` starts without the
# mail, template, collection and checking code (and a collection's worker processes, which import
# the command's modules anew, start faster).
if TYPE_CHECKING:
    from .check import FileCheck
    from .intake.folder import CollectSummary
    from .ledger.mail import Reply
    from .score.check import Simulation

_LAZY = {"FileCheck": ".check", "CollectSummary": ".intake.folder"}


def __getattr__(name: str) -> Any:
    """``api.FileCheck`` and ``api.CollectSummary`` (named in __all__), imported when first asked for."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Progress = Callable[[int, int, str], None]

__all__ = [
    "CollectSummary", "Context", "FileCheck", "HuizongError", "Month", "VillageStatus", "Workspace",
    "accept", "collect", "init_workspace", "load_context", "make_templates", "open_workspace", "status",
    "validate_files",
]


@dataclass
class Context:
    """Everything a check needs, loaded once: the workspace, its programme and its registry."""

    workspace: Workspace
    programme: Programme
    registry: Registry
    registry_problems: list[Problem]

    @property
    def secret(self) -> str:
        return self.workspace.secret()


def init_workspace(root: Path | str, force: bool = False, programme: str = "qianfen", example: bool | None = None) -> Workspace:
    """Create a township workspace and its empty registers; 村名册 holds the example township's villages
    (the default for a built-in programme) or only its header row (the default for a township's own)."""
    with machine_errors(str(root)):
        return _init_workspace(root, force, programme, example)


def repair_workspace(root: Path | str) -> Workspace:
    """Make again a workspace's missing folders and signing key; everything the township entered stays."""
    with machine_errors(str(root)):
        return repair_layout(Path(root))


def _init_workspace(root: Path | str, force: bool, programme: str, example: bool | None) -> Workspace:
    from .example import ORGAN, TOWNSHIP, example_registry
    from .score.check import static_problems
    from .workbook.registers import build_table_workbook

    prog = load_programme(programme)
    faults = static_problems(prog)  # the same refusal as `programme check`: before a village reports under it
    if faults:
        raise HuizongError(faults)
    ref = programme
    if Path(programme).suffix in (".yaml", ".yml"):  # a township's own programme: keep a copy in the workspace
        Path(root).mkdir(parents=True, exist_ok=True)
        ref = "programme.yaml"
        atomic_write(Path(root) / ref, Path(programme).read_bytes())
    ws = create_layout(Path(root), TOWNSHIP, ORGAN, ref, force)
    own = Path(programme).suffix in (".yaml", ".yml")
    registry = example_registry([t.id for t in prog.tasks])
    columns = registry_columns(prog.tasks)
    rows = []
    for v in (registry.villages if (example if example is not None else not own) else ()):
        row = {"code": v.code, "name": v.name, "aliases": "、".join(v.aliases), "emails": ";".join(v.emails), "population": v.population}
        row.update(v.tasks)
        rows.append(row)
    note = ("说明：每行一个村（社区）。村代码每村唯一，不要改动；别名用顿号分隔；上报邮箱多个用分号分隔；"
            "年度任务为全年任务数，按考核季比例分解（方案规定）。改完保存即可，下次运行时自动读取。"
            + CHECKED_NOTE)
    atomic_write(ws.registry_path, build_table_workbook("村名册", "村名册", columns, rows, note, ws.organ))
    for spec_key, title, note_text in (
        ("assessment_register", "镇考核登记", "说明：镇里每考核季对每村考核一次，每村每考核季填一行；数值为该考核季发现的次数/例数。" + CHECKED_NOTE),
        ("adjustments", "加分扣分登记", "说明：每发生一次加分或扣分事项登记一行：村、日期、项目（下拉选择）、次数、备注。" + CHECKED_NOTE),
    ):
        raw = prog.raw.get(spec_key)
        if not raw:
            continue
        cols = register_columns(prog, spec_key)
        atomic_write(ws.root / raw["file"], build_table_workbook(title, raw["sheet"], cols, [], note_text, ws.organ, empty_rows=200))
    Ledger(ws.ledger_path).close()
    return ws


def load_context(root: Path | str) -> Context:
    ws = open_workspace(root)
    programme = load_programme(ws.programme_ref)
    plausibility(programme)  # its formulas are checked before any file is, so a typo is named at once
    registry, problems = load_registry(ws, programme)
    return Context(ws, programme, registry, problems)


def load_registry(ws: Workspace, programme: Programme) -> tuple[Registry, list[Problem]]:
    path = ws.registry_path
    if not path.is_file():
        raise HuizongError(Problem("C006", file=str(path), detail=str(path)))
    columns = registry_columns(programme.tasks) + year_task_columns(programme.tasks)
    # as many villages as the settings' limits.max_rows allow (S007 says to raise it), not a fixed 10,000
    res = read_table(path.read_bytes(), path.name, "村名册", columns, ws.limits, max_rows=ws.limits.max_rows)
    registry, problems = build_registry(res, columns, [t.id for t in programme.tasks])
    newer = newer_copy(path)  # saved by WPS as 村名册.xls/.et: its edits would be left out unsaid
    if newer is not None:
        problems.append(Problem("C013", file=path.name, value=newer.name, detail=path.name))
    problems += open_elsewhere(path)
    if not registry.villages:
        raise HuizongError(problems or [Problem("C003", file=path.name, label="村名册", detail="没有任何村")])
    return registry, problems


def make_templates(ctx: Context, period: Month | None, blank: bool = False, out_dir: Path | None = None,
                   villages: list[str] | None = None) -> list[Path]:
    """One personalised template per village (or one blank template) for ``period``.

    ``villages`` (codes) limits the personalised ones to those villages.
    """
    if blank:
        with machine_errors(str(out_dir or ctx.workspace.templates)):
            return [_blank_template(ctx, period, out_dir)]
    return list(village_templates(ctx, period, out_dir, villages).values())


def _blank_template(ctx: Context, period: Month | None, out_dir: Path | None) -> Path:
    from .workbook.template import TemplateIdentity, build_template

    p, ws = ctx.programme, ctx.workspace
    folder = out_dir or (ws.templates / (str(period) if period else "空白"))
    ident = TemplateIdentity(p, ws.organ, period=period, deadline_note=_deadline_note(ws, period))
    path = folder / file_name(p.form_no, f"{p.label(period) if period else ''}空白模板", suffix=".xlsx")
    atomic_write(path, build_template(ident))
    return path


def _deadline_note(ws: Workspace, period: Month | None) -> str:
    if period is None:
        return ""
    due = period.shift(1)
    return f"请于 {due.year}年{due.month}月{ws.deadline_day}日前报送镇里。"


def template_name(programme: Programme, village: Village, period: Month) -> str:
    """<表号>_<村名>_<报告期>.xlsx: a village's name is data — made safe for a file name, and bounded."""
    return file_name(programme.form_no, village.name, programme.label(period), suffix=".xlsx")


def village_templates(ctx: Context, period: Month | None, out_dir: Path | None = None,
                      villages: list[str] | None = None, write: bool = True) -> dict[str, Path]:
    """Each village's personalised template for ``period``, written (``write``; else only where it would go);
    village code → path.

    Mapped by code, never by reading a name back out of a path: names may hold "_" or anything else.
    """
    from .programme.signing import sign
    from .workbook.template import TemplateIdentity, build_template

    p, ws = ctx.programme, ctx.workspace
    if period is None:
        raise HuizongError(Problem("X005", value="（未指定）"))
    not_reported(p, period)
    folder = (out_dir or (ws.templates / str(period))).resolve()
    secret = ctx.secret
    written: dict[str, Path] = {}
    with machine_errors(str(folder)):
        for v in ctx.registry.active(period):  # none for a village before its 起始月份 or from its 停止月份
            if villages is not None and v.code not in villages:
                continue
            sig = sign(secret, p.id, v.code, str(period), p.version)
            ident = TemplateIdentity(p, ws.organ, v.code, v.name, period, sig, _deadline_note(ws, period))
            path = folder / template_name(p, v, period)
            if path.parent != folder:  # cannot happen with a cleaned name; a guard against ever writing elsewhere
                raise HuizongError(Problem("C003", label="村（社区）名称", value=v.name, detail=f"“{v.name}”不能用作文件名"))
            if write:
                atomic_write(path, build_template(ident))
            written[v.code] = path
    return written


def shipped_blank_template_path(programme: Programme) -> Path:
    """Where the blank template of a shipped programme is committed (templates/<id>/)."""
    return Path(programme.source).parent / f"{programme.form_no}_空白模板.xlsx"


def blank_template_bytes(programme: Programme, organ: str = "（制表机关）") -> bytes:
    """The unpersonalised template shipped under templates/<programme>/ (no village, no period)."""
    from .workbook.template import TemplateIdentity, build_template

    return build_template(TemplateIdentity(programme, organ))


def validate_files(
    paths: Iterable[Path],
    ctx: Context | None = None,
    programme: Programme | None = None,
    feedback_dir: Path | None = None,
    progress: Progress | None = None,
) -> list[FileCheck]:
    """Check files without recording anything. With ``feedback_dir``, write annotated copies of invalid ones.

    Each file is checked in a worker process, like in ``collect``: a file that crashes the reader, or
    whose annotated copy cannot be made, is reported on that file, and the others are checked as usual.
    """
    from .check import FileCheck
    from .intake.checker import Checker
    from .validate.identity import Identity

    prog = ctx.programme if ctx else (programme or load_programme("qianfen"))
    paths = list(paths)
    readable: list[tuple[int, bytes, Path]] = []
    out: list[FileCheck | None] = []
    for path in paths:
        try:
            readable.append((len(out), path.read_bytes(), path))
            out.append(None)
        except OSError:
            out.append(FileCheck(str(path), ReadResult(file=str(path)), Identity(), [Problem("X006", file=str(path), detail=str(path))]))
    limits = ctx.workspace.limits if ctx else DEFAULT_LIMITS
    used: set[str] = set()
    with Checker(prog, ctx.registry if ctx else None, ctx.secret if ctx else None, limits, len(readable),
                 feedback="invalid" if feedback_dir is not None else "none") as checker:
        results = checker.check([(data, str(path)) for _, data, path in readable])
        for n, ((index, data, path), (check, built)) in enumerate(zip(readable, results)):
            if progress:
                progress(n, len(readable), path.name)
            if feedback_dir is not None and not check.valid:
                if built is None:  # the worker did not come back with one (it died): the list of problems alone
                    from .workbook.feedback import feedback_copy, feedback_heading

                    built, _ = feedback_copy(b"", "", path.name, check.problems, feedback_heading(prog))
                name = file_name(path.stem, keep=("校验结果",), suffix=".xlsx")
                if name in used:  # two files of one name from different folders: keep both copies
                    name = file_name(path.stem, keep=(sha256(data)[:8], "校验结果"), suffix=".xlsx")
                used.add(name)
                with machine_errors(str(feedback_dir)):
                    atomic_write(feedback_dir / name, built)
            out[index] = check
    return [c for c in out if c is not None]


def collect(ctx: Context, progress: Progress | None = None, mail: bool = True) -> CollectSummary:
    """Take every file in inbox/ and every new message of the mailbox: archive, identify, validate,
    record, write feedback, reply. One run at a time per workspace."""
    from .intake.collect import collect as collect_all

    with machine_errors(str(ctx.workspace.root)):
        return collect_all(ctx, progress, mail=mail)


def not_reported(p: Programme, period: Month) -> None:
    """Refuse a month the programme has no reports for (C reports June to December): its templates, reminders,
    上报情况 (every village 未报) and 汇总 would all be about nothing."""
    if period.month not in p.report_months:
        from .check import report_months_text

        raise HuizongError(Problem("X041", value=period.chinese, detail=report_months_text(p)))


def status(ctx: Context, period: Month) -> list[VillageStatus]:
    with Ledger(ctx.workspace.ledger_path) as ledger:
        rows = village_statuses(ctx.registry, ledger.submissions(str(period)), period, ctx.workspace.deadline_day)
        return note_undelivered(rows, failed_replies(ledger, str(period)), ctx.registry)


def undelivered(ctx: Context, period: Month) -> list[dict[str, object]]:
    """Mail of the period (and replies of no period) the server refused for good: never resent."""
    with Ledger(ctx.workspace.ledger_path) as ledger:
        return [{"kind": r["kind"], "to": json.loads(r["to_addrs"]), "subject": r["subject"], "village_code": r["village_code"],
                 "failed_at": r["failed_at"], "response": r["smtp_response"]} for r in failed_replies(ledger, str(period))]


def accept(ctx: Context, submission_id: int, note: str, village_code: str | None = None, over_newer: bool = False) -> dict[str, object]:
    """Accept a 待确认 submission, or confirm the out-of-line numbers (※) of an accepted one, explicitly
    (recorded with the clerk's note). Either way its outlier warnings count as checked from then on.

    A 待确认 report that arrived before the village's current report (a correction sent since) is not
    accepted over it unless ``over_newer`` (--replace): accepting it would make the older numbers count, unseen (X042).

    The result carries ``confirmed``: the messages of the outlier warnings this decision covers.
    """
    import json

    if not note.strip():  # the ledger keeps why: an empty reason defends nothing
        raise HuizongError(Problem("X049", detail="确认的理由（如“已电话核实为该村所报”）"))
    with machine_errors(str(ctx.workspace.ledger_path)), workspace_lock(ctx.workspace), Ledger(ctx.workspace.ledger_path) as ledger:
        sub = ledger.submission(submission_id)
        stored = json.loads(sub["problems_json"]) if sub is not None else []
        outliers = [p["message"] for p in stored if p["code"] == OUTLIER]
        if sub is not None and sub["status"] == ACCEPTED and outliers:
            return {**dict(ledger.confirm(submission_id, note)), "confirmed": outliers}
        if sub is not None and sub["status"] == ACCEPTED:  # accepted twice: say it was done, not that it is missing
            raise HuizongError(Problem("X051", value=f"#{submission_id}", detail=f"第 {sub['version']} 版"))
        if sub is not None and sub["status"] in (REJECTED, DUPLICATE, VOID):  # there, but nothing to confirm
            raise HuizongError(Problem("X053", value=f"#{submission_id}", detail=sub["status"]))
        if sub is None or sub["status"] != PENDING:
            raise HuizongError(Problem("X006", detail=f"待确认的报送记录（或含待核实数据的记录）#{submission_id}"))
        if village_code is None and not sub["village_code"]:
            raise HuizongError(Problem("I001", value=sub["village_name"] or "（空）"))
        if village_code is not None and ctx.registry.by_code(village_code) is None:
            raise HuizongError(Problem("I001", value=village_code))
        village = village_code or sub["village_code"]
        newer = ledger.later_accepted(submission_id, village, sub["period"]) if sub["period"] else None
        if newer is not None and not over_newer:
            known = ctx.registry.by_code(village)
            name = known.name if known is not None else village
            raise HuizongError(Problem("X042", value=f"{name} {sub['period']}",
                                       detail=f"第 {newer['version']} 版，记录号 {newer['id']}，{str(newer['received_at'])[:16].replace('T', ' ')} 收到"))
        row = ledger.accept(submission_id, note, village_code)
        # now a report of its village and month: compared with the month, as collect does for reports with no history
        from .intake.outliers import recheck_without_history
        from .ledger.archive import Archive

        found = [p.message for p in recheck_without_history(ctx, ledger, Archive(ctx.workspace.archive))]
        return {**dict(row), "confirmed": outliers, "found": found}


def void(ctx: Context, submission_id: int, note: str, undo: bool = False) -> dict[str, object]:
    """Take a file recorded by mistake (the clerk's own test, an annotated copy, a blank template put into inbox/)
    out of every count, with the clerk's reason; its original stays in the archive and its row in the ledger.
    ``undo``: put a voided one back as it was (a record number mistyped)."""
    if not note.strip():
        raise HuizongError(Problem("X049", detail=("撤销作废" if undo else "作废") + "的理由（如“镇里误放入收件箱的空白模板”）"))
    with machine_errors(str(ctx.workspace.ledger_path)), workspace_lock(ctx.workspace), Ledger(ctx.workspace.ledger_path) as ledger:
        sub = ledger.submission(submission_id)
        if sub is None:
            raise HuizongError(Problem("X006", detail=f"报送记录 #{submission_id}"))
        if undo and sub["status"] != VOID:
            raise HuizongError(Problem("X054", value=f"#{submission_id}", detail=sub["status"]))
        if not undo and sub["status"] == VOID:
            raise HuizongError(Problem("X048", value=f"#{submission_id}"))
        receipt = ledger.conn.execute("SELECT original_name FROM receipts WHERE id = ?", (sub["receipt_id"],)).fetchone()
        if undo:
            row = ledger.unvoid(submission_id, note.strip(), status_before_void(sub))
        else:
            ledger.void(submission_id, note.strip())
            row = sub
        return {**dict(row), "original_name": receipt["original_name"] if receipt else ""}


def status_before_void(sub: Any) -> str:
    """What a voided submission was: 重复 (it points at its original), 已接收 (only those have a version), or, from
    its stored problems as the check decided then, 退回 (an error of the file) or 待确认 (only its identity in doubt)."""
    from .check import standing

    if sub["duplicate_of"] is not None:
        return DUPLICATE
    if sub["version"] is not None:
        return ACCEPTED
    return standing((str(p.get("code")), p.get("severity") == "错误") for p in json.loads(sub["problems_json"] or "[]"))


def load_registers(ctx: Context, period: Month | None = None, today: datetime | None = None) -> tuple[list[AssessmentEntry], list[Adjustment], list[Problem]]:
    """The township's 镇考核登记 and 加分扣分登记, validated like village files. A register the programme
    declares that is missing, or beside a newer copy saved in another format, is an error (C010): read as
    empty, its vetoes, deductions and bonuses would all drop out of the 通报 unsaid.

    With ``period``, a 年度, 月份 or 日期 outside its assessment year and every year the ledger has reports
    for is an error (``Years``): such a row would be left out of the ranking, unseen.
    """
    p = ctx.programme
    problems: list[Problem] = []
    entries: list[AssessmentEntry] = []
    adjustments_: list[Adjustment] = []
    years = _register_years(ctx, period, today or datetime.now()) if period is not None else None
    for key in ("assessment_register", "adjustments"):
        raw = p.raw.get(key)
        if not raw:
            continue
        path = ctx.workspace.root / raw["file"]
        trouble = register_file_problem(path)
        if trouble is not None:
            problems.append(trouble)
            if not path.is_file():
                continue
        problems += open_elsewhere(path)
        cols = register_columns(p, key)
        res = read_table(path.read_bytes(), path.name, raw["sheet"], cols, ctx.workspace.limits, max_rows=ctx.workspace.limits.max_rows)
        if key == "assessment_register":
            entries, more = assessment_entries(res, cols, ctx.registry, years)
        else:
            adjustments_, more = adjustments(res, cols, ctx.registry, raw["items"], years)
        problems += more
    return entries, adjustments_, problems


OTHER_FORMATS = (".xls", ".xlsm", ".xlsb", ".ods", ".et", ".ett", ".csv")


def register_file_problem(path: Path) -> Problem | None:
    """C010 for a township register that is not there, or that has a copy in another format newer than it
    (saved by WPS or LibreOffice as .xls/.ods/.et: the latest entries are in the copy, which huizong does not read)."""
    if not path.is_file():
        copies = _copies(path)
        if copies:
            return Problem("C010", value=path.name, detail=f"文件夹里有 {copies[-1].name}：huizong 只读 .xlsx，请用 Excel/WPS 打开它，"
                                                           f"“另存为”Excel 工作簿（*.xlsx），文件名 {path.name}")
        return Problem("C010", value=path.name, detail=f"请把 {path.name} 放回工作目录 {path.parent}；如已删除且本镇不用它，"
                                                       "可用 huizong init 另建一个工作目录，从中复制空白的登记表")
    newer = newer_copy(path)
    if newer is not None:
        return Problem("C010", value=path.name, detail=f"文件夹里的 {newer.name} 比 {path.name} 新：最近的登记可能只在那个文件里，"
                                                       f"huizong 只读 {path.name}。请把 {newer.name} 另存为 {path.name}（覆盖），或删去不用的那一份")
    return None


def open_elsewhere(path: Path) -> list[Problem]:
    """C014 where a township table is open in a spreadsheet program (its lock file beside it: Excel's ~$name,
    LibreOffice's .~lock.name#): entries typed but not yet saved are not in what is read. A lock file left by
    a program that crashed says so too, falsely; it is a warning, and deleting the lock file ends it."""
    locks = (path.with_name("~$" + path.name), path.with_name(f".~lock.{path.name}#"))
    return [Problem("C014", file=path.name, value=path.name)] if any(lock.exists() for lock in locks) else []


def _copies(path: Path) -> list[Path]:
    """The table saved in another format beside it (.xls/.ods/.et), oldest first."""
    return sorted((q for q in (path.with_suffix(ext) for ext in OTHER_FORMATS) if q.is_file()), key=lambda q: q.stat().st_mtime)


def newer_copy(path: Path) -> Path | None:
    """The newest copy of a township table in another format, where it is newer than the .xlsx huizong reads."""
    newer = [q for q in _copies(path) if q.stat().st_mtime > path.stat().st_mtime]
    return newer[-1] if newer else None


def reports_of_no_village(ctx: Context, period: Month) -> list[Problem]:
    """Accepted reports of the assessment year (up to the period) whose village code is no longer in the
    村名册: a village deleted, or given a new code, would drop out of every ranking with its history (an
    earlier 考核季's rank bonus passing to another village), unseen. One error per code (C009). None while
    the 村名册 itself has an error: a row with an error is left out, and C003 already says why."""
    if any(p.is_error for p in ctx.registry_problems):
        return []
    start, p = year_start(ctx.programme, period), ctx.programme
    with Ledger(ctx.workspace.ledger_path) as ledger:
        found = ledger.reporters(p.id, str(start), str(period))
    out = []
    for row in found:
        if ctx.registry.by_code(row["village_code"]) is not None:
            continue
        months = sorted(Month.parse(m) for m in row["periods"].split(","))
        said = "、".join(p.label(m) for m in months[:6]) + (f" 等 {len(months)} 个月" if len(months) > 6 else "")
        named = ctx.registry.by_name(row["name"]) if row["name"] else None
        hint = f"；村名册里的{named.name}是代码 {named.code}" if named is not None else ""
        out.append(Problem("C009", value=row["village_code"], detail=f"{row['name'] or '名称不明'}，{said}{hint}"))
    return out


def _register_years(ctx: Context, period: Month, today: datetime) -> Years:
    p = ctx.programme
    with Ledger(ctx.workspace.ledger_path) as ledger:
        periods = ledger.accepted_periods(p.id)
    in_ledger = frozenset(year_start(p, m).year for m in (Month.try_parse(x) for x in periods) if m is not None)
    return Years(year_start(p, period).year, in_ledger, p.year_start_month, Month(today.year, today.month),
                 {a.name: a.months[0] for a in p.assessment_periods})


def scorer(ctx: Context, registers: tuple[list[AssessmentEntry], list[Adjustment], list[Problem]] | None = None) -> Scorer:
    entries, adjustments_, _ = registers or load_registers(ctx)
    with Ledger(ctx.workspace.ledger_path) as ledger:  # rows are streamed into the scorer, never all held at once
        return Scorer(ctx.programme, ctx.registry, ledger.latest_accepted(ctx.programme.id, [str(m) for m in all_year_months(ctx.programme, ctx)]),
                      entries, adjustments_, published=lambda month: published_ranks(ctx, month))


def published_ranks(ctx: Context, month: Month) -> dict[str, int] | None:
    """The ranks of the last 通报 made of ``month`` (0: not ranked, −1: 一票否决), None where none was made."""
    with Ledger(ctx.workspace.ledger_path) as ledger:
        made = last_edition(ledger.conn, ctx.programme.id, str(month))
    return None if made is None else {code: rank for code, (_name, rank, _total) in made.standings.items()}


def all_year_months(p: Programme, ctx: Context) -> list[Month]:
    """Every month any accepted report in the ledger is for (the scorer filters by year itself)."""
    with Ledger(ctx.workspace.ledger_path) as ledger:
        periods = ledger.all_periods()
    return sorted(m for m in (Month.try_parse(x) for x in periods) if m is not None)


@dataclass
class Consolidation:
    path: Path
    scored: Scored
    table: dict[str, Any]
    statuses: list[VillageStatus]
    register_problems: list[Problem]
    revision: Revision | None = None  # the month was made before, with other numbers: what changed, and why
    notes: list[str] = field(default_factory=list)  # what concerns every village (tasks all 0, last year's tasks)


def consolidate(ctx: Context, period: Month, programme: str | None = None, now: datetime | None = None) -> Consolidation:
    """Score and rank the period from the ledger; write reports/<period>-汇总排名.xlsx atomically."""
    if programme and programme not in (ctx.programme.id, ctx.programme.source):
        ctx = Context(ctx.workspace, load_programme(programme), ctx.registry, ctx.registry_problems)
    from .score.check import static_problems

    faults = static_problems(ctx.programme)  # every fault of the programme at once, as `programme check` names them
    if faults:
        raise HuizongError(faults)
    not_reported(ctx.programme, period)
    # the year's own tasks (“2027年…” columns): next year's, entered in January, must not rescore this year's months
    ctx = replace(ctx, registry=ctx.registry.for_year(year_start(ctx.programme, period).year))
    with _summary_helper(ctx) as helper:
        return _consolidate(ctx, period, now, helper)


def not_made(path: Path) -> Problem:
    """Said by every face when a consolidation stops: the 汇总表 was not made, and one made before under the
    same name is not brought up to date (it could be printed as this month's)."""
    if not path.is_file():
        return Problem("X047", detail="")
    made = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return Problem("X047", detail=f"；reports/ 中的“{path.name}”是 {made} 生成的旧版，不含这次的改动，不要当作最新的通报")


@contextmanager
def _summary_helper(ctx: Context) -> Iterator[Any]:
    """A county's 计算说明 is written by a helper process: started now, it imports while the ledger is read."""
    from .workbook.summary.elsewhere import PARALLEL_FROM, start

    helper = start() if len(ctx.registry.villages) >= PARALLEL_FROM else None
    try:
        yield helper
    finally:
        if helper is not None:  # (the summary ends it; a consolidation stopped earlier, here)
            helper.shutdown(wait=False, cancel_futures=True)


def _consolidate(ctx: Context, period: Month, now: datetime | None, helper: Any) -> Consolidation:
    registers = load_registers(ctx, period, now)
    # a registry row with an error is left out of the registry: its village would vanish from the 通报
    invalid = [p for p in ctx.registry_problems if p.is_error] + [p for p in registers[2] if p.is_error]
    invalid += reports_of_no_village(ctx, period)
    start = year_start(ctx.programme, period)
    # a year's own task column with gaps: its months only
    invalid += [replace(p, code="C017") for p in ctx.registry_problems if p.code == "C016" and p.value == str(start.year)]
    if invalid:  # a register cut short, unreadable, or with a row left out (a veto, a deduction) publishes a wrong ranking
        raise HuizongError(invalid)
    with workspace_lock(ctx.workspace):
        sc = scorer(ctx, registers)
        scored = sc.score(period)
        statuses = status(ctx, period)
        if scored is None:
            raise HuizongError(Problem("X008", detail=ctx.programme.label(period)))
        warnings = [w for w in period_warnings(ctx, period) if w["code"] != OUTLIER]
        with Ledger(ctx.workspace.ledger_path) as ledger:
            flags = flagged_numbers(ledger, ctx.programme.id, months_used(scored))
            seen = marked_before(ledger.conn, ctx.programme.id)
            doubted = doubts_of(scored.data, seen)
            new_year = published_before(ledger.conn, ctx.programme.id, str(start))
        notes = task_notes(ctx.programme, ctx.registry, period, start.year, new_year)
        # the first 通报 under the rule keeps every 是 of the tables (a month made again later shows other rows)
        marked = doubted.marked | (ticked_anywhere(scored.data, *registers[:2]) if seen is None else frozenset())
        generated = now or datetime.now()
        path = ctx.workspace.summary_path(period)
        edition = Edition(generated.isoformat(timespec="seconds"), standings_of(scored), _inputs(ctx, scored, registers))
        revision = _revision(ctx, period, path, edition)
        info = SummaryInfo(ctx.workspace.township, ctx.workspace.organ, generated, _cutoff(statuses, generated, scored.data.received),
                           statuses, warnings, flags, revision, doubted, notes)
        _write_keeping(ctx.workspace, path, build_summary(scored, info, pool=helper), revision)
        with Ledger(ctx.workspace.ledger_path) as ledger, ledger.transaction() as db:  # each file written, remembered
            remember(db, ctx.programme.id, str(period), edition, revision.kept_as if revision else "")
            remember_marked(db, ctx.programme.id, edition.made_at, marked)
    table = scored_table(scored, statuses)
    waiting = unconfirmed_by_village(flags)
    for v in table["villages"]:
        v["unconfirmed"] = [{"submission": f.submission_id, "period": str(f.period), "label": f.label, "value": f.value, "detail": f.detail}
                            for f in waiting.get(v["code"], [])]
    return Consolidation(path, scored, table, statuses, registers[2], revision, notes)


def _revision(ctx: Context, period: Month, path: Path, edition: Edition) -> Revision | None:
    """What this 通报 changes against the last one made of the month (None: nothing, or the first), with where
    the earlier file will be kept; a file made by a version that recorded no editions is kept all the same."""
    with Ledger(ctx.workspace.ledger_path) as ledger:
        before = last_edition(ledger.conn, ctx.programme.id, str(period))
    revision = compare(before, edition) if before is not None else None
    if before is None and path.is_file():
        revision = Revision(Edition(datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds"), {}, {}), [], [])
    if revision is not None and path.is_file():  # it may be the one already sent on
        revision = replace(revision, kept_as=str(_kept_path(path, revision.before).relative_to(ctx.workspace.root)))
    return revision


def _write_keeping(ws: Workspace, path: Path, data: bytes, revision: Revision | None) -> None:
    """Write the 汇总表, the earlier one copied to 旧版 first; a write that fails (the file open in Excel) takes
    the copy back, so clicking again leaves one copy, not one per click."""
    with machine_errors(str(path.parent)):
        kept = ws.root / revision.kept_as if revision is not None and revision.kept_as else None
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, kept)
        try:
            atomic_write(path, data)
        except BaseException:
            if kept is not None:
                kept.unlink(missing_ok=True)
            raise


def months_used(scored: Scored) -> list[Month]:
    """The months whose reports the period's scores and money use: the year so far; for a programme scored on
    the month alone (B), the month — and its 考核季 when the 考核季's ranking ends with it. A number awaiting
    confirmation marks (※) only where it counts: May's figures do not mark December's 通报."""
    d = scored.data
    if d.programme.window != "month":
        return list(d.months)
    current = period_of(d.programme, d.period) if scored.rank_reward is not None else None
    return sorted({d.period, *(current.months if current is not None else ())})


def standings_of(scored: Scored) -> dict[str, tuple[str, int, float]]:
    """Each village's rank and total as published (rank 0 for one shown but not ranked, −1 for 一票否决)."""
    out = {scored.codes[k]: (scored.data.villages[scored.index[k]].name, int(scored.rank[k]), float(scored.total[k]))
           for k in range(len(scored.index))}
    out.update({v.code: (v.name, 0, 0.0) for v, _ in scored.unranked})
    out.update({v.code: (v.name, -1, 0.0) for v, _ in scored.vetoed})
    return out


def _inputs(ctx: Context, scored: Scored, registers: tuple[list[AssessmentEntry], list[Adjustment], list[Problem]]) -> dict[str, str]:
    """A digest of each input a 通报 is made from, as read (a workbook saved again unchanged is the same)."""
    def digest(value: object) -> str:
        return sha256(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).encode())

    def rows(found: Iterable[Any]) -> list[dict[str, Any]]:  # the numbers, not where they stand or a tick in 已核实
        return [{k: v for k, v in vars(x).items() if k not in ("row", "checked")} for x in found]

    return {
        "村名册": digest([v.to_dict() for v in ctx.registry.villages]),
        "镇考核登记": digest(rows(registers[0])),
        "加分扣分登记": digest(rows(registers[1])),
        "报表": digest(sorted((code, str(m), sid) for (code, m), sid in scored.data.submissions.items())),
    }


def _kept_path(path: Path, before: Edition) -> Path:
    """reports/旧版/2026-12-汇总排名（2027-01-05 0930）.xlsx: where a replaced 汇总表 is kept."""
    stamp = before.made_at[:16].replace("T", " ").replace(":", "")
    folder = path.parent / "旧版"
    kept = folder / f"{path.stem}（{stamp}）{path.suffix}"
    n = 2
    while kept.exists():
        kept = folder / f"{path.stem}（{stamp}）({n}){path.suffix}"
        n += 1
    return kept


def _cutoff(statuses: list[VillageStatus], generated: datetime, counted: str = "") -> str:
    """数据截止: the last arrival among the period's reports and every report the year's sums count (a month
    brought in late changes the sums as much as this month's reports)."""
    latest = max([s.received_at for s in statuses if s.received_at] + ([counted] if counted else []), default="")
    when = datetime.fromisoformat(latest) if latest else generated
    return f"{when.year}年{when.month}月{when.day}日 {when:%H:%M}（最后收到的报表）"


def period_warnings(ctx: Context, period: Month) -> list[dict[str, object]]:
    """Normalisation warnings of the accepted reports that count for the period."""
    import json

    out = []
    with Ledger(ctx.workspace.ledger_path) as ledger:
        for row in ledger.latest_accepted(ctx.programme.id, [str(period)]):
            sub = ledger.submission(row["id"])
            if sub is None:
                continue
            v = ctx.registry.by_code(row["village_code"])
            for p in json.loads(sub["problems_json"]):
                if p["severity"] == "警告":
                    out.append({**p, "village_code": row["village_code"], "village_name": v.name if v else "", "period": ctx.programme.label(period)})
    return out


@dataclass
class MailOut:
    replies: list[Reply]
    sent: int
    problems: list[Problem]
    skipped: list[str]  # villages without a registered address
    already: list[str] = field(default_factory=list)  # subjects of mail sent (or queued) before: not sent again


def _deadline_text(ws: Workspace, period: Month) -> str:
    due = period.shift(1)
    return f"{due.year}年{due.month}月{ws.deadline_day}日"


def _mail_out(ctx: Context, replies: list[Reply], dry_run: bool, skipped: list[str]) -> MailOut:
    # a 村名册 row with an error is left out of the registry: its village would be sent nothing, unsaid
    skipped = skipped + [f"{name or code}（村名册这一行有错，见上面的提示）" for code, name in ctx.registry.left_out]
    from .intake.mailconfig import mail_settings
    from .intake.outbox import send_pending
    from .ledger.mail import queue

    settings = mail_settings(ctx.workspace.settings)
    with Ledger(ctx.workspace.ledger_path) as ledger:  # mail that went before is not shown as going now
        done = {r.dedupe_key for r in replies if outbox_standing(ledger.conn, r) == "done"}
    already = [r.subject for r in replies if r.dedupe_key in done]
    replies = [r for r in replies if r.dedupe_key not in done]
    if dry_run:
        return MailOut(replies, 0, [], skipped, already)
    if settings is None or settings.smtp is None:
        raise HuizongError(Problem("C002", file=str(ctx.workspace.root / "huizong.yaml"), field="mail.smtp", detail="没有设置发信服务器（SMTP），无法发送邮件"))
    with machine_errors(str(ctx.workspace.ledger_path)), workspace_lock(ctx.workspace), Ledger(ctx.workspace.ledger_path) as ledger:
        with ledger.transaction() as db:
            for r in replies:
                queue(db, r)
        report = send_pending(ledger, settings, ctx.workspace.root)
    return MailOut(replies, report.sent, report.problems, skipped, already)


def remind(ctx: Context, period: Month, dry_run: bool = False, today: str | None = None) -> MailOut:
    """E-mail the villages that have not reported (or were sent back) a reminder with their template."""
    from .intake.mailconfig import mail_settings
    from .intake.replies import reminder

    settings = mail_settings(ctx.workspace.settings)
    domain = settings.domain if settings else ""
    today = today or datetime.now().date().isoformat()
    todo = _to_remind(ctx, period)
    paths = village_templates(ctx, period, villages=[s.code for s in todo], write=not dry_run) if todo else {}
    replies, skipped = [], []
    for s in todo:
        v = ctx.registry.by_code(s.code)
        if v is None or not v.emails:
            skipped.append(s.name)
            continue
        path = paths[v.code]
        late = today > deadline(period, ctx.workspace.deadline_day).date().isoformat()
        replies.append(reminder(v, period, s.state, _deadline_text(ctx.workspace, period), ctx.workspace.organ,
                                (path.name, str(path.relative_to(ctx.workspace.root))), domain, today, ctx.programme, late))
    return _mail_out(ctx, replies, dry_run, skipped)


def _to_remind(ctx: Context, period: Month) -> list[VillageStatus]:
    """The villages to chase, each 未报 or 退回, judged by the files that came from the village itself (its
    registered addresses, or the township's folder): a stranger's file for a village neither spares it the
    reminder nor makes it 退回 for problems it never saw. A village not taking part this month is not chased
    (a report from it anyway is the 村名册's question, I008)."""
    with Ledger(ctx.workspace.ledger_path) as ledger:
        rows = ledger.submissions(str(period))
    own: dict[str, list[Any]] = {}
    for r in rows:
        v = ctx.registry.by_code(r["village_code"]) if r["village_code"] else None
        if v is not None and (r["status"] == ACCEPTED  # accepted counts whoever sent it (the clerk confirmed a stranger's)
                              or (r["status"] != DUPLICATE and (r["source"] == "folder" or v.sends_from(r["sender"])))):
            own.setdefault(v.code, []).append(r)
    out = []
    for v in ctx.registry.active(period):
        states = {r["status"] for r in own.get(v.code, [])}
        if states & {ACCEPTED, PENDING}:
            continue
        out.append(VillageStatus(v.code, v.name, REJECTED if states else MISSING))
    return out


def send_templates(ctx: Context, period: Month, dry_run: bool = False) -> MailOut:
    """E-mail every village its own personalised template for the period."""
    from .intake.mailconfig import mail_settings
    from .intake.replies import template_mail

    settings = mail_settings(ctx.workspace.settings)
    domain = settings.domain if settings else ""
    paths = village_templates(ctx, period, write=not dry_run)  # a dry run writes nothing
    replies, skipped = [], []
    for v in ctx.registry.active(period):  # a village before its 起始月份 or from its 停止月份 is sent nothing
        if not v.emails:
            skipped.append(v.name)
            continue
        path = paths[v.code]
        replies.append(template_mail(v, period, _deadline_text(ctx.workspace, period), ctx.workspace.organ,
                                     (path.name, str(path.relative_to(ctx.workspace.root))), domain, ctx.programme))
    return _mail_out(ctx, replies, dry_run, skipped)



def check_programme(ref: str | Path, workspace: Path | str | None = None, year: int | None = None,
                    simulate_year: bool = True) -> tuple[Programme, list[Problem], Simulation | None]:
    """``huizong programme check``: load a programme (shipped id or YAML path), name every static fault,
    and — when there is none — simulate a year for the workspace's registry (or the example township's)."""
    from .example import example_registry
    from .score.check import simulate, static_problems

    programme = load_programme(ref)
    problems = static_problems(programme)
    if problems or not simulate_year:
        return programme, problems, None
    if workspace is not None:
        registry, _ = load_registry(open_workspace(workspace), programme)
    else:
        registry = example_registry([t.id for t in programme.tasks])
    return programme, [], simulate(programme, registry, year or datetime.now().year)
