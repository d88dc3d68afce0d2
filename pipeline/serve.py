"""``huizong serve``: a small local HTTP service for one workspace, for the WPS add-in's buttons.

Safe by construction for an office PC: it listens on 127.0.0.1 only; every request must carry
the workspace's random token; a request whose Host is not this service or whose Origin is not
the add-in's (served by this same service) is refused, so a web page open in the clerk's browser
cannot trigger a collection. One action at a time (the workspace lock): a second one gets a
clear "busy" answer. Long actions run as jobs whose progress the add-in polls.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import secrets
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from . import api
from .problems import HuizongError, Problem
from .programme.periods import Month
from .views import problems_view, ranking_view, status_view
from .workspace import STATE_DIR, atomic_write, owner_only

DEFAULT_PORT = 8765
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

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "state": self.state, "done": self.done, "total": self.total,
                "current": self.current, "result": self.result, "error": self.error}


class Service:
    def __init__(self, root: Path, port: int, addin_dir: Path | None = None):
        self.root = root
        self.port = port
        self.token = token_for(root)
        self.addin_dir = addin_dir
        self.busy = threading.Lock()
        self.jobs: dict[str, Job] = {}

    # -- actions (each calls the library; nothing here computes anything) ---------------------------
    def context(self) -> api.Context:
        return api.load_context(self.root)

    def run(self, action: str, body: dict[str, Any], job: Job) -> Any:
        ctx = self.context()

        def progress(i: int, n: int, name: str) -> None:
            job.done, job.total, job.current = i, n, name

        if action == "collect":
            month = Month.parse(str(body["period"])) if body.get("period") else None  # a bad one refused before the work
            summary = api.collect(ctx, progress=progress)
            result: dict[str, Any] = {"message": summary.line, "problems": [p.to_dict() for p in summary.problems]}
            if month is not None:
                result["status"] = status_view(api.status(ctx, month), month).to_dict()
            return result
        period = Month.parse(str(body.get("period", "")))
        if action == "templates":
            paths = api.make_templates(ctx, period)
            return {"message": f"已生成 {len(paths)} 份模板", "folder": str(paths[0].parent) if paths else ""}
        if action == "send-templates":
            out = api.send_templates(ctx, period, dry_run=bool(body.get("dry_run")))
            return {"message": f"已发送 {out.sent} 封模板邮件", "problems": [p.to_dict() for p in out.problems]}
        if action == "validate":
            view = problems_view(ctx, period)
            return {"message": view.note, "problems": view.to_dict()}
        if action == "consolidate":
            done = api.consolidate(ctx, period)
            return {"message": f"已生成汇总表 {done.path.name}", "path": str(done.path), "ranking": ranking_view(done).to_dict()}
        if action == "remind":
            out = api.remind(ctx, period, dry_run=bool(body.get("dry_run")))
            return {"message": f"已发送催报 {out.sent} 封" if not body.get("dry_run") else f"将催报 {len(out.replies)} 个村",
                    "to": [r.to for r in out.replies], "problems": [p.to_dict() for p in out.problems]}
        if action == "open-summary":
            path = ctx.workspace.summary_path(period)
            if not path.exists():
                raise HuizongError(Problem("X006", detail=f"{path.name}（请先汇总排名）"))
            _open_file(path)
            return {"message": f"已打开 {path.name}", "path": str(path)}
        raise HuizongError(Problem("X015", detail=f"操作 {action}"))

    def start(self, action: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not self.busy.acquire(blocking=False):
            return HTTPStatus.CONFLICT, {"ok": False, "busy": True, "error": Problem("X003", detail="另一个按钮的操作").to_dict()}
        job = Job(uuid.uuid4().hex[:12], action)
        self.jobs[job.id] = job

        def work() -> None:
            try:
                job.result = self.run(action, body, job)
                job.state = "done"
            except HuizongError as exc:
                job.error = [p.to_dict() for p in exc.problems]
                job.state = "failed"
            except Exception as exc:  # never a traceback for the clerk: a message, and the log keeps the rest
                log.error("action %s failed: %s", action, traceback.format_exc())
                job.error = [Problem("X013", detail=f"{type(exc).__name__}，详情见 .huizong/serve.log").to_dict()]
                job.state = "failed"
            finally:
                self.busy.release()
                log.info("action %s %s", action, job.state)

        threading.Thread(target=work, name=f"job-{job.id}", daemon=True).start()
        return HTTPStatus.ACCEPTED, {"ok": True, "job": job.to_dict()}

    # -- request checks ---------------------------------------------------------------------------------
    def allowed_origins(self) -> set[str]:
        return {f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"}

    def refusal(self, headers: Any) -> tuple[int, Problem] | None:
        host = headers.get("Host", "")
        if host not in (f"127.0.0.1:{self.port}", f"localhost:{self.port}"):
            return HTTPStatus.FORBIDDEN, Problem("X014", detail="请求的主机名不对（只接受本机的汇总加载项）。")
        origin = headers.get("Origin")
        if origin is not None and origin not in self.allowed_origins():
            return HTTPStatus.FORBIDDEN, Problem("X014", detail="拒绝来自其他网页的请求。")
        token = headers.get("X-Huizong-Token") or headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(token or "", self.token):
            return HTTPStatus.UNAUTHORIZED, Problem("X014", detail="缺少或错误的访问令牌。")
        return None


ACTIONS = {"templates", "send-templates", "collect", "validate", "consolidate", "remind", "open-summary"}


def make_handler(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "huizong"

        def log_message(self, fmt: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), fmt % args)

        def reply(self, status: int, data: dict[str, Any]) -> None:
            body = json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def refuse(self, status: int, problem: Problem) -> None:
            self.reply(status, {"ok": False, "error": problem.to_dict()})

        def do_GET(self) -> None:  # noqa: N802 - http.server's method name
            url = urlparse(self.path)
            if url.path.startswith("/addin/") and service.addin_dir is not None:
                if self.headers.get("Sec-Fetch-Site", "none") not in ("none", "same-origin"):
                    return self.refuse(HTTPStatus.FORBIDDEN, Problem("X014", detail="加载项文件只供 WPS 直接打开。"))
                return self.static(url.path[len("/addin/"):])
            refusal = service.refusal(self.headers)
            if refusal:
                return self.refuse(*refusal)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                if url.path == "/status":
                    ctx = service.context()
                    period = Month.parse(query.get("period", ""))
                    return self.reply(HTTPStatus.OK, {"ok": True, "status": status_view(api.status(ctx, period), period).to_dict()})
                if url.path.startswith("/jobs/"):
                    job = service.jobs.get(url.path.rsplit("/", 1)[-1])
                    if job is None:
                        return self.refuse(HTTPStatus.NOT_FOUND, Problem("X015", detail="这个任务"))
                    return self.reply(HTTPStatus.OK, {"ok": True, "job": job.to_dict()})
                if url.path == "/ping":
                    return self.reply(HTTPStatus.OK, {"ok": True, "workspace": str(service.root)})
            except HuizongError as exc:
                return self.reply(HTTPStatus.BAD_REQUEST, {"ok": False, "error": [p.to_dict() for p in exc.problems]})
            return self.refuse(HTTPStatus.NOT_FOUND, Problem("X015", detail="这个地址"))

        def do_POST(self) -> None:  # noqa: N802
            refusal = service.refusal(self.headers)
            if refusal:
                return self.refuse(*refusal)
            action = urlparse(self.path).path.strip("/")
            if action not in ACTIONS:
                return self.refuse(HTTPStatus.NOT_FOUND, Problem("X015", detail="这个操作"))
            try:
                length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError
            except (ValueError, UnicodeDecodeError):
                return self.refuse(HTTPStatus.BAD_REQUEST, Problem("X016", detail="不是有效的 JSON"))
            return self.reply(*service.start(action, body))

        def static(self, rel: str) -> None:
            base = service.addin_dir.resolve() if service.addin_dir else None
            target = (base / rel).resolve() if base else None
            if not base or not target or base not in target.parents or not target.is_file():
                return self.refuse(HTTPStatus.NOT_FOUND, Problem("X015", detail="这个文件"))
            data = target.read_bytes()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", (mimetypes.guess_type(target.name)[0] or "application/octet-stream") + "; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def make_server(root: Path, port: int | None = None, addin_dir: Path | None = None) -> tuple[ThreadingHTTPServer, Service]:
    ws = api.open_workspace(root)  # a bad workspace is refused before anything listens
    service = Service(ws.root, port_for(ws.settings, port), addin_dir)
    server = ThreadingHTTPServer(("127.0.0.1", service.port), make_handler(service))
    service.port = server.server_address[1]
    return server, service


def _open_file(path: Path) -> None:
    import os
    import subprocess
    import sys

    if sys.platform == "win32":
        os.startfile(str(path))  # type: ignore[attr-defined]
    elif sys.platform == "darwin":
        subprocess.Popen(["open", str(path)])
    else:
        subprocess.Popen(["xdg-open", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
