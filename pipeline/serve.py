"""``huizong serve``: a small local HTTP service for one workspace: the WPS add-in's page and its
buttons' actions, and the Excel console's buttons when it runs (no child process from Office).

Safe by construction for an office PC: it listens on 127.0.0.1 only; every action request must
carry the workspace's random token; a request whose Host is not this service or whose Origin is not
the add-in's (served by this same service) is refused, so a web page open in the clerk's browser
cannot trigger a collection. The add-in's files carry no secret: its page asks for the token at
``/addin/token``, which answers only under the same Host/Origin rules (and never to a page of another
site, which could not read the answer anyway). One action at a time (the workspace lock): a second
one gets a clear "busy" answer. Long actions run as jobs whose progress the buttons poll.

The actions are those of :mod:`pipeline.actions`; the service only turns them into JSON (for the WPS
script) or into their plain-text form (``?format=text``, for the Excel console's VBA).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from . import actions, api
from .problems import HuizongError, Problem
from .programme.periods import Month
from .workspace import STATE_DIR, atomic_write, owner_only, unexpected

DEFAULT_PORT = 8765
ADDIN_STATIC = Path(__file__).parent / "wps" / "static"
log = logging.getLogger("huizong.serve")


def token_for(root: Path) -> str:
    """The workspace's service token (created once, kept in .huizong/serve.token)."""
    path = root / STATE_DIR / "serve.token"
    if not path.exists():
        atomic_write(path, secrets.token_hex(24).encode("ascii"))
    return path.read_text(encoding="ascii").strip()


def open_log(root: Path) -> logging.FileHandler:
    """The service's log, .huizong/serve.log, readable by the owner only (it names files and villages)."""
    path = root / STATE_DIR / "serve.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    owner_only(path)
    return logging.FileHandler(path, encoding="utf-8")


def port_for(settings: dict[str, Any], override: int | None) -> int:
    return int(override or (settings.get("serve") or {}).get("port", DEFAULT_PORT))


def _this_month() -> Month:
    today = date.today()
    return Month(today.year, today.month)


@dataclass
class Job:
    id: str
    action: str
    state: str = "running"  # running / done / failed
    done: int = 0
    total: int = 0
    current: str = ""
    result: Any = None
    error: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""  # the outcome (or failure) in the plain-text form, once finished

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "state": self.state, "done": self.done, "total": self.total,
                "current": self.current, "result": self.result, "error": self.error,
                "error_text": actions.failure_text([_problem(e) for e in self.error]) if self.error else ""}

    def first_line(self) -> str:
        return "\t".join(["job", self.id, self.state, str(self.done), str(self.total), self.current.replace("\t", " ")])


def _problem(d: dict[str, Any]) -> Problem:
    return Problem(d["code"], file=d.get("file", ""), sheet=d.get("sheet", ""), cell=d.get("cell", ""), field=d.get("field", ""),
                   label=d.get("label", ""), value=d.get("value"), detail=d.get("detail", ""))


