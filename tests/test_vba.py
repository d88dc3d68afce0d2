"""The vbaProject.bin producer (pipeline.excel): VBA source in, a macro project Office and others can read out.

Four layers, each checked against something that is not our own code where possible:
the MS-OVBA compression (spec vectors, round trips, oletools' decoder), the compound file
(olefile), the VBA project (oletools' olevba, bare and inside an XlsxWriter .xlsm) and a real
spreadsheet program (LibreOffice imports the modules, binds the button and runs the code).
"""

from __future__ import annotations

import io
import os
import random
import re
import warnings
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, unescape

import olefile
import pytest
import xlsxwriter
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.excel import cfb, ovba
from pipeline.excel.vba import Module, build_vba_project

from . import lo

try:  # oletools is the independent reader these tests compare against (test dependency oletools>=0.60.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its pyparsing grammar uses deprecated names
        from oletools.olevba import VBA_Parser, decompress_stream
    HAVE_OLETOOLS = True
except ImportError:  # pragma: no cover - reported as skips, never silently passed
    HAVE_OLETOOLS = False
needs_oletools = pytest.mark.skipif(not HAVE_OLETOOLS, reason="oletools not installed (pip install 'oletools>=0.60.2')")

BUTTONS = Module(
    "HuizongButtons",
    "Option Explicit\n"
    "\n"
    "' 汇总按钮：统计各村上报情况（注释里的中文必须经 cp936 原样保存）\n"
    "Function Answer() As String\n"
    '    Answer = "汇总" & CStr(6 * 7)\n'
    "End Function\n"
    "\n"
    "Sub Fill()\n"
    '    ThisWorkbook.Worksheets(1).Range("A3").Value = Answer()\n'
    "    ThisWorkbook.Stamp\n"
    "    Sheet1.Mark\n"
    "End Sub\n",
)
THIS_WORKBOOK = Module(
    "ThisWorkbook",
    'Public Sub Stamp()\r\n    Worksheets(1).Range("A4").Value = "工作簿模块"\r\nEnd Sub\r\n',  # CRLF input is fine too
    "document",
)
SHEET1 = Module("Sheet1", 'Public Sub Mark()\n    Me.Range("B1").Value = "表一"\nEnd Sub', "document")
MODULES = [THIS_WORKBOOK, SHEET1, BUTTONS]


def _large_module(lines: int = 1500) -> Module:
    """A module whose compressed stream is well over 4096 bytes: varied lines compress poorly."""
    rng = random.Random(936)
    hanzi = "村镇户口出生登记汇总考核评分排名上报校验月份"
    body = ["Function Big() As String", "    Dim s As String"]
    for i in range(lines):
        word = "".join(rng.choice(hanzi) for _ in range(6))
        body.append(f'    s = s & "{word}{rng.randrange(10**9)}" \' 第{i}行')
    body += ["    Big = s", "End Function"]
    return Module("BigModule", "\n".join(body) + "\n")


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")


def _body(extracted: str) -> list[str]:
    """Source text without the leading ``Attribute VB_`` lines, as lines."""
    lines = _lines(extracted)
    while lines and lines[0].startswith("Attribute VB_"):
        lines.pop(0)
    return lines if lines != [""] else []


def _expected_body(module: Module) -> list[str]:
    return _lines(module.code) if module.code.strip() else []


def _write_xlsm(path: Path, project: bytes, macro: str = "Fill") -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()  # XlsxWriter gives it the code name Sheet1, the workbook ThisWorkbook
    ws.write("A1", "标题")
    wb.add_vba_project(io.BytesIO(project), is_stream=True)
    ws.insert_button("C2", {"macro": macro, "caption": "汇总", "width": 96, "height": 30})
    wb.close()
    return path


# --- 1. the VBA project, read back by oletools and by our own decompressor ---------------------


def _olevba_sources(parser: VBA_Parser) -> dict[str, str]:
    assert parser.detect_vba_macros()
    return {stream.split("/")[-1]: code for _, stream, _, code in parser.extract_macros()}


@needs_oletools
@pytest.mark.parametrize("modules", [MODULES, [*MODULES, _large_module()]], ids=["small", "with-large-module"])
def test_olevba_reads_every_module_of_a_bare_project(modules: list[Module]) -> None:
    sources = _olevba_sources(VBA_Parser("vbaProject.bin", data=build_vba_project(modules)))
    assert set(sources) == {m.name for m in modules}
    for m in modules:
        assert _lines(sources[m.name])[0] == f'Attribute VB_Name = "{m.name}"'
        assert _body(sources[m.name]) == _expected_body(m), m.name
    assert "汇总" in sources["HuizongButtons"] and "（注释里的中文必须经 cp936 原样保存）" in sources["HuizongButtons"]


