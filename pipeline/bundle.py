"""``huizong bundle``: an offline install folder (and zip) for office PCs without internet (政务外网):
every wheel huizong needs for one platform and Python version, and an install script that makes a
virtual environment and installs from the folder with ``pip --no-index`` — no package index is ever
asked on the office PC.

Built on a PC that has internet (or a local mirror): ``pip download --only-binary=:all: --platform …
--python-version …`` fetches the target's wheels whatever this machine is, and ``pip wheel`` builds
huizong's own wheel from its source. :func:`check_bundle` then proves the folder complete: every
requirement of every wheel (markers evaluated for the target) is met by a wheel in the folder that
the target can install.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename

from .problems import HuizongError, Problem

# target → (pip --platform values, sys_platform, platform_machine, OS of the install script)
PLATFORMS: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "win_amd64": (("win_amd64",), "win32", "AMD64", "windows"),
    "linux_x86_64": (("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"), "linux", "x86_64", "linux"),
    "linux_aarch64": (("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"), "linux", "aarch64", "linux"),
}

INSTALL_BAT = """@echo off
chcp 65001 >nul
rem 汇总（huizong）离线安装：在本文件夹旁建立 Python 虚拟环境，只从 wheels 文件夹安装，不连接任何网站。
cd /d "%~dp0"
set PY=py -{python}
%PY% --version >nul 2>&1 || set PY=python
%PY% -m venv "%~dp0venv" || goto failed
"%~dp0venv\\Scripts\\python.exe" -m pip install --no-index --find-links "%~dp0wheels" huizong || goto failed
echo.
echo 安装完成。命令：%~dp0venv\\Scripts\\huizong.exe --help
echo 可以把 %~dp0venv\\Scripts 加入 PATH，以后直接输入 huizong。
pause
exit /b 0
:failed
echo 安装没有完成：请确认已安装 Python {python}（64 位），再双击本文件重试。
pause
exit /b 1
"""

INSTALL_SH = """#!/bin/sh
# 汇总（huizong）离线安装：在本文件夹旁建立 Python 虚拟环境，只从 wheels 文件夹安装，不连接任何网站。
set -e
here=$(cd "$(dirname "$0")" && pwd)
python=${{PYTHON:-python{python}}}
command -v "$python" >/dev/null 2>&1 || python=python3
"$python" -m venv "$here/venv"
"$here/venv/bin/python" -m pip install --no-index --find-links "$here/wheels" huizong
echo "安装完成。命令：$here/venv/bin/huizong --help"
"""


@dataclass(frozen=True)
class Target:
    name: str
    python: str  # "3.10"

    @property
    def environment(self) -> dict[str, str]:
        _tags, sys_platform, machine, _os = PLATFORMS[self.name]
        return {"sys_platform": sys_platform, "platform_system": "Windows" if sys_platform == "win32" else "Linux",
                "os_name": "nt" if sys_platform == "win32" else "posix", "platform_machine": machine,
                "python_version": self.python, "python_full_version": self.python + ".0", "implementation_name": "cpython",
                "platform_python_implementation": "CPython", "extra": ""}

    def supports(self, tag: Tag) -> bool:
        """Whether a wheel tag installs on the target (CPython ``python`` there)."""
        tags, _sys, _machine, _os = PLATFORMS[self.name]
        major, minor = (int(x) for x in self.python.split("."))
        cp = f"cp{major}{minor}"
        if tag.platform != "any" and tag.platform not in tags and not _manylinux_ok(tag.platform, tags):
            return False
        if tag.interpreter in (f"py{major}", f"py{major}{minor}", "py2.py3") or tag.interpreter.startswith(f"py{major}"):
            return tag.abi == "none" or tag.abi == "abi3"
        if tag.interpreter == cp:
            return tag.abi in (cp, "abi3", "none")
        if tag.interpreter.startswith("cp3") and tag.abi == "abi3":
            return int(tag.interpreter[3:]) <= minor
        return False


def _manylinux_ok(platform: str, tags: tuple[str, ...]) -> bool:
    """manylinux_2_X_arch (or a legacy alias) no newer than glibc 2.28 for the same architecture."""
    arch = tags[0].split("_", 1)[1]
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    for name, version in legacy.items():
        if platform == f"{name}_{arch}":
            return version <= (2, 28)
    if platform.startswith("manylinux_") and platform.endswith("_" + arch):
        major, minor = platform.split("_")[1:3]
        return (int(major), int(minor)) <= (2, 28)
    return False


def _metadata(wheel: Path) -> tuple[str, list[Requirement]]:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(name).decode("utf-8"))
    return str(meta["Name"]), [Requirement(r) for r in meta.get_all("Requires-Dist") or []]


def check_bundle(wheels: Path, target: Target, root: str = "huizong") -> list[str]:
    """What is missing from ``wheels`` for ``target``: one line per unmet requirement or foreign wheel."""
    faults, missing = _survey(wheels, target, root)
    return faults + [f"{name} 需要 {req}，文件夹中没有合适的安装包" for name, req in missing]


def _survey(wheels: Path, target: Target, root: str) -> tuple[list[str], list[tuple[str, Requirement]]]:
    missing: list[tuple[str, Requirement]] = []
    found: dict[str, list[Path]] = {}
    faults: list[str] = []
    for wheel in sorted(wheels.glob("*.whl")):
        name, _version, _build, tags = parse_wheel_filename(wheel.name)
        if not any(target.supports(t) for t in tags):
            faults.append(f"{wheel.name} 不能装在 {target.name} / Python {target.python} 上")
            continue
        found.setdefault(canonicalize_name(name), []).append(wheel)
    if canonicalize_name(root) not in found:
        return faults + [f"缺少 {root} 本身的安装包"], missing
    todo, seen = [(canonicalize_name(root), "")], set()
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        if name not in found:
            continue
        _meta_name, requirements = _metadata(found[name][0])
        for req in requirements:
            if req.marker is not None and not req.marker.evaluate({**target.environment, "extra": extra}):
                continue
            dep = canonicalize_name(req.name)
            versions = [parse_wheel_filename(w.name)[1] for w in found.get(dep, [])]
            if not any(req.specifier.contains(v, prereleases=True) for v in versions):
                missing.append((name, req))
                continue
            todo += [(dep, "")] + [(dep, e) for e in req.extras]
    return faults, missing


def source_root() -> Path:
    """The source tree huizong was installed from (an editable install or a checkout)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise HuizongError(Problem("X035", detail="找不到 huizong 的源代码（pyproject.toml）；请在 huizong 的源代码文件夹中运行"))
    return root


