"""``huizong wps-addin``: register the WPS加载项 (an online add-in served by ``huizong serve`` under
``/addin/``) with WPS on this PC, start the service at login, and undo all of it (``--uninstall``).

The file formats are those the official ``wpsjs`` tool (npm package ``wpsjs`` 2.2.3) writes:

- ``publish.xml`` in the user's ``jsaddons`` folder: personal WPS from 12.1.0.16910 and every non-Windows
  build read it (``src/lib/debug.js``, ``needPublishDebug``). An add-in served over http is a
  ``<jspluginonline>`` entry (``src/lib/debug_publish.js``, ``configPublish``: how entries are replaced);
  ``<jsplugin>`` is the offline element (a ``.7z`` package or a ``name_version`` folder). Its attributes
  are those of the release build, ``src/lib/build.js`` ``CreatePublishXml`` — ``enable="enable_dev"
  install="null" customDomain=""`` and no ``debug`` — not those of the ``wpsjs debug`` entry, whose
  ``debug=""`` marks an add-in under development (WPS shows a JS debugger button for it).
  Other add-ins' entries are kept; an entry of ours (same name, or same address) is replaced.
- ``jsplugins.xml`` in the same folder (``src/lib/debug_xmlplugin.js``) for builds in "jsplugins.xml
  mode", which WPS enters only when ``office6/cfgs/oem.ini`` says ``[Support] JsApiPlugin=true`` and
  ``[Server] JSPluginsServer=<that file>`` — an administrator's change (see docs/安装说明.md).

WPS reads the add-in's ``ribbon.xml`` and ``index.html`` (which loads ``main.js``) when it starts, so
the service must already run then: :mod:`pipeline.autostart` starts it at login.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ..actions import ACTIONS
from ..problems import HuizongError, Problem
from ..serve import port_for
from ..workspace import STATE_DIR, Workspace, atomic_write

NAME, TYPE = "huizong", "et"  # et: WPS 表格
PUBLISH, JSPLUGINS = "publish.xml", "jsplugins.xml"
RECORD = "wps-addin.json"  # what install wrote, so uninstall finds it again


def addin_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/addin/"


def jsaddons_dir(platform: str = sys.platform, home: Path | None = None, appdata: str | None = None) -> Path:
    """The user's WPS jsaddons folder (the paths wpsjs uses)."""
    home = home or Path.home()
    if platform == "win32":
        return Path(appdata or os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "kingsoft" / "wps" / "jsaddons"
    if platform == "darwin":
        return home / "Library" / "Containers" / "com.kingsoft.wpsoffice.mac" / "Data" / ".kingsoft" / "wps" / "jsaddons"
    return home / ".local" / "share" / "Kingsoft" / "wps" / "jsaddons"


RIBBON = """<customUI xmlns="http://schemas.microsoft.com/office/2006/01/customui" onLoad="OnAddinLoad">
  <ribbon startFromScratch="false">
    <tabs>
      <tab id="huizongTab" label="汇总">
        <group id="huizongMonth" label="报告期">
          <button id="btnPeriod" getLabel="GetPeriodLabel" onAction="OnAction" size="large"/>
        </group>
        <group id="huizongWork" label="月报">
{buttons}
        </group>
      </tab>
    </tabs>
  </ribbon>
</customUI>
"""


def ribbon_xml() -> str:
    """The WPS ribbon, one button per action of the registry; every callback is in js/huizong.js."""
    return RIBBON.format(buttons="\n".join(
        f'          <button id="{a.button}" label="{a.label}" onAction="OnAction" size="large"/>' for a in ACTIONS))


def callbacks_in_ribbon(ribbon: str) -> set[str]:
    import re

    return set(re.findall(r'(?:onAction|onLoad|getLabel|getEnabled|getVisible|getImage)="([A-Za-z_][A-Za-z0-9_]*)"', ribbon))


def _read_plugins(path: Path) -> ET.Element:
    if not path.exists():
        return ET.Element("jsplugins")
    try:
        root = SafeET.fromstring(path.read_bytes())
    except (ET.ParseError, DefusedXmlException, ValueError):
        raise HuizongError(Problem("X033", detail=str(path))) from None
    if root.tag != "jsplugins":
        raise HuizongError(Problem("X033", detail=str(path)))
    return root


def _ours(element: ET.Element, url: str | None) -> bool:
    return element.tag in ("jspluginonline", "jsplugin") and (
        element.get("name") == NAME or (url is not None and element.get("url") == url))


def _write_plugins(path: Path, root: ET.Element) -> None:
    ET.indent(root, "  ")
    body = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    atomic_write(path, ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + body + "\n").encode("utf-8"))


