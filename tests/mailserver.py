"""Real mail servers on loopback for the tests: Dovecot (IMAP) with a throw-away maildir, and an
aiosmtpd SMTP server that keeps what it receives (and refuses what a test asks it to). Without
Dovecot the mail tests are skipped — unless CI is set, where they must run (CI installs
dovecot-imapd).

``NeteaseGuard`` stands between huizong and Dovecot and behaves as 163/126/yeah.net do: SELECT
without an IMAP ``ID`` first is answered ``NO SELECT Unsafe Login``. It is the one stand-in here,
for a provider we cannot run; the mailbox behind it is the real Dovecot."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
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

    def append(self, raw: bytes, folder: str = "INBOX", when: datetime | None = None) -> None:
        """Deliver ``raw``; ``when`` is the server's arrival time (INTERNALDATE), now if not given."""
        from imap_tools import MailBoxUnencrypted

        with MailBoxUnencrypted(self.host, self.port).login(USER, PASSWORD, initial_folder=None) as box:
            if not box.folder.exists(folder):
                box.folder.create(folder)
            box.append(raw, folder, dt=when)

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        from imap_tools import MailBoxUnencrypted

        with MailBoxUnencrypted(self.host, self.port).login(USER, PASSWORD, initial_folder=folder) as box:
            return {int(m.uid): set(m.flags) for m in box.fetch(mark_seen=False, headers_only=True)}

    def folders(self) -> list[str]:
        from imap_tools import MailBoxUnencrypted

        with MailBoxUnencrypted(self.host, self.port).login(USER, PASSWORD, initial_folder=None) as box:
            return [f.name for f in box.folder.list()]

    def count(self, folder: str = "INBOX") -> int:
        from imap_tools import MailBoxUnencrypted

        with MailBoxUnencrypted(self.host, self.port).login(USER, PASSWORD, initial_folder=None) as box:
            return box.folder.status(folder, ["MESSAGES"])["MESSAGES"]


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
    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # recipient → reply, e.g. "550 5.1.1 no such user"
    refuse_data: dict[str, str] = field(default_factory=dict)  # text in the subject → reply, e.g. "554 DT:SPM"
    hang_up: set[str] = field(default_factory=set)  # text in the subject: the server closes the connection on DATA
    logins: list[str] = field(default_factory=list)  # users that logged in (AUTH)

    def wait_for(self, n: int, timeout: float = 10) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)


def start_smtp(auth: bool = False) -> Smtp:
    """An SMTP server on loopback; ``auth``: it offers AUTH and takes mail only after a login with
    USER/PASSWORD (without it, it is a relay that takes mail from anyone, as a local one does)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    box = Smtp("127.0.0.1", free_port())

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's hook name
            if address in box.refuse_rcpt:
                return box.refuse_rcpt[address]
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            message = message_from_bytes(envelope.content, policy=policy.default)
            for words, reply in box.refuse_data.items():
                if words in str(message["Subject"]):
                    return reply
            if any(words in str(message["Subject"]) for words in box.hang_up):  # as a provider does with mail it judges spam
                server.transport.close()
                return "421 closing"
            box.raw.append(envelope.original_content or envelope.content)
            box.received.append(message)
            return "250 OK"

    def authenticate(server, session, envelope, mechanism, data):
        ok = data.login.decode() == USER and data.password.decode() == PASSWORD
        if ok:
            box.logins.append(data.login.decode())
        return AuthResult(success=ok)

    options = {"auth_required": True, "auth_require_tls": False, "authenticator": authenticate} if auth else {}
    controller = Controller(Handler(), hostname=box.host, port=box.port, **options)
    controller.start()
    box.controller = controller
    return box


class NeteaseGuard:
    """A loopback proxy in front of Dovecot that answers like 163/126/yeah.net: ``NO SELECT Unsafe
    Login`` to a SELECT not preceded by ``ID``. ``offer_id=False`` removes ID from the capabilities
    (a server without RFC 2971). ``commands`` lists the commands clients sent, in order."""

    def __init__(self, imap: Imap, require_id: bool = True, offer_id: bool = True):
        self.target, self.require_id, self.offer_id = imap, require_id, offer_id
        self.commands: list[str] = []
        self.lines: list[str] = []  # the same, with their arguments (e.g. "UID FETCH 3 (BODY.PEEK[] INTERNALDATE)")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = "127.0.0.1", self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection((self.target.host, self.target.port))
            threading.Thread(target=self._down, args=(server, client), daemon=True).start()
            threading.Thread(target=self._up, args=(client, server), daemon=True).start()

    def _down(self, server: socket.socket, client: socket.socket) -> None:
        reader = server.makefile("rb")
        try:
            for line in reader:
                if not self.offer_id and (line.startswith(b"* CAPABILITY") or b"[CAPABILITY " in line):
                    line = line.replace(b" ID ", b" ").replace(b" ID]", b"]").replace(b" ID\r\n", b"\r\n")
                client.sendall(line)
        except OSError:
            pass
        finally:
            client.close()

    def _up(self, client: socket.socket, server: socket.socket) -> None:
        reader = client.makefile("rb")
        said_id = False
        try:
            for line in reader:
                words = line.split(None, 2)
                command = words[1].decode("ascii", "replace").upper() if len(words) > 1 else ""
                self.commands.append(command)
                self.lines.append(b" ".join(words[1:]).decode("ascii", "replace").strip()[:80])
                said_id = said_id or command == "ID"
                if command in ("SELECT", "EXAMINE") and self.require_id and not said_id:
                    client.sendall(words[0] + b" NO SELECT Unsafe Login. Please contact kefu@188.com for help\r\n")
                    continue
                server.sendall(line)
        except OSError:
            pass
        finally:
            server.close()


def mail_settings_yaml(imap: Imap | NeteaseGuard, smtp: Smtp, extra: str = "", smtp_user: bool = True) -> str:
    user = f", user: {USER}" if smtp_user else ""
    return f"""mail:
  imap: {{host: 127.0.0.1, port: {imap.port}, security: plain, user: {USER}}}
  smtp: {{host: 127.0.0.1, port: {smtp.port}, security: plain{user}}}
  from_name: 示例镇计生办
  from: {USER}
{extra}"""
