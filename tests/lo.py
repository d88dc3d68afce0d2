"""Run LibreOffice headless from the tests: file conversions with a throw-away user profile.

One profile per test session (per xdist worker), created under a temporary directory on first
use and removed at exit. Its ``registrymodifications.xcu`` makes Calc always recalculate
formulas on load (OOXML and ODF), and a private fontconfig file maps the fonts the templates ask
for (宋体, 黑体) onto the Noto CJK families, so renders look like the form on a Windows PC.

Tests that need LibreOffice call :func:`require` (or use the marker :data:`needs_soffice` plus
:func:`require`): without ``soffice`` they are skipped — unless the environment variable ``CI``
is set, where a missing LibreOffice is a failure (CI installs it).
"""

from __future__ import annotations

import atexit
import html
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

TIMEOUT = 120  # seconds for one soffice call (it may convert several files)
INSTALL_HINT = "apt-get install libreoffice-calc-nogui fonts-noto-cjk poppler-utils"

# Marker for tests that run LibreOffice (registered in pyproject.toml); select with -m libreoffice.
needs_soffice = pytest.mark.libreoffice

RECALC_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

# Font names used by pipeline/workbook/template.py → the CJK families of fonts-noto-cjk.
FONT_ALIASES = {
    "宋体": "Noto Serif CJK SC",
    "SimSun": "Noto Serif CJK SC",
    "黑体": "Noto Sans CJK SC",
    "SimHei": "Noto Sans CJK SC",
}


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def soffice_available() -> bool:
    return soffice_path() is not None