def register(path: Path, port: int, jsplugins_mode: bool = False) -> None:
    """Add (or replace) our ``<jspluginonline>`` entry in ``publish.xml`` or ``jsplugins.xml``, keeping the others."""
    url = addin_url(port)
    root = _read_plugins(path)
    for element in [e for e in root if _ours(e, url)]:
        root.remove(element)
    attrs = {"name": NAME, "type": TYPE, "url": url}
    if jsplugins_mode:  # debug_xmlplugin.js
        attrs["customDomain"] = ""
    else:  # build.js CreatePublishXml (the release build), not debug_publish.js's debug="" entry
        attrs.update({"enable": "enable_dev", "install": "null", "customDomain": ""})
    ET.SubElement(root, "jspluginonline", attrs)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_plugins(path, root)


def unregister(path: Path) -> bool:
    """Remove every entry of ours from ``path``; the file goes when nothing else is left in it. True if it changed."""
    if not path.exists():
        return False
    root = _read_plugins(path)
    mine = [e for e in root if _ours(e, None)]
    for element in mine:
        root.remove(element)
    if not mine:
        return False
    if len(root):
        _write_plugins(path, root)
    else:
        path.unlink()
    return True


@dataclass
class Installed:
    port: int
    url: str
    registered: list[Path] = field(default_factory=list)
    autostart: str | None = None  # the .desktop file, or the registry value (Windows)

    def to_dict(self) -> dict[str, object]:
        return {"port": self.port, "url": self.url, "registered": [str(p) for p in self.registered], "autostart": self.autostart}


def install(ws: Workspace, port: int | None = None, jsaddons: Path | None = None, jsplugins_mode: bool = False,
            autostart: bool = True, platform: str = sys.platform, autostart_dir: Path | None = None,
            registry: Any = None) -> Installed:
    from ..autostart import install_autostart

    port = port_for(ws.settings, port)
    folder = jsaddons or jsaddons_dir(platform)
    files = [folder / PUBLISH] + ([folder / JSPLUGINS] if jsplugins_mode else [])
    for path in files:
        register(path, port, jsplugins_mode=path.name == JSPLUGINS)
    done = Installed(port, addin_url(port), files)
    if autostart:
        done.autostart = install_autostart(ws.root, port, platform=platform, folder=autostart_dir, registry=registry)
    atomic_write(ws.root / STATE_DIR / RECORD, json.dumps(done.to_dict(), ensure_ascii=False, indent=1).encode("utf-8"))
    return done


def uninstall(ws: Workspace, jsaddons: Path | None = None, platform: str = sys.platform,
              autostart_dir: Path | None = None, registry: Any = None) -> list[str]:
    """Undo :func:`install`: our entries in publish.xml and jsplugins.xml, the login start; what changed."""
    from ..autostart import remove_autostart

    record_path = ws.root / STATE_DIR / RECORD
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    folder = jsaddons or jsaddons_dir(platform)
    candidates = {folder / PUBLISH, folder / JSPLUGINS} | {Path(p) for p in record.get("registered", [])}
    changed = [str(p) for p in sorted(candidates) if unregister(p)]
    changed += remove_autostart(platform, autostart_dir, registry=registry, recorded=record.get("autostart"))
    if record_path.exists():
        record_path.unlink()
    return changed


def restart_wps(platform: str = sys.platform) -> str:
    """How the clerk makes WPS start afresh (it reads publish.xml, the ribbon and the page only when it starts)."""
    if platform.startswith("linux"):
        # closing its windows does not end WPS on Linux: it stays loaded (quick start) and never re-reads the add-ins.
        # wpsjs runs `quickstartoffice restart` after changing oem.ini (src/lib/debug_xmlplugin.js, configOem).
        return ("注销后重新登录（在麒麟、统信 UOS 上关掉 WPS 的窗口并不会让它完全退出，它在后台预加载），"
                "或在终端运行 quickstartoffice restart（提示找不到命令时，到 WPS 安装目录的 bin 文件夹中运行，"
                "如 /opt/apps/cn.wps.wps-office-pro/files/bin/quickstartoffice restart）")
    return "完全退出 WPS（关闭所有 WPS 窗口）"


def oem_ini_paths(platform: str = sys.platform) -> list[str]:
    """Where WPS's oem.ini is (wpsjs src/lib/debug_xmlplugin.js, GetOffice6Path + cfgs/oem.ini)."""
    if platform == "win32":
        return ["WPS 安装目录\\office6\\cfgs\\oem.ini"]
    if platform == "darwin":
        return ["/Applications/wpsoffice.app/Contents/Resources/office6/cfgs/oem.ini"]
    return ["/opt/kingsoft/wps-office/office6/cfgs/oem.ini",
            "/opt/apps/cn.wps.wps-office-pro/files/kingsoft/wps-office/office6/cfgs/oem.ini"]


OEM_INI = """[Support]
JsApiPlugin=true
[Server]
JSPluginsServer={jsplugins}
"""
