"""Offline install bundles (``huizong bundle``).

Building a bundle downloads wheels, so the default test run never builds one: the end-to-end tests
use a bundle already made (``HUIZONG_BUNDLE_CACHE``, default ``~/.cache/huizong-test``: folders
``bundle-<platform>-<python>``) and build it only when ``HUIZONG_NETWORK_TESTS=1``; otherwise they are
skipped with the command that makes the bundle. The completeness check itself is tested on wheels made
here. The Linux bundle is installed into a fresh virtual environment with ``pip --no-index`` inside a
network namespace with no network at all (``unshare -rn``) and then runs ``huizong demo``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline.bundle import Target, build_bundle, check_bundle

CACHE = Path(os.environ.get("HUIZONG_BUNDLE_CACHE", Path.home() / ".cache" / "huizong-test"))


def wheel(folder: Path, name: str, version: str, tag: str, requires: list[str]) -> Path:
    path = folder / f"{name}-{version}-{tag}.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}-{version}.dist-info/METADATA", meta)
        z.writestr(f"{name}-{version}.dist-info/WHEEL", f"Wheel-Version: 1.0\nTag: {tag}\n")
    return path


def test_the_check_names_every_missing_or_foreign_wheel(tmp_path):
    target = Target("win_amd64", "3.10")
    wheel(tmp_path, "huizong", "0.1.0", "py3-none-any",
          ["numpy>=1.24", "keyring>=24", "secretstorage>=3; sys_platform == 'linux'", "pytest; extra == 'test'"])
    wheel(tmp_path, "numpy", "2.2.0", "cp310-cp310-manylinux_2_17_x86_64", [])
    wheel(tmp_path, "keyring", "25.0", "py3-none-any", ["pywin32-ctypes>=0.2; sys_platform == 'win32'"])
    faults = check_bundle(tmp_path, target)
    assert "numpy-2.2.0-cp310-cp310-manylinux_2_17_x86_64.whl 不能装在 win_amd64 / Python 3.10 上" in faults
    assert any("需要 numpy>=1.24" in f for f in faults)
    assert any("keyring 需要 pywin32-ctypes>=0.2" in f for f in faults)
    assert not any("secretstorage" in f or "pytest" in f for f in faults)  # not for Windows, not without the extra
    wheel(tmp_path, "numpy", "2.2.0", "cp310-cp310-win_amd64", [])
    wheel(tmp_path, "pywin32_ctypes", "0.2.3", "py3-none-any", [])
    (tmp_path / "numpy-2.2.0-cp310-cp310-manylinux_2_17_x86_64.whl").unlink()
    assert check_bundle(tmp_path, target) == []
    wheel(tmp_path, "numpy", "1.20.0", "cp39-cp39-win_amd64", [])  # another Python's wheel in the folder
    assert check_bundle(tmp_path, target) == ["numpy-1.20.0-cp39-cp39-win_amd64.whl 不能装在 win_amd64 / Python 3.10 上"]


def cached_bundle(platform: str, python: str) -> Path:
    folder = CACHE / f"bundle-{platform}-{python}"
    if (folder / "wheels").is_dir() and any((folder / "wheels").glob("huizong-*.whl")):
        return folder
    if os.environ.get("HUIZONG_NETWORK_TESTS") != "1":
        pytest.skip(f"no bundle in {folder}: make it with `huizong bundle --out {folder} --platform {platform} --python {python}` "
                    "or set HUIZONG_NETWORK_TESTS=1")
    build_bundle(Target(platform, python), folder)
    return folder


def test_the_windows_bundle_is_complete(tmp_path):
    folder = cached_bundle("win_amd64", "3.10")
    wheels = sorted((folder / "wheels").glob("*.whl"))
    assert check_bundle(folder / "wheels", Target("win_amd64", "3.10")) == []
    for w in wheels:  # every one a Windows (64-bit) or pure wheel
        assert w.name.endswith(("-win_amd64.whl", "-none-any.whl")), w.name
    names = {w.name.split("-")[0].lower() for w in wheels}
    assert {"huizong", "numpy", "xlwings", "pywin32", "keyring", "python_calamine"} <= names
    bat = (folder / "安装.bat").read_bytes().decode("utf-8")
    assert "--no-index --find-links" in bat and "\r\n" in bat


def test_the_linux_bundle_installs_with_no_network_and_runs_the_demo(tmp_path):
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    folder = cached_bundle("linux_x86_64", python)
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rn", "true"]).returncode != 0:
        pytest.skip("unshare -rn (a network namespace without network) is not available here")
    copy = tmp_path / "离线 安装包"
    shutil.copytree(folder, copy)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHON": sys.executable.replace(".venv/bin/python", "") or "python3",
           "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_NO_CACHE_DIR": "1", "LANG": "C.UTF-8"}
    env["PYTHON"] = shutil.which(f"python{python}") or shutil.which("python3") or sys.executable
    done = subprocess.run(["unshare", "-rn", "sh", str(copy / "安装.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    huizong = copy / "venv" / "bin" / "huizong"
    demo = subprocess.run(["unshare", "-rn", str(huizong), "demo", "--out", str(tmp_path / "演示")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert (tmp_path / "演示" / "reports" / "2026-10-汇总排名.xlsx").is_file()
    assert "汇总表" in demo.stdout