@needs_oletools
def test_olevba_reads_every_module_inside_an_xlsm(tmp_path: Path) -> None:
    xlsm = _write_xlsm(tmp_path / "buttons.xlsm", build_vba_project(MODULES))
    with zipfile.ZipFile(xlsm) as z:
        assert "xl/vbaProject.bin" in z.namelist()
        assert "macroEnabled" in z.read("[Content_Types].xml").decode()
    sources = _olevba_sources(VBA_Parser(str(xlsm)))
    assert {name: _body(code) for name, code in sources.items()} == {m.name: _expected_body(m) for m in MODULES}


def test_own_decompressor_gives_back_the_exact_module_text() -> None:
    modules = [*MODULES, _large_module()]
    ole = olefile.OleFileIO(io.BytesIO(build_vba_project(modules)))
    for m in modules:
        text = ovba.decompress(ole.openstream(f"VBA/{m.name}").read()).decode("cp936")
        assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")  # VBA's CRLF line ends
        assert _body(text) == _expected_body(m)
    # Document modules carry the class they derive from, as Excel writes them.
    this_workbook = ovba.decompress(ole.openstream("VBA/ThisWorkbook").read()).decode("cp936")
    assert 'Attribute VB_Base = "0{00020819-0000-0000-C000-000000000046}"' in this_workbook
    sheet = ovba.decompress(ole.openstream("VBA/Sheet1").read()).decode("cp936")
    assert 'Attribute VB_Base = "0{00020820-0000-0000-C000-000000000046}"' in sheet


def test_dir_stream_records() -> None:
    ole = olefile.OleFileIO(io.BytesIO(build_vba_project(MODULES, project_name="Huizong")))
    records = _dir_records(ovba.decompress(ole.openstream("VBA/dir").read()))
    ids = [r for r, _ in records]
    # The record sequence of an Excel-written project (information, one registered reference, modules).
    information = [0x01, 0x02, 0x14, 0x03, 0x04, 0x05, 0x40, 0x06, 0x3D, 0x07, 0x08, 0x09, 0x0C, 0x3C]
    stdole = [0x16, 0x3E, 0x0D]
    module = [0x19, 0x47, 0x1A, 0x32, 0x1C, 0x48, 0x31, 0x1E, 0x2C, None, 0x2B]  # None: MODULETYPE
    expected = information + stdole + [0x0F, 0x13] + module * len(MODULES) + [0x10]
    assert [None if rid in (0x21, 0x22) else rid for rid in ids] == expected
    values = dict(records)
    assert values[0x0003] == (936).to_bytes(2, "little")  # PROJECTCODEPAGE: GBK
    assert values[0x0002] == values[0x0014] == (0x409).to_bytes(4, "little")  # LCID, LCIDINVOKE
    assert values[0x0004] == b"Huizong"  # PROJECTNAME
    assert b"{00020430-0000-0000-C000-000000000046}" in values[0x000D]  # stdole reference
    assert values[0x000F] == len(MODULES).to_bytes(2, "little")
    names = [payload for rid, payload in records if rid == 0x0019]
    assert names == [m.name.encode() for m in MODULES]
    offsets = [payload for rid, payload in records if rid == 0x0031]
    assert offsets == [bytes(4)] * len(MODULES)  # MODULEOFFSET 0: source only, no p-code
    types = [rid for rid in ids if rid in (0x0021, 0x0022)]
    assert types == [0x0022, 0x0022, 0x0021]  # document, document, procedural


def _dir_records(data: bytes) -> list[tuple[int, bytes]]:
    """Split a decompressed dir stream into (id, payload); PROJECTVERSION's size field is not its size."""
    records, pos = [], 0
    while pos < len(data):
        rid, size = int.from_bytes(data[pos : pos + 2], "little"), int.from_bytes(data[pos + 2 : pos + 6], "little")
        size = 6 if rid == 0x0009 else size
        records.append((rid, data[pos + 6 : pos + 6 + size]))
        pos += 6 + size
    assert pos == len(data)
    return records


