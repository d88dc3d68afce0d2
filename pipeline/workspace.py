"""A township workspace on disk: settings, secret, folders. Paths only — no spreadsheet I/O here."""

from __future__ import annotations

import errno
import math
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from .problems import HuizongError, Problem
from .programme.config import load_yaml, schema_problems
from .programme.signing import new_secret
from .workbook.safety import Limits

SETTINGS = "huizong.yaml"
STATE_DIR = ".huizong"


@dataclass(frozen=True)
class Workspace:
    root: Path
    settings: dict[str, Any]

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def processed(self) -> Path:
        return self.root / "inbox" / "已处理"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def summary_path(self, period: object) -> Path:
        """reports/<period>-汇总排名.xlsx: the ranked summary of a month."""
        return self.reports / f"{period}-汇总排名.xlsx"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def feedback(self) -> Path:
        return self.root / "feedback"

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def ledger_path(self) -> Path:
        return self.state / "ledger.sqlite"

    @property
    def lock_path(self) -> Path:
        return self.state / "lock"

    @property
    def registry_path(self) -> Path:
        return self.root / self.settings.get("registry", "村名册.xlsx")

    @property
    def township(self) -> str:
        return _unquoted(self.settings["township"])

    @property
    def organ(self) -> str:
        return _unquoted(self.settings["organ"])

    @property
    def programme_ref(self) -> str:
        ref = str(self.settings["programme"])
        local = self.root / ref
        return str(local) if ref.endswith((".yaml", ".yml")) and local.exists() else ref

    @property
    def deadline_day(self) -> int:
        return int(self.settings.get("deadline_day", 5))

    @property
    def limits(self) -> Limits:
        lim = self.settings.get("limits") or {}
        base = Limits()
        mb, rows = lim.get("max_file_mb", base.max_file_bytes / 1024 / 1024), lim.get("max_rows", base.max_rows)
        for key, value, least in (("max_file_mb", mb, 0.1), ("max_rows", rows, 10)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < least:
                raise HuizongError(Problem("C002", file=str(self.root / SETTINGS), field=f"limits.{key}",
                                           detail=f"“{value}”应为不小于 {least:g} 的数"))
        return Limits(max_file_bytes=int(mb * 1024 * 1024), max_rows=int(rows))

    def secret(self) -> str:
        return (self.state / "secret.key").read_text(encoding="ascii").strip()


def _unquoted(value: object) -> str:
    """A name as typed in huizong.yaml without the Chinese quotes around it (township: “东风镇” printed
    “东风镇”千分制考核排名通报 on the 通报's title): YAML takes only straight quotes as quotes."""
    return str(value).strip().strip("“”‘’「」『』\"'").strip()


def open_workspace(root: Path | str) -> Workspace:
    root = Path(root).resolve()
    settings_path = root / SETTINGS
    if not settings_path.is_file():
        around = next((p for p in root.parents if (p / SETTINGS).is_file()), None)
        if around is not None:  # a folder inside a workspace (inbox/, reports/): init there would make a second one
            raise HuizongError(Problem("X046", value=quoted(around), detail=str(root)))
        raise HuizongError(Problem("X001", detail=str(root)))
    data = load_yaml(settings_path)
    problems = schema_problems(data, "settings", str(settings_path))
    if problems:
        raise HuizongError(problems)
    ws = Workspace(root, data)
    lost = lost_state(ws)
    if lost:
        raise HuizongError(lost)
    return ws


def lost_state(ws: Workspace) -> list[Problem]:
    """The .huizong folder (or its key or ledger) deleted by accident while the workspace has been used: carrying
    on would publish every earlier report as 未报 (a new, empty ledger) or refuse every template sent (a new key)."""
    received = _first_file(ws.archive)  # what shows the workspace was used: an archived original, or a 汇总表 made
    if received is None and ws.reports.is_dir():
        received = next(ws.reports.glob("*汇总排名*.xlsx"), None)
    out = []
    if not (ws.state / "secret.key").is_file():
        out.append(Problem("X044", value=str(ws.state / "secret.key"), detail=quoted(ws.root)))
    if not ws.ledger_path.is_file() and received is not None:
        out.append(Problem("X045", value=str(ws.ledger_path), detail=str(ws.root)))
    if not ws.archive.is_dir() and ws.ledger_path.is_file() and _has_receipts(ws.ledger_path):
        out.append(Problem("X052", value=str(ws.archive)))  # said at once: the recycle bin may still hold it
    return out


def _has_receipts(ledger: Path) -> bool:
    """Has the ledger recorded any file received (read without creating or changing anything)?"""
    try:
        con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
        try:
            return con.execute("SELECT 1 FROM receipts LIMIT 1").fetchone() is not None
        finally:
            con.close()
    except sqlite3.Error:
        return False  # no receipts table yet, or a ledger the commands themselves will report


def _first_file(folder: Path) -> Path | None:
    """A file in ``folder`` or its subfolders (the archive keeps its originals two levels down), or None."""
    try:
        for entry in os.scandir(folder):
            if entry.is_file():
                return Path(entry.path)
            if entry.is_dir() and (found := _first_file(Path(entry.path))) is not None:
                return found
    except OSError:
        return None
    return None


def quoted(path: Path) -> str:
    """A path as the clerk can paste it after a command (quoted when it has a space)."""
    text = str(path)
    return f'"{text}"' if any(c.isspace() for c in text) else text


def settings_text(township: str, organ: str, programme: str) -> str:
    body = {
        "township": township,
        "organ": organ,
        "programme": programme,
        "registry": "村名册.xlsx",
        "deadline_day": 5,
        "limits": {"max_file_mb": 20, "max_rows": 20000},
    }
    head = (
        "# huizong 工作目录设置。可用记事本修改；改后运行任意 huizong 命令都会先检查本文件。\n"
        "# township: 乡镇名称；organ: 制表/发文机关；programme: 考核方案（内置：qianfen）；\n"
        "# deadline_day: 每月几号前报送上月月报；limits: 单个文件大小（MB）和行数上限。\n"
    )
    return head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)