class Service:
    def __init__(self, root: Path, port: int):
        self.root = root
        self.port = port
        self.token = token_for(root)
        self.busy = threading.Lock()
        self.jobs: dict[str, Job] = {}

    def context(self) -> api.Context:
        return api.load_context(self.root)

    def run(self, name: str, body: dict[str, Any], job: Job) -> actions.Outcome:
        """One action of the registry; nothing here computes anything."""
        ctx = self.context()

        def progress(i: int, n: int, current: str) -> None:
            job.done, job.total, job.current = i, n, current

        period = actions.period_or_default(body.get("period"), ctx, _this_month())
        return actions.perform(name, ctx, period, confirmed=bool(body.get("confirmed")), dry_run=bool(body.get("dry_run")),
                               progress=progress)

    def start(self, name: str, body: dict[str, Any]) -> tuple[int, Job | Problem]:
        if not self.busy.acquire(blocking=False):
            return HTTPStatus.CONFLICT, Problem("X003", detail="另一个按钮的操作")
        job = Job(uuid.uuid4().hex[:12], name)
        self.jobs[job.id] = job

        def work() -> None:
            problems: list[Problem] = []
            try:
                outcome = self.run(name, body, job)
                job.result = outcome.to_dict()
                job.text = actions.outcome_text(outcome)
                job.state = "done"
            except HuizongError as exc:
                problems = exc.problems
            except Exception as exc:  # never a traceback for the clerk: a message, and the log keeps the rest
                log.error("action %s failed", name)
                problems = [unexpected(exc, self.root / STATE_DIR / "serve.log")]
            finally:
                if problems:
                    job.error = [p.to_dict() for p in problems]
                    job.text = actions.outcome_text(None, problems)
                    job.state = "failed"
                self.busy.release()
                log.info("action %s %s", name, job.state)

        threading.Thread(target=work, name=f"job-{job.id}", daemon=True).start()
        return HTTPStatus.ACCEPTED, job

    # -- request checks ---------------------------------------------------------------------------------
    def origins(self) -> set[str]:
        return {f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"}

    def foreign(self, headers: Any) -> Problem | None:
        """Why a request does not come from this PC's add-in page or console (None when it does)."""
        if headers.get("Host", "") not in (f"127.0.0.1:{self.port}", f"localhost:{self.port}"):
            return Problem("X014", detail="请求的主机名不对（只接受本机的汇总加载项）。")
        origin = headers.get("Origin")
        if origin is not None and origin not in self.origins():
            return Problem("X014", detail="拒绝来自其他网页的请求。")
        if headers.get("Sec-Fetch-Site", "none") not in ("none", "same-origin"):
            return Problem("X014", detail="拒绝来自其他网页的请求。")
        referer = headers.get("Referer")
        if referer is not None and not any(referer.startswith(o + "/") for o in self.origins()):
            return Problem("X014", detail="拒绝来自其他网页的请求。")
        return None

    def refusal(self, headers: Any) -> tuple[int, Problem] | None:
        problem = self.foreign(headers)
        if problem is not None:
            return HTTPStatus.FORBIDDEN, problem
        token = headers.get("X-Huizong-Token") or headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(token or "", self.token):
            return HTTPStatus.UNAUTHORIZED, Problem("X014", detail="缺少或错误的访问令牌。")
        return None


def addin_file(rel: str) -> tuple[bytes, str] | None:
    """A file of the WPS add-in, as served under /addin/: the page, its entry main.js and script, and —
    generated from the action registry — ribbon.xml and js/actions.js. None for anything else."""
    from .wps.addin import ribbon_xml

    if rel == "ribbon.xml":
        return ribbon_xml().encode("utf-8"), "text/xml"
    if rel == "js/actions.js":
        return actions.script_js().encode("utf-8"), "application/javascript"
    base = ADDIN_STATIC.resolve()
    target = (base / (rel or "index.html")).resolve()
    if base not in target.parents or not target.is_file():
        return None
    return target.read_bytes(), mimetypes.guess_type(target.name)[0] or "application/octet-stream"


def make_handler(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "huizong"

        def log_message(self, fmt: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), fmt % args)

        def send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind + "; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def reply(self, status: int, data: dict[str, Any]) -> None:
            self.send(status, json.dumps(data, ensure_ascii=False, default=str).encode("utf-8"), "application/json")

        def text(self, status: int, body: str) -> None:
            self.send(status, body.encode("utf-8"), "text/plain")

        def refuse(self, status: int, problem: Problem, as_text: bool = False) -> None:
            if as_text:
                return self.text(status, actions.outcome_text(None, [problem]))
            self.reply(status, {"ok": False, "error": problem.to_dict(), "text": problem.message})

        def do_GET(self) -> None:  # noqa: N802 - http.server's method name
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            as_text = query.get("format") == "text"
            if url.path.startswith("/addin/"):
                return self.addin(url.path[len("/addin/"):])
            refusal = service.refusal(self.headers)
            if refusal:
                return self.refuse(*refusal, as_text=as_text)
            try:
                if url.path == "/status":
                    ctx = service.context()
                    period = actions.period_or_default(query.get("period"), ctx, _this_month())
                    return self.reply(HTTPStatus.OK, {"ok": True, "status": actions.period_status_view(ctx, period).to_dict()})
                if url.path == "/periods":
                    ctx = service.context()
                    return self.reply(HTTPStatus.OK, {"ok": True, "default": str(actions.default_period(ctx, _this_month()))})
                if url.path.startswith("/jobs/"):
                    job = service.jobs.get(url.path.rsplit("/", 1)[-1])
                    if job is None:
                        return self.refuse(HTTPStatus.NOT_FOUND, Problem("X015", detail="这个任务"), as_text)
                    if as_text:
                        return self.text(HTTPStatus.OK, job.first_line() + "\r\n" + job.text)
                    return self.reply(HTTPStatus.OK, {"ok": True, "job": job.to_dict()})
                if url.path == "/ping":
                    return self.reply(HTTPStatus.OK, {"ok": True, "workspace": str(service.root)})
            except HuizongError as exc:
                return self.reply(HTTPStatus.BAD_REQUEST, {"ok": False, "error": [p.to_dict() for p in exc.problems],
                                                           "text": actions.failure_text(exc.problems)})
            return self.refuse(HTTPStatus.NOT_FOUND, Problem("X015", detail="这个地址"), as_text)

        def do_POST(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            as_text = parse_qs(url.query).get("format", [""])[-1] == "text"
            refusal = service.refusal(self.headers)
            if refusal:
                return self.refuse(*refusal, as_text=as_text)
            name = url.path.strip("/")
            if name not in actions.BY_NAME:
                return self.refuse(HTTPStatus.NOT_FOUND, Problem("X015", detail="这个操作"), as_text)
            try:
                length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError
            except (ValueError, UnicodeDecodeError):
                return self.refuse(HTTPStatus.BAD_REQUEST, Problem("X016", detail="不是有效的 JSON"), as_text)
            status, started = service.start(name, body)
            if isinstance(started, Problem):
                if as_text:
                    return self.text(status, actions.outcome_text(None, [started]))
                return self.reply(status, {"ok": False, "busy": True, "error": started.to_dict(), "text": started.message})
            if as_text:
                return self.text(status, started.first_line() + "\r\n")
            return self.reply(status, {"ok": True, "job": started.to_dict()})

        def addin(self, rel: str) -> None:
            """The add-in's files for WPS (no secret in any of them); the token only to the add-in's own page."""
            problem = service.foreign(self.headers)
            if problem is not None:
                return self.refuse(HTTPStatus.FORBIDDEN, problem)
            if rel == "token":
                return self.reply(HTTPStatus.OK, {"ok": True, "token": service.token})
            found = addin_file(rel)
            if found is None:
                return self.refuse(HTTPStatus.NOT_FOUND, Problem("X015", detail="这个文件"))
            self.send(HTTPStatus.OK, *found)

    return Handler


def make_server(root: Path, port: int | None = None) -> tuple[ThreadingHTTPServer, Service]:
    ws = api.open_workspace(root)  # a bad workspace is refused before anything listens
    service = Service(ws.root, port_for(ws.settings, port))
    server = ThreadingHTTPServer(("127.0.0.1", service.port), make_handler(service))
    service.port = server.server_address[1]
    return server, service
