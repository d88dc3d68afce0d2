"""The township mailbox settings (huizong.yaml, key ``mail``) and where its password comes from.

The password (QQ/163 call it 授权码) is never stored in the settings: it comes from an
environment variable, or from the operating system's keyring (Windows 凭据管理器).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..problems import HuizongError, Problem

KEYRING_SERVICE = "huizong"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: str  # ssl / starttls / plain (plain only for a server on this computer)
    user: str  # "" for an SMTP relay that takes mail without logging in


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
    since: date | None = None  # no mail received before this day is collected (None: see first_day)

    @property
    def domain(self) -> str:
        """The domain of our own address (our Message-IDs end in it)."""
        return self.from_addr.rpartition("@")[2]

    @property
    def answers(self) -> bool:
        """Whether replies go out: asked for, and a server to send them by."""
        return self.reply and self.smtp is not None

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
    return Server(str(raw["host"]), int(raw.get("port", default_port[security])), security, str(raw.get("user") or ""))


def default_since(today: date) -> date:
    """The first day of the month before ``today``: a first collect takes last month's late
    reports and this month's, not the whole history of the mailbox."""
    return date(today.year - (today.month == 1), 12 if today.month == 1 else today.month - 1, 1)


def _since(raw: Any) -> date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        raise HuizongError(Problem("C002", field="mail.since", detail=f"“{raw}”不是日期，应写成 2026-10-01 这样")) from None


def mail_settings(settings: dict[str, Any]) -> MailSettings | None:
    raw = settings.get("mail")
    if not raw:
        return None
    imap = _server(raw.get("imap"), {"ssl": 993, "starttls": 143, "plain": 143})
    smtp = _server(raw.get("smtp"), {"ssl": 465, "starttls": 587, "plain": 25})
    sender = next((s.user for s in (smtp, imap) if s is not None and "@" in s.user), "")
    if smtp is not None and not str(raw.get("from", sender)):
        raise HuizongError(Problem("C002", field="mail.from", detail="发信服务器不需要登录时，请用 from 写明发信地址"))
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
        since=_since(raw.get("since")),
    )