def repair_layout(root: Path) -> Workspace:
    """``init --repair``: make again what is missing of a workspace's folders and its signing key — settings,
    村名册, registers and ledger stay as they are (a lost ledger is restored from a backup, not remade)."""
    root = root.resolve()
    if not (root / SETTINGS).is_file():
        raise HuizongError(Problem("X001", detail=str(root)))
    _make_folders(root)
    return open_workspace(root)


def _make_folders(root: Path) -> None:
    """The workspace's folders and signing key, where missing; the received files, the ledger and the key readable
    by the owner only (the archive holds ID numbers)."""
    for sub in ("inbox", "archive", "reports", "templates", "feedback", STATE_DIR):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for private in ("archive", STATE_DIR):
        owner_only(root / private, directory=True)
    secret = root / STATE_DIR / "secret.key"
    if not secret.exists():
        atomic_write(secret, new_secret().encode("ascii"))


def create_layout(root: Path, township: str, organ: str, programme: str, force: bool) -> Workspace:
    root = root.resolve()
    if (root / SETTINGS).exists() and not force:
        raise HuizongError(Problem("X002", detail=str(root)))
    around = next((q for q in root.parents if (q / SETTINGS).is_file()), None)
    if around is not None:  # a workspace inside another (its inbox/, its reports/): its files would be collected there
        raise HuizongError(Problem("X046", value=quoted(around), detail=str(root)))
    if (root / SETTINGS).exists():
        _backup(root)
    _make_folders(root)
    atomic_write(root / SETTINGS, settings_text(township, organ, programme).encode("utf-8"))
    return open_workspace(root)


