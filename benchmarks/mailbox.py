"""Peak memory of collecting a large mailbox: about 2 GB of mail in a real Dovecot.

    python benchmarks/mailbox.py [--gb 2] [--json] [--keep DIR]

The mailbox holds what a township's INBOX collects over a year or two: the villages' monthly
reports (small workbooks), mail with phone photos of forms (three 6 MB pictures each) and mail
with a 50 MB attachment (the most QQ Mail sends as an ordinary attachment; about 68 MB once
base64-encoded). The messages are written straight into Dovecot's maildir (faster than APPEND),
then ``huizong collect`` runs in a fresh process with replies going to an aiosmtpd server, and
reports its own peak resident memory (VmHWM), its time and what it recorded.

The target (issue 12): peak memory under 300 MB for 2 GB of mail, because messages are fetched
and handled one at a time. Results go to benchmarks/results/<timestamp>-mailbox.json. Not part of
the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from common import HERE, ROOT, log, peak_rss_mb

sys.path.insert(0, str(ROOT))

TARGET_MB = 300.0
PHOTO_MB, PHOTOS, BIG_MB = 6, 3, 50  # a photo mail: 3 × 6 MB; a big mail: one 50 MB attachment


def _mail(sender: str, subject: str, n: int, attachments: list[tuple[str, bytes, str]]) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"村专干 <{sender}>"
    msg["To"] = "clerk@township.test"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = f"<bench.{n}@{sender.split('@')[1]}>"
    msg.set_content("请查收。")
    for name, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes().replace(b"\n", b"\r\n")


def fill_mailbox(ctx: Any, maildir: Path, gigabytes: float, owner: tuple[int, int] | None) -> dict[str, Any]:
    """Write messages into the maildir until it holds ``gigabytes`` of mail; what was written."""
    from pipeline.example import example_report
    from pipeline.programme.periods import Month
    from pipeline.workbook.fill import fill_template

    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    period = Month(2026, 10)
    cols = [c.id for c in ctx.programme.register.columns]
    reports = []
    for v in ctx.registry.villages:
        template = (ctx.workspace.templates / str(period) / f"{ctx.programme.form_no}_{v.name}_{period.chinese}.xlsx").read_bytes()
        values, register = example_report(v, period)
        reports.append((v, fill_template(template, values, register, register_columns=cols)))
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    photo = b"\xff\xd8\xff\xe0" + os.urandom(PHOTO_MB * 1024 * 1024 - 4)
    big = b"PK\x03\x04" + os.urandom(BIG_MB * 1024 * 1024 - 4)  # looks like a zip, is not one: "damaged"
    total, n, counts, largest = 0, 0, {"report": 0, "photos": 0, "big": 0}, 0
    budget = int(gigabytes * 1024**3)
    while total < budget:
        kind = ("big", "photos", "report", "photos", "report")[n % 5]
        v, report = reports[n % len(reports)]
        if kind == "report":
            raw = _mail(v.emails[0], f"{v.name}月报", n, [(f"{v.name}月报.xlsx", report, xlsx)])
        elif kind == "photos":
            shots = [(f"报表照片{i}.jpg", photo[:-8] + n.to_bytes(4, "big") + i.to_bytes(4, "big"), "image/jpeg") for i in range(PHOTOS)]
            raw = _mail(v.emails[0], "拍的报表", n, shots)
        else:
            raw = _mail(v.emails[0], "资料", n, [("资料.zip", big[:-4] + n.to_bytes(4, "big"), "application/zip")])
        path = maildir / "cur" / f"{1700000000 + n}.M{n}P1.bench,S={len(raw)}:2,"
        path.write_bytes(raw)
        if owner:
            os.chown(path, *owner)
        total += len(raw)
        largest = max(largest, len(raw))
        counts[kind] += 1
        n += 1
    if owner:
        for sub in (maildir.parent, maildir, *(maildir / s for s in ("cur", "new", "tmp"))):
            os.chown(sub, *owner)
    return {"messages": n, "bytes": total, "largest_message_bytes": largest, "by_kind": counts}


def child(workspace: str) -> None:
    """In a fresh process: one collect of the workspace's mailbox; prints one JSON line."""
    from pipeline import api

    ctx = api.load_context(workspace)
    ready = peak_rss_mb()
    start = time.perf_counter()
    summary = api.collect(ctx)
    print(json.dumps({
        "seconds": round(time.perf_counter() - start, 1),
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_before_collect_mb": ready,
        "recorded": len(summary.items),
        "replies_sent": summary.replies_sent,
        "problems": [p.code for p in summary.problems],
        "notices": [p.code for p in summary.notices],
    }, ensure_ascii=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=2.0, help="how much mail the mailbox holds (default 2)")
    ap.add_argument("--json", action="store_true", help="print only the result object")
    ap.add_argument("--keep", type=Path, help="keep the workspace and mailbox in this folder")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child)

    from pipeline import api
    from tests.mailserver import PASSWORD, USER, mail_settings_yaml, start_dovecot, start_smtp

    work = Path(tempfile.mkdtemp(prefix="huizong-mailbench-"))
    imap, smtp = start_dovecot(), start_smtp()
    try:
        ws = work / "ws"
        api.init_workspace(ws)
        ctx = api.load_context(ws)
        api.make_templates(ctx, api.Month(2026, 10))
        settings = ws / "huizong.yaml"
        settings.write_text(settings.read_text(encoding="utf-8") + mail_settings_yaml(imap, smtp, "  since: 2020-01-01\n"), encoding="utf-8")
        owner = None
        if os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam("mail")
            owner = (entry.pw_uid, entry.pw_gid)
        t = time.perf_counter()
        mailbox = fill_mailbox(ctx, imap.root / "mail" / USER / "Maildir", args.gb, owner)
        log(f"mailbox: {mailbox['messages']} messages, {mailbox['bytes'] / 1024**3:.2f} GB ({time.perf_counter() - t:.0f} s)")
        env = dict(os.environ, HUIZONG_MAIL_PASSWORD=PASSWORD)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(ws)], capture_output=True,
                              text=True, cwd=HERE, env=env)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            log(proc.stderr[-3000:])
            raise SystemExit(f"collect failed ({proc.returncode})")
        collect = json.loads(proc.stdout.strip().splitlines()[-1])
        result = {"mailbox": mailbox, "collect": collect, "wall_s": round(wall, 1), "target_peak_mb": TARGET_MB,
                  "met": collect["peak_rss_mb"] < TARGET_MB, "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
                  "when": datetime.now().isoformat(timespec="seconds")}
        results = HERE / "results"
        results.mkdir(parents=True, exist_ok=True)
        out = results / f"{datetime.now():%Y%m%d-%H%M%S}-mailbox.json"
        out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            print(f"{mailbox['messages']} messages, {mailbox['bytes'] / 1024**3:.2f} GB (largest {mailbox['largest_message_bytes'] / 1024**2:.0f} MB): "
                  f"collect {collect['seconds']} s, peak {collect['peak_rss_mb']} MB (target < {TARGET_MB:.0f} MB: "
                  f"{'met' if result['met'] else 'NOT met'}); recorded {collect['recorded']}, replies {collect['replies_sent']}; {out}")
    finally:
        imap.stop() if not args.keep else imap.process.terminate()
        smtp.controller.stop()
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
