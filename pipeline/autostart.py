"""Start ``huizong serve`` for a workspace when the clerk logs in, so the WPS 汇总 tab is there when
WPS starts (WPS fetches the add-in's ribbon and page at its own start, from the running service).

- Windows: a value ``huizong-serve`` under ``HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``
  (REG_SZ, Microsoft's "Run and RunOnce Registry Keys": a command line of at most 260 characters) that
  runs pythonw.exe — no console window — with ``-m pipeline serve -w <workspace> --port <port>``, every
  part quoted as Windows splits a command line. The registry holds the path as Unicode, so a bundle in
  a Chinese-named folder starts. (Earlier versions wrote a Startup-folder shortcut with pylnk3, which
  stores a non-ASCII folder name as UTF-16 under the ANSI item type, so Windows misread such a path;
  installing or uninstalling removes that shortcut, so an upgraded PC does not start the service twice.)
- Linux (麒麟, 统信 UOS and other XDG desktops): ``$XDG_CONFIG_HOME/autostart/huizong-serve.desktop``
  (XDG Autostart Specification), its ``Exec`` quoted by the Desktop Entry Specification's rules.

Nothing else on the PC is changed; :func:`remove_autostart` deletes the one value or file again. The
registry is reached through ``registry`` (the stdlib ``winreg`` unless a caller passes a stand-in), as the
platform and the folders are passed in, so all of it can be exercised on any system.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .problems import HuizongError, Problem
from .workspace import atomic_write

LINK_NAME = "汇总服务（huizong）.lnk"  # the Startup-folder shortcut of earlier versions (removed, never written)
DESKTOP_NAME = "huizong-serve.desktop"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "huizong-serve"
RUN_PLACE = "HKEY_CURRENT_USER\\" + RUN_KEY + "\\" + RUN_VALUE  # what the clerk is shown and the record keeps
RUN_MAX = 260  # characters of a Run value's command line


def interpreter(windowless: bool = True) -> str:
    """This Python; on Windows its pythonw.exe when ``windowless`` (no console window)."""
    exe = Path(sys.executable)
    if windowless and sys.platform == "win32" and exe.name.lower() == "python.exe" and (exe.parent / "pythonw.exe").exists():
        return str(exe.parent / "pythonw.exe")
    return str(exe)


def serve_args(root: Path, port: int) -> list[str]:
    return ["-m", "pipeline", "serve", "-w", str(root), "--port", str(port)]


def startup_link(folder: Path | None = None) -> Path:
    """The Startup-folder shortcut earlier versions wrote (``shell:startup``)."""
    base = folder or Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup"
    return base / LINK_NAME


def autostart_path(platform: str = sys.platform, folder: Path | None = None) -> Path | None:
    """The file of the login start on ``platform`` (Linux); None where it is no file (Windows: the registry) or none (macOS)."""
    if platform.startswith("linux"):
        base = folder or Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "autostart"
        return base / DESKTOP_NAME
    return None


def run_command(python: str, root: Path, port: int) -> str:
    """The Run value: the program always in quotes (an unquoted path with spaces is ambiguous to Windows), the
    arguments quoted by the rules Windows' CommandLineToArgvW and the C runtime split them by."""
    return f'"{python}" ' + subprocess.list2cmdline(serve_args(root, port))


def _winreg() -> Any:
    import winreg  # Windows only

    return winreg


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
                      python: str | None = None, registry: Any = None) -> str | None:
    """Set up the login start for ``root``; where it is (a file, or the registry value), None on a platform without one."""
    if platform == "win32":
        command = run_command(python or interpreter(), root, port)
        if len(command) > RUN_MAX:
            raise HuizongError(Problem("X034", detail=f"启动命令有 {len(command)} 个字符，Windows 只认 {RUN_MAX} 个以内；"
                                                      "请把工作目录或安装包放在路径短一些的文件夹"))
        reg = registry or _winreg()
        try:
            with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
                reg.SetValueEx(key, RUN_VALUE, 0, reg.REG_SZ, command)
            _remove_file(startup_link(folder))  # an upgrade: the old shortcut would start a second service
        except OSError as exc:
            raise HuizongError(Problem("X034", detail=f"{RUN_PLACE}：{exc.strerror or exc}")) from exc
        return RUN_PLACE
    path = autostart_path(platform, folder)
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, desktop_entry(root, port, python).encode("utf-8"))
    except OSError as exc:
        raise HuizongError(Problem("X034", detail=f"{path}：{exc.strerror or exc}")) from exc
    return str(path)


def _remove_file(path: Path) -> bool:
    if not path.exists():
        return False
    path.unlink()
    return True


def remove_autostart(platform: str = sys.platform, folder: Path | None = None, registry: Any = None,
                     recorded: str | None = None) -> list[str]:
    """Undo :func:`install_autostart` (and an earlier version's shortcut, and a file ``recorded`` at install); what went."""
    removed = []
    if platform == "win32":
        reg = registry or _winreg()
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
                reg.DeleteValue(key, RUN_VALUE)
            removed.append(RUN_PLACE)
        except FileNotFoundError:
            pass  # not there: nothing to undo
        files = [startup_link(folder)]
    else:
        files = [p for p in [autostart_path(platform, folder)] if p is not None]
    if recorded and recorded != RUN_PLACE:
        files.append(Path(recorded))
    removed += [str(p) for p in dict.fromkeys(files) if _remove_file(p)]
    return removed
