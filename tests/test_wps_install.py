"""``huizong wps-addin``: the registration files WPS reads (publish.xml, jsplugins.xml) in the formats of
the official wpsjs tool, parsed back; the login start (Windows Startup shortcut read by LnkParse3, an
independent .lnk reader; Linux XDG autostart entry whose Exec line is split by the Desktop Entry rules
and really run); and --uninstall undoing all of it while other add-ins' entries stay."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from typer.testing import CliRunner

from pipeline import actions
from pipeline.autostart import desktop_entry, install_autostart
from pipeline.cli import app
from pipeline.wps.addin import callbacks_in_ribbon, install, ribbon_xml, uninstall

from .mailserver import free_port

OTHER = '<jsplugins>\n  <jspluginonline name="oa-helper" type="wps" url="http://10.0.0.5/oa/" enable="enable_dev"/>\n</jsplugins>\n'


def entries(path: Path) -> list[dict[str, str]]:
    root = ET.parse(path).getroot()
    assert root.tag == "jsplugins"
    return [dict(e.attrib, tag=e.tag) for e in root]


def test_install_registers_publish_xml_and_autostart_and_uninstall_undoes_it(ctx, tmp_path):
    jsaddons, starts = tmp_path / "jsaddons", tmp_path / "autostart"
    jsaddons.mkdir()
    (jsaddons / "publish.xml").write_text(OTHER, encoding="utf-8")
    port = 18765
    done = install(ctx.workspace, port, jsaddons=jsaddons, platform="linux", autostart_dir=starts)
    assert done.registered == [jsaddons / "publish.xml"]
    got = entries(jsaddons / "publish.xml")
    assert got[0]["name"] == "oa-helper"  # another add-in's entry is kept
    # the entry wpsjs' configPublish writes for an add-in served over http
    assert got[1] == {"tag": "jspluginonline", "name": "huizong", "type": "et", "url": f"http://127.0.0.1:{port}/addin/",
                      "debug": "", "enable": "enable_dev", "install": "null", "customDomain": ""}
    assert not (jsaddons / "jsplugins.xml").exists()
    assert done.autostart == starts / "huizong-serve.desktop" and done.autostart.is_file()
    # installing again (another port) replaces our entry instead of adding a second one
    install(ctx.workspace, port + 1, jsaddons=jsaddons, platform="linux", autostart_dir=starts)
    assert [e["url"] for e in entries(jsaddons / "publish.xml")] == ["http://10.0.0.5/oa/", f"http://127.0.0.1:{port + 1}/addin/"]
    changed = uninstall(ctx.workspace, jsaddons=jsaddons, platform="linux", autostart_dir=starts)
    assert set(changed) == {jsaddons / "publish.xml", starts / "huizong-serve.desktop"}
    assert entries(jsaddons / "publish.xml") == [{"tag": "jspluginonline", "name": "oa-helper", "type": "wps",
                                                  "url": "http://10.0.0.5/oa/", "enable": "enable_dev"}]
    assert not (starts / "huizong-serve.desktop").exists()
    assert uninstall(ctx.workspace, jsaddons=jsaddons, platform="linux", autostart_dir=starts) == []


def test_jsplugins_mode_and_an_old_offline_entry(ctx, tmp_path):
    jsaddons = tmp_path / "jsaddons"
    jsaddons.mkdir()
    # what earlier huizong versions wrote: the offline element pointing at an http address
    (jsaddons / "jsplugins.xml").write_text('<jsplugins><jsplugin name="huizong" type="et" url="http://127.0.0.1:8765/addin/" '
                                            'version="1.0.0"/></jsplugins>', encoding="utf-8")
    install(ctx.workspace, 8765, jsaddons=jsaddons, jsplugins_mode=True, autostart=False, platform="win32")
    assert entries(jsaddons / "jsplugins.xml") == [{"tag": "jspluginonline", "name": "huizong", "type": "et",
                                                    "url": "http://127.0.0.1:8765/addin/", "customDomain": ""}]
    assert entries(jsaddons / "publish.xml")[0]["tag"] == "jspluginonline"
    uninstall(ctx.workspace, jsaddons=jsaddons, platform="win32", autostart_dir=tmp_path / "none")
    assert not (jsaddons / "jsplugins.xml").exists() and not (jsaddons / "publish.xml").exists()  # only ours were in them


def test_a_broken_registration_file_is_left_alone(ctx, tmp_path):
    jsaddons = tmp_path / "jsaddons"
    jsaddons.mkdir()
    (jsaddons / "publish.xml").write_text("<jsplugins><jspluginonline name='x'", encoding="utf-8")
    res = CliRunner().invoke(app, ["wps-addin", "-w", str(ctx.workspace.root), "--jsaddons", str(jsaddons), "--no-autostart"])
    assert res.exit_code == 2 and "X033" in res.output and "不是有效的 XML" in res.output
    assert (jsaddons / "publish.xml").read_text(encoding="utf-8") == "<jsplugins><jspluginonline name='x'"


def test_the_windows_startup_shortcut_runs_the_service_for_this_workspace(ctx, tmp_path):
    lnkparse = pytest.importorskip("LnkParse3")
    python = r"C:\Program Files\Python310\pythonw.exe"
    root = Path(r"D:\汇总 2026")
    path = install_autostart(root, 8765, platform="win32", folder=tmp_path / "Startup", python=python)
    assert path == tmp_path / "Startup" / "汇总服务（huizong）.lnk"
    with path.open("rb") as fh:
        link = lnkparse.lnk_file(fh).get_json()
    items = [i.get("primary_name") or i.get("volume_name") for i in link["target"]["items"][1:]]
    assert items == ["C:\\", "Program Files", "Python310", "pythonw.exe"]
    assert link["data"]["command_line_arguments"] == r'-m pipeline serve -w "D:\汇总 2026" --port 8765'
    assert link["data"]["working_directory"] == str(root)
    assert link["header"]["windowstyle"] == "SW_SHOWMINNOACTIVE"


def desktop_exec_argv(entry: str) -> list[str]:
    """The Exec line of a .desktop file turned back into argv by the Desktop Entry Specification's rules
    (string unescaping first, then the quoting rules, then %% → %)."""
    value = next(line.split("=", 1)[1] for line in entry.splitlines() if line.startswith("Exec="))
    unescaped = ""
    i = 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            unescaped += {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(value[i + 1], "\\" + value[i + 1])
            i += 2
        else:
            unescaped += value[i]
            i += 1
    argv, cur, quoted, i, started = [], "", False, 0, False
    while i < len(unescaped):
        c = unescaped[i]
        if quoted and c == "\\" and i + 1 < len(unescaped) and unescaped[i + 1] in '"`$\\':
            cur += unescaped[i + 1]
            i += 2
            continue
        if c == '"':
            quoted, started = not quoted, True
        elif c == " " and not quoted:
            if started:
                argv.append(cur)
            cur, started = "", False
        else:
            cur, started = cur + c, True
        i += 1
    if started:
        argv.append(cur)
    return [a.replace("%%", "%") for a in argv]


def test_the_xdg_autostart_entry_really_starts_the_service(workspace, tmp_path):
    import shutil

    odd = tmp_path / '工作 "目录" $HOME 100% \\ `x`'  # every character the Exec rules treat specially
    shutil.copytree(workspace, odd)
    port = free_port()
    entry = desktop_entry(odd, port, python=sys.executable)
    assert "X-GNOME-Autostart-enabled=true" in entry and "Type=Application" in entry
    argv = desktop_exec_argv(entry)
    assert argv == [sys.executable, "-m", "pipeline", "serve", "-w", str(odd), "--port", str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    try:
        token = (odd / ".huizong" / "serve.token")
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline and answer is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/ping", headers={"X-Huizong-Token": token.read_text().strip() if token.exists() else ""})
                answer = json.loads(conn.getresponse().read())
            except (OSError, ValueError):
                time.sleep(0.2)
        assert answer == {"ok": True, "workspace": str(odd)}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_every_ribbon_callback_and_button_is_the_registry():
    ribbon = ribbon_xml()
    ET.fromstring(ribbon)  # well-formed
    assert callbacks_in_ribbon(ribbon) == {"OnAddinLoad", "OnAction", "GetPeriodLabel"}
    script = (Path(__file__).resolve().parent.parent / "pipeline" / "wps" / "static" / "js" / "huizong.js").read_text(encoding="utf-8")
    for name in callbacks_in_ribbon(ribbon):
        assert f"function {name}(" in script, name
    buttons = [b.get("id") for b in ET.fromstring(ribbon).iter("{http://schemas.microsoft.com/office/2006/01/customui}button")]
    assert buttons == ["btnPeriod", *[a.button for a in actions.ACTIONS]]
    labels = [b.get("label") for b in ET.fromstring(ribbon).iter("{http://schemas.microsoft.com/office/2006/01/customui}button")][1:]
    assert labels == [a.label for a in actions.ACTIONS]