def test_project_streams() -> None:
    data = build_vba_project(MODULES)
    ole = olefile.OleFileIO(io.BytesIO(data))
    assert ole.openstream("VBA/_VBA_PROJECT").read() == bytes.fromhex("CC61FFFF000100")  # MS-OVBA 3.1.1
    project = ole.openstream("PROJECT").read().decode("cp936")
    lines = project.split("\r\n")
    assert lines[1:4] == ["Document=ThisWorkbook/&H00000000", "Document=Sheet1/&H00000000", "Module=HuizongButtons"]
    assert 'Name="VBAProject"' in lines and "[Host Extender Info]" in lines
    project_id = re.fullmatch(r'ID="(\{[0-9A-F-]{36}\})"', lines[0])
    assert project_id
    fields = dict(line.split("=", 1) for line in lines if line.startswith(("CMG=", "DPB=", "GC=")))
    assert _decrypt(fields["CMG"].strip('"'), project_id.group(1)) == bytes(4)  # not protected
    assert _decrypt(fields["DPB"].strip('"'), project_id.group(1)) == b"\x00"  # no password
    assert _decrypt(fields["GC"].strip('"'), project_id.group(1)) == b"\xff"  # visible
    wm = ole.openstream("PROJECTwm").read()
    assert wm == b"".join(m.name.encode() + b"\0" + m.name.encode("utf-16-le") + b"\0\0" for m in MODULES) + b"\0\0"
    assert build_vba_project(MODULES) == data  # deterministic


def _decrypt(hex_text: str, project_id: str | None = None) -> bytes:
    """MS-OVBA 2.4.3.3 data decryption, written from the spec independently of the encoder."""
    enc = bytes.fromhex(hex_text)
    seed, version_enc, key_enc = enc[0], enc[1], enc[2]
    assert seed ^ version_enc == 2
    key = seed ^ key_enc
    if project_id is not None:
        assert key == sum(project_id.encode()) & 0xFF
    plain, last_plain, last_enc, prev_enc = [], key, key_enc, version_enc
    for byte in enc[3:]:
        value = byte ^ ((prev_enc + last_plain) & 0xFF)
        plain.append(value)
        prev_enc, last_enc, last_plain = last_enc, byte, value
    ignored = (seed & 6) // 2
    length = int.from_bytes(bytes(plain[ignored : ignored + 4]), "little")
    data = bytes(plain[ignored + 4 :])
    assert len(data) == length
    return data


