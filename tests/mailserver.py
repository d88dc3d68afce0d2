"""Real mail servers on loopback for the tests: Dovecot (IMAP) with a throw-away maildir, and an
aiosmtpd SMTP server that keeps what it receives. Without Dovecot the mail tests are skipped —
unless CI is set, where they must run (CI installs dovecot-imapd)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

USER, PASSWORD = "clerk@township.test", "auth-code-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_dovecot() -> str:
    path = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if path:
        return path
    reason = "dovecot not installed (apt-get install dovecot-imapd)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)
    raise AssertionError  # unreachable


@dataclass
class Imap:
    host: str
    port: int
    root: Path
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        from imap_tools import MailBoxUnencrypted

        with MailBoxUnencrypted(self.host, self.port).login(USER, PASSWORD, initial_folder=folder) as box:
            box.append(raw, folder)

    def flags(self) -> dict[int, set[str]]:
        from imap_tools import MailBoxUnencrypted

        with MailBoxUnencrypted(self.host, self.port).login(USER, PASSWORD) as box:
            return {int(m.uid): set(m.flags) for m in box.fetch(mark_seen=False, headers_only=True)}


def start_dovecot() -> Imap:
    """Dovecot in a fresh world-traversable temp folder (its auth process runs as the dovecot user)."""
    binary = require_dovecot()
    tmp = Path(tempfile.mkdtemp(prefix="huizong-dovecot-"))
    os.chmod(tmp, 0o755)
    port = free_port()
    for sub in ("run", "state", "mail"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    (tmp / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    if os.geteuid() == 0:  # Dovecot will not run mail processes as root: use the system's mail user
        entry = pwd.getpwnam("mail")
        uid, gid = entry.pw_uid, entry.pw_gid
        for path in [tmp, tmp / "mail"]:
            os.chown(path, uid, gid)
        os.chmod(tmp, 0o755)
    else:
        uid, gid = os.getuid(), os.getgid()
    conf = tmp / "dovecot.conf"
    conf.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={tmp}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
    proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                log = (tmp / "dovecot.log").read_text() if (tmp / "dovecot.log").exists() else ""
                raise AssertionError(f"dovecot exited: {log[-2000:]}") from None
            time.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError("dovecot did not start listening")
    return Imap("127.0.0.1", port, tmp, proc)


@dataclass
class Smtp:
    host: str
    port: int
    received: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # exactly the bytes that came over the wire
    controller: object | None = None

    def wait_for(self, n: int, timeout: float = 10) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)


def start_smtp() -> Smtp:
    from aiosmtpd.controller import Controller

    box = Smtp("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            box.raw.append(envelope.original_content or envelope.content)
            box.received.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    controller = Controller(Handler(), hostname=box.host, port=box.port)
    controller.start()
    box.controller = controller
    return box


def mail_settings_yaml(imap: Imap, smtp: Smtp, extra: str = "") -> str:
    return f"""mail:
  imap: {{host: 127.0.0.1, port: {imap.port}, security: plain, user: {USER}}}
  smtp: {{host: 127.0.0.1, port: {smtp.port}, security: plain, user: {USER}}}
  from_name: 示例镇计生办
  from: {USER}
{extra}"""