def _backup(root: Path) -> Path:
    """Before ``init --force`` rewrites settings and the township's workbooks, keep copies."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = root / STATE_DIR / "backup" / stamp
    n = 2
    while target.exists():  # a second --force within the same second keeps the first backup too
        target = root / STATE_DIR / "backup" / f"{stamp}-{n}"
        n += 1
    target.mkdir(parents=True)
    for path in root.iterdir():
        if path.is_file() and (path.name == SETTINGS or path.suffix.lower() in (".xlsx", ".xlsm", ".yaml", ".yml")):
            shutil.copy2(path, target / path.name)
    return target


def sweep_temporaries(*folders: Path) -> int:
    """Remove the temp files of atomic writes a killed run left behind (``.tmp-*``). Call only while
    holding the workspace lock: then no write of ours is under way in these folders."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for stray in folder.rglob(".tmp-*"):
            if stray.is_file():
                try:
                    stray.unlink()
                    removed += 1
                except OSError:  # cleaning is a courtesy: a file we cannot remove harms nothing
                    pass
    return removed


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename: readers never see half a file.

    A target held open by Excel on Windows cannot be replaced: that becomes a clear X004 problem.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.replace(tmp, path)
        except PermissionError as exc:
            if exc.errno in NOT_WRITABLE and not os.access(path.parent, os.W_OK):
                raise
            raise HuizongError(Problem("X004", file=str(path), detail=str(path))) from exc
    except OSError as exc:
        if exc.filename is None:  # a write or fsync that failed names no file: say which one it was
            exc.filename = str(path)
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# Errors of the machine, not of a file: the disk is full, or a folder cannot be written. Collecting
# stops (nothing half-done: files stay in inbox/, the ledger's transaction rolls back) and says so.
DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def machine_trouble(exc: BaseException, where: str = "") -> Problem | None:
    """X011 (disk full) or X012 (read-only, no permission) for an error of the machine; None for any other."""
    if isinstance(exc, HuizongError):
        return None
    if isinstance(exc, OSError) and exc.errno in DISK_FULL | NOT_WRITABLE:
        place = str(exc.filename) if exc.filename else where
        return Problem("X011" if exc.errno in DISK_FULL else "X012", file=place, detail=place or "工作目录")
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        if "full" in text:
            return Problem("X011", detail=where or "台账")
        if "readonly" in text or "read-only" in text or "unable to open" in text or "disk i/o" in text:
            return Problem("X012", detail=where or "台账")
    return None


def log_traceback(exc: BaseException, log: Path | None) -> bool:
    """Append ``exc``'s traceback to ``log`` (a file in an existing folder); False when it cannot be written."""
    import traceback

    try:
        if log is None or not log.parent.is_dir():
            return False
        # (a file name Windows gave in another encoding must not fail the very report of a failure)
        with log.open("a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return True
    except Exception:
        return False  # the log cannot be written: the clerk still gets the sentence


def unexpected(exc: BaseException, log: Path | None = None) -> Problem:
    """What a face tells the clerk about an exception it did not expect: X011/X012 for a full disk or a read-only
    folder, else X013 (never a traceback). The traceback goes to ``log`` (``.huizong/…``) when given and writable,
    and the message says where it went."""
    trouble = machine_trouble(exc)
    if trouble is not None:
        return trouble
    logged = f"，详情已记入 {log.parent.name}/{log.name}" if log is not None and log_traceback(exc, log) else ""
    try:
        said = str(exc)[:200]
    except Exception:  # an exception whose text cannot be made
        said = ""
    return Problem("X013", detail=f"{type(exc).__name__}: {said}".rstrip(": ") + logged)


@contextmanager
def machine_errors(where: str = "") -> Iterator[None]:
    """Turn a full disk or a read-only folder into a HuizongError a clerk can read (never a traceback)."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        problem = machine_trouble(exc, where)
        if problem is None:
            raise
        raise HuizongError(problem) from exc


def owner_only(path: Path, directory: bool = False) -> None:
    """Readable by the owner only, on POSIX (archive, ledger, logs); elsewhere a no-op.

    Best effort: a missing file, or a workspace on a read-only disk (only read, then), is left as it is.
    """
    if os.name != "posix":
        return
    try:
        if stat_mode(path) != (0o700 if directory else 0o600):
            os.chmod(path, 0o700 if directory else 0o600)
    except OSError:
        pass


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777