def test_decrypt_matches_the_spec_example() -> None:
    # MS-OVBA 3.1.6: the example project's GC value is a visible project (0xFF).
    assert _decrypt("1517CAF1D6F9D7F9D706", "{917DED54-440B-4FD1-A5C1-74ACF261E600}") == b"\xff"


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        ([], "at least one module"),
        ([Module("汇总", "")], "not an ASCII VBA identifier"),
        ([Module("A" * 32, "")], "not an ASCII VBA identifier"),
        ([Module("Mod", ""), Module("MOD", "")], "already used"),
        ([Module("VBAProject", "")], "already used by the project"),
        ([Module("dir", "")], "cannot be called 'dir'"),
        ([Module("Mod", "", "userform")], "kind must be"),
        ([Module("Mod", 'Attribute VB_Name = "Mod"\nSub A()\nEnd Sub')], "without its Attribute header"),
        ([Module("Mod", "' 😀 not in GBK")], "cannot be written in code page"),
    ],
)
def test_bad_input_is_refused(modules: list[Module], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_vba_project(modules)


@needs_oletools
def test_other_code_pages() -> None:
    latin = Module("Latin", "' café\nSub A()\nEnd Sub\n")
    sources = _olevba_sources(VBA_Parser("vbaProject.bin", data=build_vba_project([latin], codepage=1252)))
    assert _body(sources["Latin"]) == _expected_body(latin)
    with pytest.raises(ValueError, match="unknown code page"):
        build_vba_project([latin], codepage=12345)


# --- 2. the MS-OVBA compression ------------------------------------------------------------------

# MS-OVBA 3.2.1 "No Compression Example" and 3.2.2 "Normal Compression Example".
SPEC_VECTORS = [
    (b"abcdefghijklmnopqrstuv.", "01 19 B0 00 61 62 63 64 65 66 67 68 00 69 6A 6B 6C 6D 6E 6F 70 00 71 72 73 74 75 76 2E"),
    (
        b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa",
        "01 2F B0 00 23 61 61 61 62 63 64 65 82 66 00 70 61 67 68 69 6A 01 38 08 61 6B 6C 00 20 6D 6E 6F 70"
        " 06 71 02 70 04 00 72 73 74 75 76 10 77 78 79 7A 00 2C",
    ),
]


@pytest.mark.parametrize(("plain", "packed"), SPEC_VECTORS)
def test_compression_matches_the_spec_examples(plain: bytes, packed: str) -> None:
    assert ovba.compress(plain) == bytes.fromhex(packed)
    assert ovba.decompress(bytes.fromhex(packed)) == plain


def _repeat(unit: bytes, n: int) -> bytes:
    return (unit * (n // len(unit) + 1))[:n]


def _from_alphabet(alphabet: bytes, n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.choice(alphabet) for _ in range(n))


_LENGTH = st.integers(0, 20000)
_DATA = st.one_of(
    st.binary(max_size=20000),
    st.builds(_repeat, st.binary(min_size=1, max_size=12), _LENGTH),  # highly repetitive
    st.builds(_from_alphabet, st.binary(min_size=1, max_size=4), _LENGTH, st.integers()),  # few symbols
    st.lists(st.one_of(st.binary(max_size=64), st.builds(_repeat, st.binary(min_size=1, max_size=5), st.integers(0, 600))),
             max_size=40).map(b"".join),  # runs mixed with noise
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_DATA)
@example(b"")
@example(b"a" * 20000)
@example(b"#aaabcdefaaaaghijaaaabcdefaaaaghijaaaaaaaaaaaaaaaaaaaaaaaaa")
@example(random.Random(1).randbytes(4096))  # one raw chunk
@example(random.Random(2).randbytes(4096 + 3900))  # raw chunk, then a tail too random to fit one chunk
@example(random.Random(3).randbytes(20000))
def test_compression_round_trip(data: bytes) -> None:
    packed = ovba.compress(data)
    assert ovba.decompress(packed) == data
    if HAVE_OLETOOLS:
        assert decompress_stream(packed) == data  # oletools' independent decoder agrees
    pos = 1
    while pos < len(packed):  # every chunk well formed: signature 0b011, at most 4098 bytes
        header = int.from_bytes(packed[pos : pos + 2], "little")
        assert (header >> 12) & 0b111 == 0b011
        size = (header & 0x0FFF) + 3
        assert header & 0x8000 or size == 4098
        pos += size
    assert pos == len(packed)


def test_text_compresses_and_incompressible_chunks_go_raw() -> None:
    source = _large_module().code.encode("cp936")
    assert len(ovba.compress(source)) < len(source) // 2
    noise = random.Random(4).randbytes(4096)
    assert ovba.compress(noise) == b"\x01" + (0x3FFF).to_bytes(2, "little") + noise


@pytest.mark.parametrize("bad", [b"", b"\x02", b"\x01\x00", b"\x01\xff\x0f", b"\x01\x05\xb0\x01\x00\x00"])
def test_decompress_rejects_malformed_containers(bad: bytes) -> None:
    with pytest.raises(ValueError):
        ovba.decompress(bad)


# --- 3. the compound file container --------------------------------------------------------------


@pytest.mark.parametrize("large", [False, True], ids=["mini-stream-only", "with-large-stream"])
def test_olefile_lists_the_streams_with_their_sizes(large: bool) -> None:
    modules = [*MODULES, _large_module()] if large else MODULES
    data = build_vba_project(modules)
    assert olefile.isOleFile(data=data)
    ole = olefile.OleFileIO(io.BytesIO(data), raise_defects=olefile.DEFECT_INCORRECT)
    expected = {"PROJECT", "PROJECTwm", "VBA/_VBA_PROJECT", "VBA/dir"} | {f"VBA/{m.name}" for m in modules}
    assert {"/".join(p) for p in ole.listdir()} == expected
    assert ole.get_type("VBA") == olefile.STGTY_STORAGE
    wm = b"".join(m.name.encode() + b"\0" + m.name.encode("utf-16-le") + b"\0\0" for m in modules) + b"\0\0"
    assert ole.get_size("PROJECTwm") == len(wm)
    assert ole.get_size("VBA/_VBA_PROJECT") == 7
    for m in modules:
        stream = ole.openstream(f"VBA/{m.name}").read()
        assert ole.get_size(f"VBA/{m.name}") == len(stream)
        assert _body(ovba.decompress(stream).decode("cp936")) == _expected_body(m)
    for path in expected:  # small streams in the mini stream, large ones in ordinary sectors
        entry = ole.direntries[ole._find(path)]
        assert entry.is_minifat == (entry.size < cfb.MINI_CUTOFF), path
    if large:
        assert ole.get_size("VBA/BigModule") >= cfb.MINI_CUTOFF
    assert not ole.parsing_issues
    _assert_red_black(ole)


def test_compound_file_round_trip_at_the_edges() -> None:
    rng = random.Random(5)
    streams = {"empty": b"", "one": b"x", "mini_max": rng.randbytes(4095), "cutoff": rng.randbytes(4096)}
    streams |= {f"Store/S{i:02d}": rng.randbytes(rng.randrange(1, 9000)) for i in range(37)}
    streams |= {"Store/Deeper/leaf": b"leaf", "Other/x": rng.randbytes(700 * 512)}  # needs more than one FAT sector
    data = cfb.write_compound_file(streams)
    assert len(data) % cfb.SECTOR == 0
    ole = olefile.OleFileIO(io.BytesIO(data), raise_defects=olefile.DEFECT_INCORRECT)
    for path, content in streams.items():
        assert ole.get_size(path) == len(content)
        assert ole.openstream(path).read() == content, path
    assert not ole.parsing_issues
    _assert_red_black(ole)
    with pytest.raises(ValueError, match="duplicate"):
        cfb.write_compound_file({"A": b"", "a": b""})
    with pytest.raises(ValueError, match="invalid"):
        cfb.write_compound_file({"x" * 32: b""})


def _assert_red_black(ole: olefile.OleFileIO) -> None:
    """Every storage's children form a valid red-black tree in [MS-CFB] 2.6.4 order."""
    entries = {e.sid: e for e in ole.direntries if e is not None}

    def key(sid: int) -> tuple[int, str]:
        return len(entries[sid].name), entries[sid].name.upper()

    def check(sid: int, low: tuple[int, str] | None, high: tuple[int, str] | None, parent_red: bool) -> int:
        """Black height of the subtree at ``sid``; asserts order and colours on the way."""
        if sid == olefile.NOSTREAM:
            return 1
        e, red = entries[sid], entries[sid].color == 0
        assert not (red and parent_red), f"red {e.name} under a red parent"
        assert (low is None or low < key(sid)) and (high is None or key(sid) < high), f"{e.name} out of order"
        left = check(e.sid_left, low, key(sid), red)
        assert left == check(e.sid_right, key(sid), high, red), f"unequal black heights below {e.name}"
        return left + (not red)

    for e in entries.values():
        if e.entry_type in (olefile.STGTY_ROOT, olefile.STGTY_STORAGE) and e.sid_child != olefile.NOSTREAM:
            assert entries[e.sid_child].color == 1, "the root of a sibling tree must be black"
            check(e.sid_child, None, None, False)


# --- 4. a real spreadsheet program ----------------------------------------------------------------


@lo.needs_soffice
def test_libreoffice_imports_the_modules_and_binds_the_button(tmp_path: Path) -> None:
    lo.require()
    xlsm = _write_xlsm(tmp_path / "buttons.xlsm", build_vba_project(MODULES, project_name="Huizong"))
    ods = lo.convert(xlsm, "ods", tmp_path / "ods")
    with zipfile.ZipFile(ods) as z:
        names = set(z.namelist())
        library = z.read("Basic/Huizong/script-lb.xml").decode()
        modules = {m.name: unescape(z.read(f"Basic/Huizong/{m.name}.xml").decode(), {"&apos;": "'", "&quot;": '"'})
                   for m in MODULES}
        content = z.read("content.xml").decode()
    assert "Basic/script-lc.xml" in names
    for m in MODULES:
        assert f'library:name="{m.name}"' in library
        kind = "VBADocumentModule" if m.kind == "document" else "VBAModule"
        assert f"Rem Attribute VBA_ModuleType={kind}" in modules[m.name]
        source = "\n".join(_lines(modules[m.name]))
        assert "\n".join(_expected_body(m)) in source, m.name
    # The button's click runs our macro, found by name in the imported project.
    assert "vnd.sun.star.script:Huizong.HuizongButtons.Fill?language=Basic" in unescape(content)


@lo.needs_soffice
def test_libreoffice_runs_the_macros(tmp_path: Path) -> None:
    """LibreOffice's VBA support runs Fill, which calls into ThisWorkbook and Sheet1 and writes cells."""
    lo.require()
    xlsm = _write_xlsm(tmp_path / "buttons.xlsm", build_vba_project(MODULES))
    csv = _run_document_macro(xlsm, "VBAProject.HuizongButtons.Fill", tmp_path)
    rows = [line.split(",") for line in csv.splitlines()]
    assert rows[0] == ["标题", "表一"]  # Sheet1.Mark (document module, Me = the sheet)
    assert rows[2][0] == "汇总42"  # Answer() in the standard module: Chinese literal survived cp936
    assert rows[3][0] == "工作簿模块"  # ThisWorkbook.Stamp (document module)


_DRIVER = """Sub RunVba(src, macroUrl, outUrl, logPath)
  On Error Goto Failed
  Dim args(1) As New com.sun.star.beans.PropertyValue
  args(0).Name = "Hidden" : args(0).Value = True
  args(1).Name = "MacroExecutionMode" : args(1).Value = 4
  doc = StarDesktop.loadComponentFromURL(src, "_blank", 0, args())
  doc.getScriptProvider().getScript(macroUrl).invoke(Array(), Array(), Array())
  Dim st(1) As New com.sun.star.beans.PropertyValue
  st(0).Name = "FilterName" : st(0).Value = "Text - txt - csv (StarCalc)"
  st(1).Name = "FilterOptions" : st(1).Value = "44,34,76"
  doc.storeToURL(outUrl, st())
  doc.close(True)
  WriteLog(logPath, "ok")
  StarDesktop.terminate()
  Exit Sub
Failed:
  WriteLog(logPath, "error " & Err & " at line " & Erl & ": " & Error$)
  StarDesktop.terminate()
End Sub

""" + lo.BASIC_WRITELOG


def _run_document_macro(doc: Path, macro: str, work: Path) -> str:
    """Open ``doc`` in LibreOffice with macros allowed, run one of its macros, return sheet 1 as CSV.

    A throw-away profile of its own: a Basic driver in the profile's Standard library loads the
    document (MacroExecutionMode 4: run without asking), invokes the macro through the
    document's script provider and saves the first sheet as UTF-8 CSV.
    """
    exe = lo.soffice_path()
    assert exe is not None
    profile = work / "lo-profile"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    base = [exe, "--headless", "--norestore", "--nologo", "--nolockcheck", f"-env:UserInstallation={profile.as_uri()}"]
    lo.run_soffice([*base, "--terminate_after_init"], env=env)  # creates user/basic/Standard
    std = profile / "user" / "basic" / "Standard"
    assert (std / "script.xlb").is_file(), "LibreOffice did not create its profile"
    (std / "Driver.xba").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument'
        ' 1.0//EN" "module.dtd">\n<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Driver"'
        ' script:language="StarBasic">' + escape(_DRIVER, {'"': "&quot;"}) + "</script:module>\n",
        encoding="utf-8",
    )
    xlb = (std / "script.xlb").read_text(encoding="utf-8")
    (std / "script.xlb").write_text(xlb.replace("</library:library>", ' <library:element library:name="Driver"/>\n</library:library>'),
                                    encoding="utf-8")
    out, log = work / "sheet1.csv", work / "macro.log"
    url = f"vnd.sun.star.script:{macro}?language=Basic&location=document"
    done = lo.run_soffice([*base, f'macro:///Standard.Driver.RunVba("{doc.resolve().as_uri()}","{url}","{out.as_uri()}","{log}")'], env=env)
    result = log.read_text(encoding="utf-8").strip() if log.is_file() else "(no log)"
    assert result == "ok" and out.is_file(), f"macro run failed: {result}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return out.read_text(encoding="utf-8")


def test_module_streams_are_source_only() -> None:
    """No p-code precedes the source (MODULEOFFSET 0): each stream is one compressed container from byte 0."""
    ole = olefile.OleFileIO(io.BytesIO(build_vba_project(MODULES)))
    for m in MODULES:
        stream = ole.openstream(f"VBA/{m.name}").read()
        assert stream[0] == 0x01
        assert ovba.decompress(stream).startswith(f'Attribute VB_Name = "{m.name}"'.encode())



def test_class_modules_round_trip_with_their_header():
    """xlwings' standalone VBA needs its Dictionary class module: Class= in PROJECT, class VB_Base."""
    olevba = pytest.importorskip("oletools.olevba")
    project = build_vba_project([Module("Dict", "Private x As Long\nPublic Property Get Count() As Long\n    Count = x\nEnd Property\n", kind="class")])
    parser = olevba.VBA_Parser("p.bin", data=project)
    ((_f, _s, _name, code),) = list(parser.extract_macros())
    assert 'Attribute VB_Base = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"' in code
    assert "Public Property Get Count()" in code