def _pip(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise HuizongError(Problem("X035", detail=f"pip {args[0]}：{' '.join(tail)[:300]}"))


def build_bundle(target: Target, out: Path, find_links: list[Path] | None = None, no_index: bool = False,
                 zip_it: bool = True) -> Path:
    """Make ``out`` (wheels/ and the install script) for ``target``; raises X035/X036 when it cannot be complete."""
    if target.name not in PLATFORMS:
        raise HuizongError(Problem("X035", detail=f"不认识的平台 {target.name}（可用：{'、'.join(PLATFORMS)}）"))
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    source = source_root()
    index = [a for p in (find_links or []) for a in ("--find-links", str(p))] + (["--no-index"] if no_index else [])
    _pip(["wheel", "--no-deps", "--wheel-dir", str(wheels), *index, str(source)])
    tags, _sys, _machine, system = PLATFORMS[target.name]
    ours = next(wheels.glob("huizong-*.whl"))
    download = ["download", "--only-binary=:all:", "--dest", str(wheels), "--python-version", target.python,
                "--implementation", "cp", *[a for t in tags for a in ("--platform", t)], *index]
    _pip([*download, str(ours)])
    # pip evaluates environment markers for the machine it runs on, not the target: a Windows-only
    # dependency (pywin32 for xlwings, colorama for typer) is left out on Linux. Fetch what the check misses.
    for _ in range(5):
        _faults, missing = _survey(wheels, target, "huizong")
        if not missing:
            break
        _pip([*download, *sorted({str(Requirement(f"{r.name}{r.specifier}")) for _n, r in missing})])
    faults = check_bundle(wheels, target)
    if faults:
        raise HuizongError(Problem("X036", detail="；".join(faults[:5])))
    if system == "windows":
        (out / "安装.bat").write_bytes(INSTALL_BAT.format(python=target.python).replace("\n", "\r\n").encode("utf-8"))
    else:
        script = out / "安装.sh"
        script.write_text(INSTALL_SH.format(python=target.python), encoding="utf-8")
        script.chmod(0o755)
    readme = ("汇总（huizong）离线安装包\n"
              f"平台：{target.name}，Python {target.python}\n"
              + ("双击“安装.bat”。需要先装好 64 位 Python（安装时勾选 Add python.exe to PATH）。\n" if system == "windows"
                 else "运行 sh 安装.sh（需要系统自带的 python3 和 python3-venv）。\n")
              + "安装只使用 wheels 文件夹中的文件，不连接任何网站。\n")
    (out / "说明.txt").write_text(readme, encoding="utf-8")
    if zip_it:
        archive = out.parent / (out.name + ".zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    z.write(path, Path(out.name) / path.relative_to(out))
        return archive
    return out
