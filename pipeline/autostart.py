"""Start ``huizong serve`` for a workspace when the clerk logs in, so the WPS 汇总 tab is there when
WPS starts (WPS fetches the add-in's ribbon and page at its own start, from the running service).

- Windows: a shortcut (.lnk, [MS-SHLLINK], written with pylnk3) in the user's Startup folder
  (``%APPDATA%\\Microsoft\\Windows\\Start Menu\\Programs\\Startup``) that runs pythonw.exe — no
  console window — with ``-m pipeline serve -w <workspace> --port <port>``.
- Linux (麒麟, 统信 UOS and other XDG desktops): ``$XDG_CONFIG_HOME/autostart/huizong-serve.desktop``
  (XDG Autostart Specification), its ``Exec`` quoted by the Desktop Entry Specification's rules.

Nothing else on the PC is changed; :func:`remove_autostart` deletes the one file again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .problems import HuizongError, Problem
from .workspace import atomic_write

LINK_NAME = "汇总服务（huizong）.lnk"
DESKTOP_NAME = "huizong-serve.desktop"


def interpreter(windowless: bool = True) -> str:
    """This Python; on Windows its pythonw.exe when ``windowless`` (no console window)."""
    exe = Path(sys.executable)
    if windowless and sys.platform == "win32" and exe.name.lower() == "python.exe" and (exe.parent / "pythonw.exe").exists():
        return str(exe.parent / "pythonw.exe")
    return str(exe)


def serve_args(root: Path, port: int) -> list[str]:
    return ["-m", "pipeline", "serve", "-w", str(root), "--port", str(port)]


def autostart_path(platform: str = sys.platform, folder: Path | None = None) -> Path | None:
    """Where the login start of this user goes on ``platform`` (None where huizong has none: macOS)."""
    if platform == "win32":
        base = folder or Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup"
        return base / LINK_NAME
    if platform.startswith("linux"):
        base = folder or Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "autostart"
        return base / DESKTOP_NAME
    return None


_RESERVED = set(' \t\n"\'\\><~|&;$*?#()`')


def desktop_exec(argv: list[str]) -> str:
    """An ``Exec`` value for ``argv`` (Desktop Entry Specification, "The Exec key"): arguments with a reserved
    character in double quotes with " ` $ \\ escaped; % doubled; then the string escapes of the file format."""
    words = []
    for arg in argv:
        arg = arg.replace("%", "%%")
        if not arg or any(c in _RESERVED for c in arg):
            arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
        words.append(arg)
    return " ".join(words).replace("\\", "\\\\")


def desktop_entry(root: Path, port: int, python: str | None = None) -> str:
    exe = python or interpreter()
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=汇总服务",
        f"Comment=WPS 汇总加载项的本机服务（工作目录 {root}）".replace("\n", " "),
        "Exec=" + desktop_exec([exe, *serve_args(root, port)]),
        "Terminal=false",
        "NoDisplay=true",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


def install_autostart(root: Path, port: int, platform: str = sys.platform, folder: Path | None = None,
                      python: str | None = None) -> Path | None:
    """Write the login start for ``root``; its path (None on a platform without one)."""
    path = autostart_path(platform, folder)
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if platform == "win32":
            _write_link(path, python or interpreter(), root, port)
        else:
            atomic_write(path, desktop_entry(root, port, python).encode("utf-8"))
    except OSError as exc:
        raise HuizongError(Problem("X034", detail=f"{path}：{exc.strerror or exc}")) from exc
    return path


def _write_link(path: Path, python: str, root: Path, port: int) -> None:
    import pylnk3

    tmp = path.with_name(path.name + ".tmp")
    pylnk3.for_file(python, str(tmp), arguments=subprocess.list2cmdline(serve_args(root, port)),
                    description="汇总服务：WPS 汇总加载项的本机服务", work_dir=str(root), window_mode="Minimized")
    os.replace(tmp, path)


def remove_autostart(path: Path) -> bool:
    if not path.exists():
        return False
    path.unlink()
    return True
