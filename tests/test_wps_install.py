"""``huizong wps-addin``: the registration files WPS reads (publish.xml, jsplugins.xml) in the formats of
the official wpsjs tool, parsed back; the login start (Windows: a Run value in the user's registry, written
through a stand-in for winreg and its command line split as Windows splits it; Linux: an XDG autostart entry
whose Exec line is split by the Desktop Entry rules and really run); and --uninstall undoing all of it while
other add-ins' entries stay."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from typer.testing import CliRunner

from pipeline import actions
from pipeline.autostart import LINK_NAME, desktop_entry, install_autostart, remove_autostart
from pipeline.cli import app
from pipeline.problems import HuizongError
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
    # an add-in served over http, with the attributes of wpsjs' release build (build.js CreatePublishXml): no debug=""
    # (the `wpsjs debug` entry of debug_publish.js, which gives the add-in a JS debugger button)
    assert got[1] == {"tag": "jspluginonline", "name": "huizong", "type": "et", "url": f"http://127.0.0.1:{port}/addin/",
                      "enable": "enable_dev", "install": "null", "customDomain": ""}
    assert "debug" not in (jsaddons / "publish.xml").read_text(encoding="utf-8")
    assert not (jsaddons / "jsplugins.xml").exists()
    assert done.autostart == str(starts / "huizong-serve.desktop") and (starts / "huizong-serve.desktop").is_file()
    # installing again (another port) replaces our entry instead of adding a second one
    install(ctx.workspace, port + 1, jsaddons=jsaddons, platform="linux", autostart_dir=starts)
    assert [e["url"] for e in entries(jsaddons / "publish.xml")] == ["http://10.0.0.5/oa/", f"http://127.0.0.1:{port + 1}/addin/"]
    changed = uninstall(ctx.workspace, jsaddons=jsaddons, platform="linux", autostart_dir=starts)
    assert set(changed) == {str(jsaddons / "publish.xml"), str(starts / "huizong-serve.desktop")}
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
    uninstall(ctx.workspace, jsaddons=jsaddons, platform="win32", autostart_dir=tmp_path / "none", registry=StandInWinreg())
    assert not (jsaddons / "jsplugins.xml").exists() and not (jsaddons / "publish.xml").exists()  # only ours were in them


def test_a_broken_registration_file_is_left_alone(ctx, tmp_path):
    jsaddons = tmp_path / "jsaddons"
    jsaddons.mkdir()
    (jsaddons / "publish.xml").write_text("<jsplugins><jspluginonline name='x'", encoding="utf-8")
    res = CliRunner().invoke(app, ["wps-addin", "-w", str(ctx.workspace.root), "--jsaddons", str(jsaddons), "--no-autostart"])
    assert res.exit_code == 2 and "X033" in res.output and "不是有效的 XML" in res.output
    assert (jsaddons / "publish.xml").read_text(encoding="utf-8") == "<jsplugins><jspluginonline name='x'"


class StandInWinreg:
    """A STAND-IN for the part of the stdlib ``winreg`` that pipeline/autostart.py uses — Windows' registry cannot
    run here. Keys are a dict; it behaves as winreg does where it matters: CreateKeyEx makes a missing key,
    OpenKey of a missing key and DeleteValue of a missing value raise FileNotFoundError, handles are context
    managers, and key and value names are case-insensitive."""

    HKEY_CURRENT_USER = 0x80000001
    KEY_SET_VALUE = 0x0002
    REG_SZ = 1

    class Handle:
        def __init__(self, values: dict[str, tuple[Any, int]]):
            self.values = values

        def __enter__(self) -> StandInWinreg.Handle:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def __init__(self) -> None:
        self.keys: dict[tuple[int, str], dict[str, tuple[Any, int]]] = {}

    def CreateKeyEx(self, hive: int, sub_key: str, reserved: int = 0, access: int = 0) -> Handle:
        return self.Handle(self.keys.setdefault((hive, sub_key.lower()), {}))

    def OpenKey(self, hive: int, sub_key: str, reserved: int = 0, access: int = 0) -> Handle:
        if (hive, sub_key.lower()) not in self.keys:
            raise FileNotFoundError(2, "系统找不到指定的文件。")
        return self.Handle(self.keys[(hive, sub_key.lower())])

    def SetValueEx(self, key: Handle, name: str, reserved: int, kind: int, value: Any) -> None:
        assert reserved == 0 and (kind != self.REG_SZ or isinstance(value, str))
        key.values[name.lower()] = (value, kind)

    def DeleteValue(self, key: Handle, name: str) -> None:
        if name.lower() not in key.values:
            raise FileNotFoundError(2, "系统找不到指定的文件。")
        del key.values[name.lower()]


RUN = (StandInWinreg.HKEY_CURRENT_USER, r"software\microsoft\windows\currentversion\run")
RUN_PLACE = r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run\huizong-serve"


def test_the_windows_login_start_is_a_run_value_that_survives_chinese_paths_with_spaces(tmp_path):
    from .test_console_vba import windows_argv  # CommandLineToArgvW's rules

    reg = StandInWinreg()
    startup = tmp_path / "Startup"
    startup.mkdir()
    (startup / LINK_NAME).write_bytes(b"L\0\0\0")  # the shortcut an earlier version put there
    (startup / "别的程序.lnk").write_bytes(b"L\0\0\0")
    python = r"D:\huizong 离线安装包\venv\Scripts\pythonw.exe"  # the docs' bundle folder, with a space too
    root = Path("D:\\汇总 2026\\")  # a trailing backslash must not escape the closing quote
    place = install_autostart(root, 8765, platform="win32", folder=startup, python=python, registry=reg)
    assert place == RUN_PLACE
    command = r'"D:\huizong 离线安装包\venv\Scripts\pythonw.exe" -m pipeline serve -w "D:\汇总 2026\\" --port 8765'
    assert reg.keys == {RUN: {"huizong-serve": (command, reg.REG_SZ)}}
    assert windows_argv(command) == [python, "-m", "pipeline", "serve", "-w", "D:\\汇总 2026\\", "--port", "8765"]
    assert not (startup / LINK_NAME).exists(), "an upgrade would start the service twice"
    assert (startup / "别的程序.lnk").exists()
    # again, another workspace and port: one value, replaced
    bundle = r"D:\huizong-离线安装包\venv\Scripts\pythonw.exe"  # the example of docs/安装说明.md
    install_autostart(Path(r"E:\镇计生办\汇总"), 8766, platform="win32", folder=startup, python=bundle, registry=reg)
    assert reg.keys[RUN] == {"huizong-serve": (r'"D:\huizong-离线安装包\venv\Scripts\pythonw.exe" -m pipeline serve -w E:\镇计生办\汇总 --port 8766',
                                               reg.REG_SZ)}
    # uninstalling takes exactly that away; a second time there is nothing to take
    (startup / LINK_NAME).write_bytes(b"L\0\0\0")
    assert remove_autostart("win32", startup, registry=reg) == [RUN_PLACE, str(startup / LINK_NAME)]
    assert reg.keys == {RUN: {}} and (startup / "别的程序.lnk").exists()
    assert remove_autostart("win32", startup, registry=reg) == []
    # Windows runs at most 260 characters of a Run value: a longer one is refused with the catalogue's words
    try:
        install_autostart(Path("D:\\" + "很长的文件夹名" * 40), 8765, platform="win32", folder=startup, python=python, registry=reg)
    except HuizongError as exc:
        assert exc.problems[0].code == "X034" and "260" in exc.problems[0].message
    else:
        raise AssertionError("a command line Windows would cut short was written")
    assert reg.keys == {RUN: {}}


def test_wps_addin_on_windows_records_the_run_value_and_uninstall_removes_it(ctx, tmp_path):
    reg = StandInWinreg()
    jsaddons, startup = tmp_path / "jsaddons", tmp_path / "Startup"
    done = install(ctx.workspace, 8765, jsaddons=jsaddons, platform="win32", autostart_dir=startup, registry=reg)
    assert done.autostart == RUN_PLACE
    assert json.loads((ctx.workspace.root / ".huizong" / "wps-addin.json").read_text(encoding="utf-8"))["autostart"] == RUN_PLACE
    value, kind = reg.keys[RUN]["huizong-serve"]
    assert kind == reg.REG_SZ and value == f'"{sys.executable}" -m pipeline serve -w {ctx.workspace.root} --port 8765'
    changed = uninstall(ctx.workspace, jsaddons=jsaddons, platform="win32", autostart_dir=startup, registry=reg)
    assert changed == [str(jsaddons / "publish.xml"), RUN_PLACE]
    assert reg.keys[RUN] == {}
    # a record of an earlier version (its shortcut) is undone too
    startup.mkdir()
    (startup / LINK_NAME).write_bytes(b"L\0\0\0")
    (ctx.workspace.root / ".huizong" / "wps-addin.json").write_text(json.dumps({"autostart": str(startup / LINK_NAME)}), encoding="utf-8")
    assert uninstall(ctx.workspace, jsaddons=jsaddons, platform="win32", autostart_dir=startup, registry=reg) == [str(startup / LINK_NAME)]


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


def test_wps_addin_tells_how_to_restart_wps_for_real_and_where_oem_ini_is(ctx, tmp_path):
    from pipeline.wps.addin import oem_ini_paths, restart_wps

    # on 麒麟/统信 UOS closing WPS's windows leaves it loaded: it never reads the new publish.xml
    linux = restart_wps("linux")
    assert "注销后重新登录" in linux and "quickstartoffice restart" in linux and "/opt/apps/cn.wps.wps-office-pro/files/bin/" in linux
    assert "quickstartoffice" not in restart_wps("win32") and "完全退出 WPS" in restart_wps("win32")
    assert oem_ini_paths("linux") == ["/opt/kingsoft/wps-office/office6/cfgs/oem.ini",
                                      "/opt/apps/cn.wps.wps-office-pro/files/kingsoft/wps-office/office6/cfgs/oem.ini"]
    assert sys.platform.startswith("linux")  # the command's own steps, as printed on this system
    res = CliRunner().invoke(app, ["wps-addin", "-w", str(ctx.workspace.root), "--jsaddons", str(tmp_path / "jsaddons"),
                                   "--no-autostart", "--jsplugins"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    flat = res.output.replace("\n", "")
    assert "2. " + linux in flat
    assert "/opt/apps/cn.wps.wps-office-pro/files/kingsoft/wps-office/office6/cfgs/oem.ini" in flat
    assert "office6\\cfgs" not in flat  # no Windows path on Linux
    res = CliRunner().invoke(app, ["wps-addin", "-w", str(ctx.workspace.root), "--jsaddons", str(tmp_path / "jsaddons"), "--uninstall"],
                             catch_exceptions=False)
    assert linux in res.output.replace("\n", "")


def test_wps_addin_port_says_the_excel_console_reads_serve_port_from_the_settings(ctx, tmp_path):
    import io

    import openpyxl
    import yaml

    from pipeline import api
    from pipeline.excel.console import build_console
    from pipeline.programme.periods import Month

    args = ["wps-addin", "-w", str(ctx.workspace.root), "--jsaddons", str(tmp_path / "jsaddons"), "--no-autostart"]
    res = CliRunner().invoke(app, [*args, "--port", "18999"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "huizong.yaml 的 serve.port（现在是 8765）" in res.output.replace("\n", "")
    snippet = res.output[res.output.index("serve:"):].split("\n再运行")[0]
    settings = yaml.safe_load((ctx.workspace.root / "huizong.yaml").read_text(encoding="utf-8"))
    settings.update(yaml.safe_load(snippet))  # what the clerk is told to write, written
    (ctx.workspace.root / "huizong.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    console = openpyxl.load_workbook(io.BytesIO(build_console(api.open_workspace(ctx.workspace.root), Month(2026, 10))), keep_vba=True)
    assert console["控制台"]["B7"].value == 18999  # hz_port: the console's buttons find this service
    res = CliRunner().invoke(app, [*args, "--port", "18999"], catch_exceptions=False)
    assert "serve.port" not in res.output  # the same port as the settings: nothing to say
