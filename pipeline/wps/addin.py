"""``huizong wps-addin``: write the WPS加载项 for one workspace, and the launchers of its service.

The add-in's page and script are served by ``huizong serve`` itself (``/addin/``), so they and the
service share one origin: the service can refuse every other web page. ``jsplugins.xml`` points
WPS at that address; copy it into WPS's jsaddons folder (printed by the command, and in the docs).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..serve import port_for, token_for
from ..workspace import Workspace, atomic_write

STATIC = Path(__file__).parent / "static"
NAME, VERSION = "huizong", "1.0.0"


@dataclass(frozen=True)
class AddinFiles:
    folder: Path
    jsplugins: Path
    launcher: Path
    port: int


def jsaddons_dir() -> Path:
    """Where WPS looks for jsplugins.xml on this computer."""
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "kingsoft" / "wps" / "jsaddons"
    return Path.home() / ".local" / "share" / "Kingsoft" / "wps" / "jsaddons"


def write_addin(ws: Workspace, port: int | None = None) -> AddinFiles:
    folder = ws.root / "wps-addin"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(STATIC, folder)
    port = port_for(ws.settings, port)
    config = {"port": port, "token": token_for(ws.root), "workspace": str(ws.root)}
    atomic_write(folder / "js" / "config.js",
                 ("/* 由 huizong wps-addin 生成：本机汇总服务的端口和访问令牌。不要发给别人。 */\n"
                  f"var HUIZONG_CONFIG = {json.dumps(config, ensure_ascii=False)};\n").encode())
    jsplugins = folder / "jsplugins.xml"
    atomic_write(jsplugins, (
        '<?xml version="1.0" encoding="UTF-8"?>\n<jsplugins>\n'
        f'  <jsplugin name="{NAME}" type="et" url="http://127.0.0.1:{port}/addin/" version="{VERSION}"/>\n'
        "</jsplugins>\n").encode())
    exe = Path(sys.executable)
    if sys.platform == "win32":
        launcher = ws.root / "启动汇总服务.bat"
        atomic_write(launcher, (
            "@echo off\r\nchcp 65001 >nul\r\ntitle 汇总服务（请勿关闭此窗口）\r\n"
            f'"{exe}" -m pipeline serve -w "{ws.root}" --port {port}\r\npause\r\n').encode())
    else:
        launcher = ws.root / "启动汇总服务.sh"
        atomic_write(launcher, (
            "#!/bin/sh\n# 启动本机汇总服务（WPS 加载项的按钮需要它）。可加入开机自启动。\n"
            f'exec "{exe}" -m pipeline serve -w "{ws.root}" --port {port}\n').encode())
        launcher.chmod(0o755)
        desktop = ws.root / "汇总服务.desktop"
        atomic_write(desktop, (
            "[Desktop Entry]\nType=Application\nName=汇总服务\nComment=WPS 汇总加载项的本机服务\n"
            f"Exec={launcher}\nTerminal=true\nX-GNOME-Autostart-enabled=true\n").encode())
    return AddinFiles(folder, jsplugins, launcher, port)


def callbacks_in_ribbon(ribbon_xml: str) -> set[str]:
    import re

    return set(re.findall(r'(?:onAction|onLoad|getLabel|getEnabled|getVisible)="([A-Za-z_][A-Za-z0-9_]*)"', ribbon_xml))