def require(*tools: str) -> None:
    """Skip the calling test when LibreOffice (or another needed tool) is missing; fail under CI."""
    missing = [] if soffice_available() else ["soffice"]
    missing += [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed ({INSTALL_HINT})"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


class _Profile:
    """The session's LibreOffice user installation and environment (created lazily, once)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.root: Path | None = None

    def ensure(self) -> Path:
        if self.root is None:
            root = Path(tempfile.mkdtemp(prefix="huizong-lo-"))
            user = root / "profile" / "user"
            user.mkdir(parents=True)
            (user / "registrymodifications.xcu").write_text(RECALC_XCU, encoding="utf-8")
            aliases = "\n".join(
                f'  <alias binding="same"><family>{name}</family><prefer><family>{target}</family></prefer></alias>'
                for name, target in FONT_ALIASES.items()
            )
            (root / "fonts.conf").write_text(
                '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
                '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
                f"{aliases}\n</fontconfig>\n",
                encoding="utf-8",
            )
            atexit.register(shutil.rmtree, root, True)
            self.root = root
        return self.root

    @property
    def url(self) -> str:
        return (self.ensure() / "profile").as_uri()

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        fonts = self.ensure() / "fonts.conf"
        if "FONTCONFIG_FILE" not in env and Path("/etc/fonts/fonts.conf").is_file():
            env["FONTCONFIG_FILE"] = str(fonts)
        env.pop("PYTHONPATH", None)  # keep our venv out of LibreOffice's bundled Python
        return env


PROFILE = _Profile()


def profile_dir() -> Path:
    """The session's LibreOffice user installation (``…/profile``; settings in ``user/``)."""
    return PROFILE.ensure() / "profile"


def run_soffice(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run soffice in its own process group; on timeout kill that group (soffice.bin included).

    ``env``: by default the shared test profile's environment."""
    proc = subprocess.Popen(
        args, cwd=cwd, env=PROFILE.env if env is None else env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(
            f"LibreOffice timed out after {TIMEOUT} s: {' '.join(args)}\nstdout:\n{out}\nstderr:\n{err}"
        ) from None
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def convert_many(srcs: Sequence[Path], fmt: str, outdir: Path) -> list[Path]:
    """Convert several files in one soffice call; returns the produced files in the order given.

    ``fmt`` is what ``--convert-to`` takes: ``pdf``, ``ods``, ``xlsx:Calc MS Excel 2007 XML``,
    ``xls:MS Excel 97``. Output files are ``outdir/<stem>.<ext>``, so stems must differ.
    """
    exe = soffice_path()
    if exe is None:
        raise AssertionError(f"soffice not found ({INSTALL_HINT})")
    srcs = [Path(s).resolve() for s in srcs]
    stems = [s.stem for s in srcs]
    if len(set(stems)) != len(stems):
        raise ValueError(f"files to convert in one call need different names: {stems}")
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    ext = fmt.split(":", 1)[0]
    wanted = [outdir / f"{s.stem}.{ext}" for s in srcs]
    for w in wanted:
        if w.exists() and w not in srcs:
            w.unlink()
    args = [
        exe, "--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
        f"-env:UserInstallation={PROFILE.url}",
        "--convert-to", fmt, "--outdir", str(outdir), *map(str, srcs),
    ]
    with PROFILE.lock:  # one profile can serve only one soffice process at a time
        done = run_soffice(args, cwd=outdir)
    missing = [w for w in wanted if not w.is_file() or w.stat().st_size == 0]
    if missing:
        raise AssertionError(
            f"LibreOffice did not produce {', '.join(m.name for m in missing)} (exit {done.returncode})\n"
            f"command: {' '.join(args)}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return wanted


def convert(src: Path, fmt: str, outdir: Path) -> Path:
    """Convert one file with LibreOffice headless; returns the produced file."""
    return convert_many([src], fmt, outdir)[0]



# --- a clerk's edit made by the spreadsheet program itself (a Basic macro in the profile) ------

BASIC_WRITELOG = """Sub WriteLog(logPath, msg)
  f = FreeFile
  Open logPath For Append As #f
  Print #f, msg
  Close #f
End Sub
"""  # appends one line to a log file (how a headless macro reports back)

_MACRO = """Sub InsertRows(src, edits, outputs, logPath)
  On Error Goto Failed
  Dim args(0) As New com.sun.star.beans.PropertyValue
  Dim st(0) As New com.sun.star.beans.PropertyValue
  args(0).Name = "Hidden" : args(0).Value = True
  doc = StarDesktop.loadComponentFromURL(src, "_blank", 0, args())
  For Each e In Split(edits, ";")
    p = Split(e, ",")
    sh = doc.Sheets.getByIndex(CLng(p(0)))
    If sh.isProtected() Then sh.unprotect("")
    sh.Rows.insertByIndex(CLng(p(1)), CLng(p(2)))
  Next
  For Each o In Split(outputs, ";")
    q = Split(o, "|")
    st(0).Name = "FilterName" : st(0).Value = q(1)
    doc.storeToURL(q(0), st())
  Next
  doc.close(True)
  WriteLog(logPath, "ok")
  StarDesktop.terminate()
  Exit Sub
Failed:
  WriteLog(logPath, "error " & Err & " at line " & Erl & ": " & Error$)
  StarDesktop.terminate()
End Sub

""" + BASIC_WRITELOG

_SCRIPT_XLB = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE library:library PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "library.dtd">
<library:library xmlns:library="http://openoffice.org/2000/library" library:name="Standard" \
library:readonly="false" library:passwordprotected="false">
 <library:element library:name="Module1"/>
 <library:element library:name="Huizong"/>
</library:library>
"""


def _install_macros() -> None:
    """Put module Standard.Huizong into the profile's own Basic library (trusted, unlike document macros).

    LibreOffice fills ``user/basic`` from its defaults on the first start with a new profile, so
    start it once (``--terminate_after_init``) before adding the module.
    """
    std = profile_dir() / "user" / "basic" / "Standard"
    if (std / "Huizong.xba").is_file():
        return
    exe = soffice_path()
    if exe is None:
        raise AssertionError(f"soffice not found ({INSTALL_HINT})")
    if not (std / "script.xlb").is_file():
        args = [exe, "--headless", "--norestore", "--nologo", "--nolockcheck", f"-env:UserInstallation={PROFILE.url}",
                "--terminate_after_init"]
        done = run_soffice(args)
        if not (std / "script.xlb").is_file():
            raise AssertionError(f"LibreOffice did not create its profile\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    (std / "Huizong.xba").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">\n'
        '<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Huizong" '
        'script:language="StarBasic">' + escape(_MACRO, {'"': "&quot;"}) + "</script:module>\n",
        encoding="utf-8",
    )
    (std / "script.xlb").write_text(_SCRIPT_XLB, encoding="utf-8")


FILTERS = {"xlsx": "Calc MS Excel 2007 XML", "xls": "MS Excel 97", "ods": "calc8"}


def insert_rows(src: Path, edits: Sequence[tuple[int, int, int]], outputs: Sequence[Path]) -> list[Path]:
    """Let LibreOffice insert rows into ``src`` the way a clerk would, and save the result.

    ``edits`` are (sheet index, 0-based row to insert before, number of rows), applied in order;
    a protected sheet is first unprotected (the templates' protection has no password). The
    workbook is saved to every path in ``outputs``, in the format its suffix names (.xlsx, .xls,
    .ods). Defined names, merged cells and validations move as they do in any spreadsheet program.
    """
    exe = soffice_path()
    if exe is None:
        raise AssertionError(f"soffice not found ({INSTALL_HINT})")
    src = Path(src).resolve()
    outputs = [Path(o).resolve() for o in outputs]
    with PROFILE.lock:
        _install_macros()
        log = PROFILE.ensure() / "macro.log"
        log.unlink(missing_ok=True)
        for o in outputs:
            o.parent.mkdir(parents=True, exist_ok=True)
            o.unlink(missing_ok=True)
        spec = ";".join(f"{s},{r},{n}" for s, r, n in edits)
        out = ";".join(f"{o.as_uri()}|{FILTERS[o.suffix.lstrip('.')]}" for o in outputs)
        for text in (str(src), spec, out, str(log)):
            if '"' in text:
                raise ValueError(f"no double quotes allowed in macro arguments: {text}")
        call = f'macro:///Standard.Huizong.InsertRows("{src.as_uri()}","{spec}","{out}","{log}")'
        args = [exe, "--headless", "--norestore", "--nologo", "--nolockcheck", f"-env:UserInstallation={PROFILE.url}", call]
        done = run_soffice(args)
        result = log.read_text(encoding="utf-8", errors="replace").strip() if log.is_file() else "(no log)"
    missing = [o for o in outputs if not o.is_file() or o.stat().st_size == 0]
    if missing or result != "ok":
        raise AssertionError(
            f"LibreOffice macro failed: {result} (exit {done.returncode}); missing {[m.name for m in missing]}\n"
            f"command: {' '.join(args)}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return outputs


def pdf_pages_text(pdf: Path) -> list[str]:
    """The text of each page of a PDF (poppler's pdftotext), one string per page."""
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=60, check=True)
    pages = out.stdout.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return pages


def pdf_page_count(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60, check=True)
    for line in out.stdout.splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise AssertionError(f"pdfinfo gave no page count for {pdf}:\n{out.stdout}")


def render_page(pdf: Path, page: int, out_png: Path, dpi: int = 80) -> Path:
    """Render one page (1-based) of a PDF to PNG with pdftoppm; returns the PNG."""
    out_png.parent.mkdir(parents=True, exist_ok=True)
    prefix = out_png.with_suffix("")
    args = ["pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(prefix)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    png = prefix.with_suffix(".png")
    if not png.is_file():
        raise AssertionError(f"pdftoppm produced no {png.name}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    if png != out_png:
        png.replace(out_png)
    return out_png


_WORD_RE = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)


def pdf_words(pdf: Path, page: int) -> list[tuple[str, float, float, float, float]]:
    """Words of one page (1-based) with their boxes in points: (text, x0, y0, x1, y1)."""
    args = ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return [
        (html.unescape(m.group(5)), float(m.group(1)), float(m.group(2)), float(m.group(3)), float(m.group(4)))
        for m in _WORD_RE.finditer(out.stdout)
    ]
