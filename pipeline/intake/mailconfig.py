"""The township mailbox settings (huizong.yaml, key ``mail``) and where its password comes from.

The password (QQ/163 call it 授权码) is never stored in the settings: it comes from an
environment variable, or from the operating system's keyring (Windows 凭据管理器).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..problems import HuizongError, Problem

KEYRING_SERVICE = "huizong"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str  # ssl / starttls / plain (plain only for a server on this computer)
    user: str


@dataclass(frozen=True)
class MailSettings:
    imap: Server | None
    smtp: Server | None
    folder: str
    password_env: str
    from_name: str
    from_addr: str
    after: str  # keep / seen / move
    move_to: str
    reply: bool
    timeout: float

    def password(self, server: Server) -> str:
        value = os.environ.get(self.password_env)
        if value:
            return value
        try:
            import keyring

            value = keyring.get_password(KEYRING_SERVICE, server.user)
        except Exception:  # no keyring backend on this machine: fall through to the clear message
            value = None
        if value:
            return value
        raise HuizongError(Problem("M001", detail=f"{server.user}（请设置环境变量 {self.password_env}，或运行 huizong mail-password 保存到系统凭据）"))


def _server(raw: dict[str, Any] | None, default_port: dict[str, int]) -> Server | None:
    if not raw:
        return None
    security = str(raw.get("security", "ssl")).lower()
    if security == "plain" and str(raw.get("host")) not in ("127.0.0.1", "localhost", "::1"):
        raise HuizongError(Problem("C002", field="mail", detail="明文连接（security: plain）只允许用于本机的邮件服务器；请用 ssl 或 starttls"))
    return Server(str(raw["host"]), int(raw.get("port", default_port[security])), security, str(raw["user"]))


def mail_settings(settings: dict[str, Any]) -> MailSettings | None:
    raw = settings.get("mail")
    if not raw:
        return None
    imap = _server(raw.get("imap"), {"ssl": 993, "starttls": 143, "plain": 143})
    smtp = _server(raw.get("smtp"), {"ssl": 465, "starttls": 587, "plain": 25})
    server = smtp or imap
    sender = server.user if server else ""
    return MailSettings(
        imap=imap,
        smtp=smtp,
        folder=str(raw.get("folder", "INBOX")),
        password_env=str(raw.get("password_env", "HUIZONG_MAIL_PASSWORD")),
        from_name=str(raw.get("from_name", settings.get("organ", ""))),
        from_addr=str(raw.get("from", sender)),
        after=str(raw.get("after", "keep")),
        move_to=str(raw.get("move_to", "")),
        reply=bool(raw.get("reply", True)),
        timeout=float(raw.get("timeout", 60)),
    )
