"""Hostile and disguised files: sniffed, refused with the right code, never a crash, a hang or a memory blow-up.

Every file is built for real here (in memory): zip bombs, XML entity tricks, encrypted and truncated
workbooks, web pages and text files with an Excel name, photos, Word documents, WPS files. Each goes
through ``sniff``, ``read_report`` and ``check_bytes``; each must come back as data (a Problem that
names the file and tells the clerk, in Chinese, what to do), never as an exception.
"""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import xlsxwriter

from pipeline.check import check_bytes
from pipeline.problems import CATALOGUE, Severity
from pipeline.programme.config import Programme, load_programme
from pipeline.workbook.reader import ReadResult, read_report
from pipeline.workbook.safety import DEFAULT_LIMITS, Limits, sniff

from .conftest import filled

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


@pytest.fixture(scope="module")
def qianfen() -> Programme:
    return load_programme("qianfen")


# ---------------------------------------------------------------------------------------------
# Builders: real files, made in memory
# ---------------------------------------------------------------------------------------------


def make_xlsx(rows: list[list[object]] | None = None, sheet: str = "Sheet1") -> bytes:
    """A genuine .xlsx written by XlsxWriter: by default a random little table, not our template."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet(sheet)
    for r, row in enumerate(rows if rows is not None else [[17, 4.5, 300], [2, 81, 6], [99, 0.25, 12]]):
        ws.write_row(r, 0, row)
    wb.close()
    return buf.getvalue()


def rezip(
    data: bytes,
    change: dict[str, Callable[[bytes], bytes]] | None = None,
    rename: dict[str, str] | None = None,
    add: dict[str, bytes] | None = None,
) -> bytes:
    """Copy a zip, rewriting (``change``), renaming (``rename``) or adding (``add``) members."""
    change, rename, add = change or {}, rename or {}, add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename in change:
                body = change[info.filename](body)
            zout.writestr(rename.get(info.filename, info.filename), body)
        for member, body in add.items():
            zout.writestr(member, body)
    return out.getvalue()


def after_prolog(decl: bytes) -> Callable[[bytes], bytes]:
    """Insert ``decl`` right after the XML declaration of a part (where a DOCTYPE goes)."""

    def edit(body: bytes) -> bytes:
        i = body.index(b"?>") + 2
        return body[:i] + decl + body[i:]

    return edit


def patch_entry(
    data: bytes, member: str, local_at: int, central_at: int, fmt: str, fn: Callable[[int], int]
) -> bytes:
    """Rewrite one field of ``member`` in both its local header and its central directory record."""
    buf = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        local = zf.getinfo(member).header_offset
    (old,) = struct.unpack_from(fmt, buf, local + local_at)
    struct.pack_into(fmt, buf, local + local_at, fn(old))
    i = buf.find(b"PK\x01\x02")
    while i != -1:
        name_len = struct.unpack_from("<H", buf, i + 28)[0]
        if bytes(buf[i + 46 : i + 46 + name_len]).decode("utf-8") == member:
            (old,) = struct.unpack_from(fmt, buf, i + central_at)
            struct.pack_into(fmt, buf, i + central_at, fn(old))
        i = buf.find(b"PK\x01\x02", i + 4)
    return bytes(buf)


def zip_encrypted_flag(data: bytes, member: str) -> bytes:
    """Mark a member as PKWARE-encrypted ("zip with a password", as 7-Zip/WinRAR make it)."""
    return patch_entry(data, member, 6, 8, "<H", lambda v: v | 0x1)


def zip_method(data: bytes, member: str, method: int) -> bytes:
    """Claim a compression method Python cannot decompress (9 = Deflate64, as some zip tools write)."""
    return patch_entry(data, member, 8, 10, "<H", lambda _v: method)


def zip_declared_size(data: bytes, member: str, size: int) -> bytes:
    """Make a member lie about its uncompressed size."""
    return patch_entry(data, member, 22, 24, "<I", lambda _v: size)


def ole_file(streams: dict[str, bytes]) -> bytes:
    """A minimal but well-formed OLE2 compound file (the container of .xls, .et, encrypted .xlsx).

    Version 3, 512-byte sectors; sector 0 holds the FAT, sector 1 the directory, then each stream
    (padded to at least 4096 bytes so that none lives in the mini stream).
    """
    end, free, fatsect = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    names = list(streams)
    assert len(names) <= 3
    data = [streams[n].ljust(4096, b"\0") for n in names]  # stream sizes as stored, all >= the mini cutoff
    bodies = [b.ljust(-(-len(b) // 512) * 512, b"\0") for b in data]
    fat = [fatsect, end]
    starts = []
    for body in bodies:
        n = len(body) // 512
        starts.append(len(fat))
        fat += [len(fat) + k + 1 for k in range(n - 1)] + [end]
    assert len(fat) <= 128

    def entry(name: str, kind: int, start: int, size: int, child: int = free, right: int = free) -> bytes:
        raw = (name + "\0").encode("utf-16-le")
        e = raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1)
        e += struct.pack("<III", free, right, child) + bytes(16 + 4 + 16)
        return e + struct.pack("<IQ", start, size)

    directory = entry("Root Entry", 5, end, 0, child=1 if names else free)
    for k, (name, start, body) in enumerate(zip(names, starts, data)):
        directory += entry(name, 2, start, len(body), right=k + 2 if k + 1 < len(names) else free)
    directory = directory.ljust(512, b"\0")
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
    header += struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
    header += struct.pack("<I", 0) + struct.pack("<I", free) * 108
    fat_sector = b"".join(struct.pack("<I", v) for v in fat).ljust(512, b"\xff")
    return header + fat_sector + directory + b"".join(bodies)


def biff_workbook_stream() -> bytes:
    """The start of a BIFF8 Workbook stream (BOF of the workbook globals, a codepage, EOF)."""
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0x0DBB, 0x07CC, 0x0000_0041, 0x0000_0006)
    codepage = struct.pack("<HHH", 0x0042, 2, 1200)
    eof = struct.pack("<HH", 0x000A, 0)
    return bof + codepage + eof


def png_image() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0\0"))
        + chunk(b"IEND", b"")
    )


def jpeg_image() -> bytes:
    """A phone photo of the paper form: JFIF header, a comment, end of image."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    com = b"\xff\xfe" + struct.pack(">H", 2 + 12) + b"village form"
    return b"\xff\xd8" + app0 + com + b"\xff\xd9"


def pdf_document() -> bytes:
    return (
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def docx_document() -> bytes:
    ctypes = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="word/document.xml" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
    )
    doc = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>本月出生数：3</w:t></w:r></w:p></w:body></w:document>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", ctypes)
        zf.writestr("_rels/.rels", rels)
        zf.writestr("word/document.xml", doc)
    return out.getvalue()


def ods_workbook(table_xml: str) -> bytes:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{table_xml}</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(
            "mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED
        )
        zf.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


CSV_ROWS = "村名,本月出生数,死亡人数,备注\n" + "".join(
    f"第{i}村民小组,{i % 7},{i % 3},已核对无误\n" for i in range(300)
)


def cut_inside_a_character(text: str, encoding: str) -> bytes:
    """``text`` encoded so that its first 4096 bytes end in the middle of a multi-byte character."""
    for pad in range(4):
        data = ("," * pad + text).encode(encoding)
        try:
            data[:4096].decode(encoding)
        except UnicodeDecodeError:
            return data
    raise AssertionError("no padding puts byte 4096 inside a character")


HTML_EXPORT = (
    '<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:x="urn:schemas-microsoft-com:office:excel">'
    '<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>'
    "<table border=1><tr><td>指标名称</td><td>本月数</td></tr><tr><td>本月出生数</td><td>3</td></tr></table>"
    "</body></html>"
)

EXCEL_2003_XML = (
    '<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
    '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
    'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">'
    '<Worksheet ss:Name="月报"><Table><Row><Cell><Data ss:Type="String">本月出生数</Data></Cell>'
    '<Cell><Data ss:Type="Number">3</Data></Cell></Row></Table></Worksheet></Workbook>'
)

BILLION_LAUGHS = (
    b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>"
)
EXTERNAL_ENTITY = b'<!DOCTYPE workbook [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


# ---------------------------------------------------------------------------------------------
# The common verdict: refused with ``code``, by sniff, read_report and check_bytes alike
# ---------------------------------------------------------------------------------------------


def has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def hostile_read(data: bytes, name: str, programme: Programme, limits: Limits) -> ReadResult:
    """read_report, which must come back with problems (never raise). How long it takes is not asserted:
    tests never depend on timing; what bounds the work is asserted where it matters (what was read)."""
    return read_report(data, name, programme, limits)


def assert_refused(
    data: bytes, name: str, code: str, programme: Programme, limits: Limits = DEFAULT_LIMITS
) -> ReadResult:
    sniffed = sniff(data, name, limits)
    if sniffed.ok:  # let through to the reader, which finds what only a parse can find
        assert code in ("F002", "F008", "F011", "S001"), (code, sniffed)
    else:
        assert sniffed.format == ""
        assert [p.code for p in sniffed.problems] == [code], [(p.code, p.detail) for p in sniffed.problems]

    result = hostile_read(data, name, programme, limits)
    codes = [p.code for p in result.problems]
    assert code in codes, [(p.code, p.detail) for p in result.problems]
    assert not result.readable
    assert result.values == {} or code == "F011"
    for p in result.problems:
        assert p.file == name
        assert p.code in CATALOGUE

    check = check_bytes(data, name, programme, limits=limits)
    assert check.status == "退回"
    assert code in [p.code for p in check.errors]
    for p in check.problems:
        assert p.file == name
        assert has_cjk(p.message), p.message
        assert "{" not in p.message and "}" not in p.message, p.message
    assert any("请" in p.message for p in check.errors), [p.message for p in check.errors]
    return result


@pytest.mark.parametrize(
    "code", sorted(c for c, k in CATALOGUE.items() if c.startswith("F") and k.severity is Severity.ERROR)
)
def test_every_file_level_refusal_tells_the_clerk_what_to_do(code):
    # A refused file goes back to a village clerk: the message must say what to do next ("请…").
    template = CATALOGUE[code].template
    assert has_cjk(template)
    assert "请" in template, f"{code}: {template}"


# ---------------------------------------------------------------------------------------------
# Size: empty, too big
# ---------------------------------------------------------------------------------------------


def test_empty_file_is_f001(qianfen):
    assert_refused(b"", "空文件.xlsx", "F001", qianfen)


def test_file_over_the_size_limit_is_f010_before_anything_is_parsed(qianfen):
    data = make_xlsx()
    result = assert_refused(data, "大文件.xlsx", "F010", qianfen, Limits(max_file_bytes=len(data) - 1))
    assert "上限" in result.problems[0].message


def test_file_over_the_default_size_limit_is_f010(qianfen):
    data = b"PK\x03\x04" + bytes(DEFAULT_LIMITS.max_file_bytes)
    assert_refused(data, "扫描件.xlsx", "F010", qianfen)


# ---------------------------------------------------------------------------------------------
# Zip bombs
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zeros_bomb() -> bytes:
    """A real xlsx plus a 50 MB member of zeros that compresses to ~50 KB (ratio ~1000:1)."""
    return rezip(make_xlsx(), add={"xl/media/image1.png": bytes(50 * MB)})


def test_zip_bomb_member_with_absurd_ratio_is_f003(qianfen, zeros_bomb):
    assert len(zeros_bomb) < 100 * 1024
    result = assert_refused(zeros_bomb, "炸弹.xlsx", "F003", qianfen)
    assert "压缩比" in result.problems[0].detail


def test_zip_bomb_over_total_unzipped_limit_is_f003(qianfen, zeros_bomb):
    limits = Limits(max_unzipped_bytes=8 * MB, max_ratio=1e9)  # ratio allowed: only the total may stop it
    result = assert_refused(zeros_bomb, "炸弹.xlsx", "F003", qianfen, limits)
    assert "解压后共" in result.problems[0].detail


def test_zip_bomb_inside_the_sheet_xml_is_f003(qianfen):
    padding = b" " * (20 * MB)
    data = rezip(
        make_xlsx(),
        change={"xl/worksheets/sheet1.xml": lambda b: b.replace(b"<sheetData>", b"<sheetData>" + padding)},
    )
    assert len(data) < 200 * 1024
    assert_refused(data, "月报.xlsx", "F003", qianfen)


@pytest.mark.parametrize(
    "limits, members", [(DEFAULT_LIMITS, DEFAULT_LIMITS.max_members + 1), (Limits(max_members=20), 40)]
)
def test_zip_with_too_many_members_is_f003(qianfen, limits, members):
    data = rezip(make_xlsx(), add={f"xl/media/m{i}.bin": b"" for i in range(members)})
    result = assert_refused(data, "很多部件.xlsx", "F003", qianfen, limits)
    assert "个部件" in result.problems[0].detail


@pytest.mark.parametrize("member", ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"])
def test_member_that_lies_about_its_size_is_refused(qianfen, member):
    # The declared size says 1 KB; the member really inflates to 8 MB. Neither zipfile nor calamine
    # hands out more than the header promised, so the file is refused either as a bomb (F003) or as
    # damaged (F008, "larger than its declared size"/CRC) — but never read, and never inflated.
    base = make_xlsx([["文字"]])
    padding = b" " * (8 * MB)
    data = rezip(base, change={member: lambda b: b.replace(b"?>", b"?>" + padding, 1)})
    liar = zip_declared_size(data, member, 1024)
    result = hostile_read(liar, "说谎.xlsx", qianfen, DEFAULT_LIMITS)
    codes = {p.code for p in result.problems}
    assert codes & {"F003", "F008"}, [(p.code, p.detail) for p in result.problems]
    assert not result.readable
    assert all(p.file == "说谎.xlsx" for p in result.problems)
    assert check_bytes(liar, "说谎.xlsx", qianfen).status == "退回"


# ---------------------------------------------------------------------------------------------
# XML entity attacks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "part, decl, use",
    [
        ("xl/workbook.xml", BILLION_LAUGHS, b""),
        ("xl/worksheets/sheet1.xml", BILLION_LAUGHS, b"&lol9;"),
        ("xl/workbook.xml", EXTERNAL_ENTITY, b""),
        ("xl/worksheets/sheet1.xml", EXTERNAL_ENTITY.replace(b"workbook", b"worksheet"), b"&xxe;"),
        ("[Content_Types].xml", EXTERNAL_ENTITY.replace(b"workbook", b"Types"), b""),
        ("xl/_rels/workbook.xml.rels", BILLION_LAUGHS, b""),
        ("docProps/core.xml", EXTERNAL_ENTITY, b""),
    ],
    ids=[
        "billion-laughs-workbook",
        "billion-laughs-sheet",
        "xxe-workbook",
        "xxe-sheet",
        "xxe-content-types",
        "laughs-rels",
        "xxe-docprops",
    ],
)
def test_xml_entity_declarations_are_f004(qianfen, part, decl, use):
    def edit(body: bytes) -> bytes:
        body = after_prolog(decl)(body)
        return body.replace(b"<v>17</v>", b"<v>" + use + b"</v>") if use else body

    data = rezip(make_xlsx(), change={part: edit})
    result = assert_refused(data, "实体.xlsx", "F004", qianfen)
    assert part in result.problems[0].detail


def test_doctype_hidden_behind_a_long_comment_is_f004(qianfen):
    # A DOCTYPE may follow any amount of comments; the scan must not stop looking after 4 KB.
    decl = b"<!--" + b"x" * 6000 + b'-->\n<!DOCTYPE workbook SYSTEM "file:///etc/passwd">'
    data = rezip(make_xlsx(), change={"xl/workbook.xml": after_prolog(decl)})
    assert_refused(data, "注释.xlsx", "F004", qianfen)


def test_entity_in_a_sheet_part_not_named_xml_is_f004(qianfen):
    # The workbook's relationships may point a sheet at any member name; calamine parses it as XML
    # all the same, so the entity scan has to cover it too.
    data = rezip(
        make_xlsx(),
        change={
            "xl/worksheets/sheet1.xml": lambda b: after_prolog(BILLION_LAUGHS)(b).replace(
                b"<v>17</v>", b"<v>&lol9;</v>"
            ),
            "xl/_rels/workbook.xml.rels": lambda b: b.replace(
                b"worksheets/sheet1.xml", b"worksheets/sheet1.dat"
            ),
            "[Content_Types].xml": lambda b: b.replace(
                b"/xl/worksheets/sheet1.xml", b"/xl/worksheets/sheet1.dat"
            ),
        },
        rename={"xl/worksheets/sheet1.xml": "xl/worksheets/sheet1.dat"},
    )
    assert_refused(data, "改名.xlsx", "F004", qianfen)


def test_utf16_part_with_entities_is_refused(qianfen):
    # OOXML parts may be UTF-16. Such a part hides its DOCTYPE from a byte scan; it must not be read.
    def utf16(body: bytes) -> bytes:
        text = (
            after_prolog(BILLION_LAUGHS)(body)
            .decode("utf-8")
            .replace('encoding="UTF-8"', 'encoding="UTF-16"')
        )
        return b"\xff\xfe" + text.encode("utf-16-le")

    data = rezip(make_xlsx(), change={"xl/workbook.xml": utf16})
    result = hostile_read(data, "utf16.xlsx", qianfen, DEFAULT_LIMITS)
    assert {p.code for p in result.problems} & {"F004", "F008"}, [(p.code, p.detail) for p in result.problems]
    assert not result.readable
    assert check_bytes(data, "utf16.xlsx", qianfen).status == "退回"


# ---------------------------------------------------------------------------------------------
# Encryption
# ---------------------------------------------------------------------------------------------


def test_password_protected_xlsx_is_f002(qianfen):
    msoffcrypto = pytest.importorskip("msoffcrypto", reason="msoffcrypto-tool encrypts a real workbook")
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(make_xlsx())).encrypt("123456", out)
    data = out.getvalue()
    assert data.startswith(b"\xd0\xcf\x11\xe0")
    # the encryption is real: msoffcrypto decrypts it back to a zip with the password
    back = io.BytesIO()
    f = msoffcrypto.OfficeFile(io.BytesIO(data))
    f.load_key(password="123456")
    f.decrypt(back)
    assert back.getvalue().startswith(b"PK")
    assert_refused(data, "加密.xlsx", "F002", qianfen)


def test_encrypted_package_ole_container_is_f002(qianfen):
    # Without msoffcrypto-tool: the same container Office writes, an OLE file with the two streams.
    data = ole_file(
        {
            "EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00" + bytes(64),
            "EncryptedPackage": os.urandom(6000),
        }
    )
    assert_refused(data, "加密.xlsx", "F002", qianfen)


@pytest.mark.parametrize("member", ["[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"])
def test_zip_with_a_password_is_f002(qianfen, member):
    # Zipped with a password by 7-Zip/WinRAR and renamed back: zipfile refuses to open the member
    # (RuntimeError "password required"), which must become a problem, not an exception.
    data = zip_encrypted_flag(make_xlsx(), member)
    assert_refused(data, "压缩密码.xlsx", "F002", qianfen)


# ---------------------------------------------------------------------------------------------
# Truncated, damaged
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.1])
def test_truncated_xlsx_is_f008(qianfen, keep):
    data = make_xlsx([[i, i * 3, f"第{i}行"] for i in range(200)])
    assert_refused(data[: int(len(data) * keep)], "断开.xlsx", "F008", qianfen)


def test_truncated_xls_is_f008(qianfen):
    whole = ole_file({"Workbook": biff_workbook_stream() + os.urandom(9000)})
    assert len(whole) > 10000
    assert_refused(whole[: len(whole) // 2], "断开.xls", "F008", qianfen)
    assert_refused(whole[:1000], "断开.xls", "F008", qianfen)


@pytest.mark.parametrize("member", ["[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"])
def test_unsupported_compression_method_is_f008(qianfen, member):
    data = zip_method(make_xlsx(), member, 9)  # Deflate64
    assert_refused(data, "压缩方式.xlsx", "F008", qianfen)


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b + b"<trailing",  # junk after the root element
        lambda b: b.replace(b"<sheet ", b'<sheet name="x" ', 1),  # duplicate attribute
        lambda b: b.replace(b"<sheets>", b"<sheets><zz:bar/>"),  # undeclared prefix
        lambda b: b.replace(b"</sheets>", b"</sheetz>"),  # mismatched tag
    ],
    ids=["trailing-junk", "duplicate-attribute", "unbound-prefix", "mismatched-tag"],
)
def test_malformed_workbook_xml_is_f008(qianfen, edit):
    data = rezip(make_xlsx(), change={"xl/workbook.xml": edit})
    assert_refused(data, "坏结构.xlsx", "F008", qianfen)


def damage_member(data: bytes, member: str, how: str) -> bytes:
    """Corrupt one member's stored bytes, as a broken download or a bad USB stick does.

    ``crc``: the member stored uncompressed with one byte changed (inflates fine, fails its CRC);
    ``deflate``: the first byte of its deflate stream made an invalid block type (zlib refuses it).
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            method = zipfile.ZIP_STORED if (info.filename == member and how == "crc") else zipfile.ZIP_DEFLATED
            zout.writestr(info.filename, zin.read(info), compress_type=method)
    buf = bytearray(out.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(buf))) as zf:
        info = zf.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode("utf-8")) + len(info.extra)
    if how == "crc":
        buf[start + info.compress_size // 2] ^= 0x01
    else:
        buf[start] = 0x07  # BFINAL=1, BTYPE=11: "invalid block type"
    return bytes(buf)


@pytest.mark.parametrize("how", ["crc", "deflate"])
@pytest.mark.parametrize("member", ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "docProps/app.xml", "xl/media/image1.png"])
def test_damaged_member_is_f008_not_a_program_error(qianfen, member, how):
    # zipfile raises zlib.error (not BadZipFile) for a broken deflate stream: once reported as F013
    # "程序出错", it is 损坏 like any other damaged part — pictures included (checked, never parsed).
    base = rezip(make_xlsx([["文字", 1]]), add={"xl/media/image1.png": png_image() * 40}) if "media" in member else make_xlsx([["文字", 1]])
    data = damage_member(base, member, how)
    result = assert_refused(data, "损坏.xlsx", "F008", qianfen)
    f008 = next(p for p in result.problems if p.code == "F008")
    assert member in f008.detail
    assert ("CRC" in f008.detail) if how == "crc" else ("压缩数据已损坏" in f008.detail)
    assert "F013" not in [p.code for p in check_bytes(data, "损坏.xlsx", qianfen).problems]


# ---------------------------------------------------------------------------------------------
# Files in disguise
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, name",
    [
        (HTML_EXPORT.encode("utf-8"), "网页导出.xls"),
        (HTML_EXPORT.encode("gbk"), "网页导出.xls"),
        (b"\xef\xbb\xbf" + HTML_EXPORT.encode("utf-8"), "网页导出.xlsx"),
        (b"\r\n\r\n<table><tr><td>1</td></tr></table>", "表格.xls"),
        (b"\xff\xfe" + HTML_EXPORT.encode("utf-16-le"), "网页导出.xls"),
        (EXCEL_2003_XML.encode("utf-8"), "xml表格.xls"),
        (
            b"\xff\xfe"
            + EXCEL_2003_XML.replace('?xml version="1.0"?', '?xml version="1.0" encoding="UTF-16"?').encode(
                "utf-16-le"
            ),
            "xml表格.xml",
        ),
    ],
    ids=[
        "html-utf8",
        "html-gbk",
        "html-bom",
        "bare-table",
        "html-utf16",
        "excel2003-xml",
        "excel2003-xml-utf16",
    ],
)
def test_web_page_and_2003_xml_with_excel_names_are_f006(qianfen, data, name):
    assert_refused(data, name, "F006", qianfen)


@pytest.mark.parametrize(
    "data",
    [
        CSV_ROWS[:200].encode("utf-8"),
        CSV_ROWS[:200].encode("gbk"),
        cut_inside_a_character(CSV_ROWS, "utf-8"),  # longer than 4 KB, and 4 KB ends inside a character
        cut_inside_a_character(CSV_ROWS, "gbk"),
        "\ufeff".encode() + CSV_ROWS.encode("utf-8"),
        b"\xff\xfe" + CSV_ROWS.replace(",", "\t").encode("utf-16-le"),  # Excel's "Unicode 文本"
    ],
    ids=["utf8-short", "gbk-short", "utf8-long", "gbk-long", "utf8-bom", "utf16-tabs"],
)
def test_csv_and_text_renamed_to_xlsx_are_f007(qianfen, data):
    assert_refused(data, "村报表.xlsx", "F007", qianfen)


@pytest.mark.parametrize(
    "data",
    [b"", ole_file({"Workbook": biff_workbook_stream()}), make_xlsx(), b"anything at all"],
    ids=["empty-et-is-still-empty", "ole-et", "zip-et", "junk-et"],
)
@pytest.mark.parametrize("name", ["村报表.et", "村报表.ET", "模板.ett"])
def test_wps_et_file_is_f005(qianfen, data, name):
    assert_refused(data, name, "F001" if not data else "F005", qianfen)


@pytest.mark.parametrize(
    "data, hint",
    [
        (pdf_document(), "PDF"),
        (png_image(), "图片"),
        (jpeg_image(), "图片"),
        (docx_document(), "Word"),
        (rezip(make_xlsx(), rename={"[Content_Types].xml": "junk.xml"}), "压缩包"),
        (rezip(docx_document(), add={"village.xlsx": make_xlsx()}), "Word"),
        (bytes(range(7, 256)) * 20 + bytes(range(7)), ""),
    ],
    ids=["pdf", "png", "jpeg", "docx", "zip-without-content-types", "docx-holding-xlsx", "random-bytes"],
)
def test_other_documents_renamed_to_xlsx_are_f009(qianfen, data, hint):
    result = assert_refused(data, "村报表.xlsx", "F009", qianfen)
    assert hint in result.problems[0].message


def _odf(mimetype: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", b"<office:document-content/>")
    return out.getvalue()


FLAT_ODS = (b'<?xml version="1.0" encoding="UTF-8"?>\n<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
            b' office:mimetype="application/vnd.oasis.opendocument.spreadsheet"><office:body><office:spreadsheet/></office:body></office:document>')


@pytest.mark.parametrize("data,name,said", [
    (_odf(b"application/vnd.oasis.opendocument.spreadsheet-template"), "村报表.ots", "电子表格模板（.ots）"),
    (_odf(b"application/vnd.oasis.opendocument.text"), "村报表.odt", "文字文档（.odt）"),
    (FLAT_ODS, "村报表.fods", "平面 XML 电子表格"),
])
def test_other_libreoffice_files_are_named_as_the_clerk_saved_them(qianfen, data, name, said):
    """An .ots or .fods was refused quoting a MIME type ("application/vnd.oasis.opendocument.spreadsheet-template")
    or as an "XML 文件": the clerk is told which kind of file it is."""
    result = assert_refused(data, name, "F009", qianfen)
    assert said in result.problems[0].message and "application/" not in result.problems[0].message


def test_zip_archive_of_reports_is_f009(qianfen):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("一村.xlsx", make_xlsx())
        zf.writestr("二村.xlsx", make_xlsx())
    assert_refused(out.getvalue(), "全部村.xlsx", "F009", qianfen)


# ---------------------------------------------------------------------------------------------
# Too many rows: stop early, say so
# ---------------------------------------------------------------------------------------------


def test_huge_sheet_is_f011_and_read_is_bounded(qianfen):
    data = make_xlsx([[i, i * 2, "填报说明"] for i in range(6000)])
    limits = Limits(max_rows=200)
    result = assert_refused(data, "超长.xlsx", "F011", qianfen, limits)
    from pipeline.workbook.reader import _Book

    sniffed = sniff(data, "超长.xlsx", limits)
    assert _Book(data, sniffed.format, limits, sniffed.parts).sheet("Sheet1").rows == []  # never handed to the reader
    f011 = next(p for p in result.problems if p.code == "F011")
    assert f011.sheet == "Sheet1"
    assert f011.detail.startswith("6000 行")
    assert "6000" in f011.message and "Sheet1" in f011.message


def test_huge_ods_with_repeated_rows_is_f011(qianfen):
    cell = (
        '<table:table-cell office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell>'
    )
    data = ods_workbook(
        f'<table:table table:name="表1"><table:table-row table:number-rows-repeated="1048576">{cell}</table:table-row></table:table>'
    )
    assert [p.code for p in sniff(data, "a.ods").problems] == ["F011"]  # counted before calamine expands it
    assert_refused(data, "重复行.ods", "F011", qianfen)


_FAR_CELL_CHILD = textwrap.dedent(
    """
    import resource, sys
    from pipeline.programme.config import load_programme
    from pipeline.workbook.reader import read_report
    programme = load_programme("qianfen")
    data = sys.stdin.buffer.read()
    cap = 1024 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    result = read_report(data, "稀疏.xlsx", programme)
    print(" ".join(f"{p.code}:{p.file}" for p in result.problems))
    """
)


def _as_binary_named_part(data: bytes) -> bytes:
    """The sheet stored under a name the safety scan treats as binary (…/sheet1.bin), rels pointing at it."""
    point = {m: (lambda b: b.replace(b"worksheets/sheet1.xml", b"worksheets/sheet1.bin"))
             for m in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml")}
    return rezip(data, change=point, rename={"xl/worksheets/sheet1.xml": "xl/worksheets/sheet1.bin"})


# How a far cell may be spelled: any attribute order, either quote, spaces around "=", a prefix,
# or no r at all (the position implied by the row and by the cells before it).
FAR_SPELLINGS = {
    "double": '<row r="{row}"><c r="{far}"><v>9</v></c></row>',
    "single-quotes-other-order": "<row r='{row}'><c t='n' r='{far}'><v>9</v></c></row>",
    "spaces-around-equals": '<row r = "{row}"><c s="0"  r = "{far}" ><v>9</v></c></row>',
    "prefixed": '<x:row r="{row}"><x:c r="{far}"><x:v>9</x:v></x:c></x:row>',
    "implied-column": '<row r="{row}">{fill}<c><v>9</v></c></row>',
}


def far_cell_sheet(far: str, spelling: str) -> bytes:
    row = far.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    letters = far[: -len(row)]
    fill = ""
    if spelling == "implied-column":  # r left out: the last cell sits right of the one before it
        col = 0
        for ch in letters:
            col = col * 26 + ord(ch) - 64
        before = col - 1
        name = ""
        while before:
            before, rem = divmod(before - 1, 26)
            name = chr(65 + rem) + name
        fill = f'<c r="{name}{row}"><v>1</v></c>'
    cell = FAR_SPELLINGS[spelling].format(row=row, far=far, fill=fill).encode()
    ns = b' xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    return rezip(make_xlsx(), change={"xl/worksheets/sheet1.xml": lambda b: b.replace(b"</sheetData>", cell + b"</sheetData>")
                                      .replace(b"<worksheet ", b"<worksheet" + ns + b" ", 1)})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space limit via RLIMIT_AS")
@pytest.mark.parametrize("spelling", list(FAR_SPELLINGS))
@pytest.mark.parametrize("binary_name", [False, True], ids=["sheet1.xml", "sheet-named-bin"])
@pytest.mark.parametrize("far", ["XFD1048576", "ZZ1048576", "XFD20001"])
def test_tiny_xlsx_with_a_far_away_cell_does_not_eat_memory(far, binary_name, spelling):
    # Two cells, A1 and a far corner: under 10 KB on disk, but a dense grid of ~17 billion cells.
    # Reading must stop with F011 without allocating that grid; run in a child process under a
    # 1 GiB address-space cap so that a failure cannot take the test run down with it.
    # (A sheet stored under a binary-looking name is not among the parts the safety scan inflated:
    # the extent must still be read from it.) A byte pattern expecting r="…" first was bypassed by
    # <c t='n' r='XFD1048576'>: the reader then asked for 512 GiB and the process aborted (exit 134).
    data = far_cell_sheet(far, spelling)
    if binary_name:
        data = _as_binary_named_part(data)
    assert len(data) < 10 * 1024
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [sys.executable, "-c", _FAR_CELL_CHILD],
        input=data,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, (
        f"reader died (rc {proc.returncode}): {proc.stderr.decode(errors='replace')[:300]}"
    )
    assert "F011:稀疏.xlsx" in proc.stdout.decode("utf-8").split(), proc.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space limit via RLIMIT_AS")
def test_a_far_away_cell_in_a_strict_open_xml_file_does_not_eat_memory():
    """Excel's "Strict Open XML Spreadsheet" names the same parts in other namespaces: the extent check knew
    only the transitional ones, and the reader asked for 512 GiB (the worker aborted, its message on the console)."""
    from .test_normalise import _as_strict

    data = _as_strict(far_cell_sheet("XFD1048576", "double"))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert b"purl.oclc.org/ooxml/spreadsheetml/main" in zf.read("xl/workbook.xml")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, "-c", _FAR_CELL_CHILD], input=data, capture_output=True, cwd=ROOT, env=env, timeout=60)
    assert proc.returncode == 0, f"reader died (rc {proc.returncode}): {proc.stderr.decode(errors='replace')[:300]}"
    assert "F011:稀疏.xlsx" in proc.stdout.decode("utf-8").split(), proc.stdout


def test_a_declared_dimension_is_not_trusted(ctx):
    # Some producers declare the whole sheet (A1:XFD1048576) whatever it holds: the file is read by
    # its cells, accepted, and its village identified — not refused as 表格过大.
    data = rezip(filled(ctx, 0), change={
        m: (lambda b: re.sub(rb"<dimension ref=\"[^\"]*\"\s*/>", b'<dimension ref="A1:XFD1048576"/>', b))
        for m in zipfile.ZipFile(io.BytesIO(filled(ctx, 0))).namelist() if m.startswith("xl/worksheets/")
    })
    assert data.count(b"XFD1048576") == 0  # compressed; look inside
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sum(b"A1:XFD1048576" in zf.read(m) for m in zf.namelist() if m.startswith("xl/worksheets/")) >= 2
    check = check_bytes(data, "整表范围.xlsx", ctx.programme, ctx.registry, ctx.secret)
    assert check.status == "已接收", [(p.code, p.message) for p in check.problems]
    assert check.identity.village == ctx.registry.villages[0]
    assert "F011" not in [p.code for p in check.problems]


def test_sheet_xml_that_is_not_well_formed_is_f008(qianfen):
    data = rezip(make_xlsx(), change={"xl/worksheets/sheet1.xml": lambda b: b.replace(b"</sheetData>", b"<row r='2'><c r='A2'></row></sheetData>")})
    result = hostile_read(data, "坏表.xlsx", qianfen, DEFAULT_LIMITS)
    f008 = [p for p in result.problems if p.code == "F008"]
    assert f008 and "xl/worksheets/sheet1.xml" in f008[0].detail and "XML" in f008[0].detail


def test_cell_flags_follow_the_cells_not_the_bytes():
    from pipeline.workbook.xlsx_parts import cell_flags

    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main"><dimension ref="A1:XFD1048576"/><sheetData>'
        "<row r='3'><c t='e' r='B3'><v>#DIV/0!</v></c><c><f>1+1</f><v>2</v></c></row>"
        '<row><c r="A4" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'
        "</sheetData><extLst><ext><x14:dataValidations xmlns:x14='urn:x14'><x14:dataValidation>"
        "<x14:formula1><xm:f>名单!$A$1:$A$9</xm:f></x14:formula1></x14:dataValidation></x14:dataValidations></ext></extLst>"
        "</worksheet>"
    ).encode()
    flags = cell_flags({"s.xml": sheet}, "s.xml")
    assert (flags.max_row, flags.max_col) == (4, 3)  # the cells', not the declared dimension's
    assert flags.errors == {(2, 1): "#DIV/0!", (3, 0): "#DIV/0!"}
    assert flags.formulas == {(2, 2), (3, 0)}  # C3 (position implied) and A4; not the validation's <xm:f>


# ---------------------------------------------------------------------------------------------
# Not hostile, just not ours: read, and say the right thing
# ---------------------------------------------------------------------------------------------


def test_macro_enabled_workbook_is_read_with_f012_warning(ctx):
    vba = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024)  # never run, never even opened
    data = rezip(
        filled(ctx, 0),
        change={
            "[Content_Types].xml": lambda b: b.replace(
                b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
            ).replace(
                b"<Default ",
                b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default ',
                1,
            ),
        },
        add={"xl/vbaProject.bin": vba},
    )
    assert b"macroEnabled" in zipfile.ZipFile(io.BytesIO(data)).read("[Content_Types].xml")
    name = "宏.xlsm"
    sniffed = sniff(data, name)
    assert sniffed.ok and sniffed.format == "xlsm"
    assert [p.code for p in sniffed.problems] == ["F012"]

    result = hostile_read(data, name, ctx.programme, DEFAULT_LIMITS)
    assert result.format == "xlsm"
    assert result.readable
    assert result.values, "the cell values must still be read"
    f012 = [p for p in result.problems if p.code == "F012"]
    assert len(f012) == 1 and f012[0].file == name and f012[0].severity is Severity.WARNING
    assert "宏" in f012[0].message

    check = check_bytes(data, name, ctx.programme, ctx.registry, ctx.secret)
    assert check.status != "退回", [p.message for p in check.errors]
    assert "F012" in [p.code for p in check.warnings]


def test_ordinary_workbook_that_is_not_our_template_is_s001(qianfen):
    data = make_xlsx([[3, 1.5, 900], [41, 7, 2.25], [0, 12, 5]], sheet="Sheet1")
    result = assert_refused(data, "随便一个表.xlsx", "S001", qianfen)
    assert result.format == "xlsx"
    s001 = next(p for p in result.problems if p.code == "S001")
    assert qianfen.sheet in s001.message


def test_sniff_trusts_content_not_name(qianfen):
    data = make_xlsx()
    for name in ("报表.xls", "报表.ods", "报表", "报表.txt"):
        assert sniff(data, name).format == "xlsx"
    assert sniff(ole_file({"Workbook": biff_workbook_stream()}), "报表.xlsx").format == "xls"


@pytest.mark.parametrize("spelling", [b"<f>", b"<f\n>", b"<f\t t=\"normal\">", b"<x:f>"], ids=["plain", "newline", "tab", "prefixed"])
@pytest.mark.parametrize("binary_name", [False, True], ids=["sheet1.xml", "sheet-named-bin"])
def test_formula_cells_are_found_however_the_tag_is_written(spelling, binary_name):
    """A cell holding a formula is flagged (V008/V009 depend on it) whatever whitespace or prefix its tag has."""
    from pipeline.workbook.reader import _Book

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("S")
    ws.write(0, 0, "h")
    ws.write_formula(1, 0, "=1+1", None, 2)
    wb.close()
    close = b"</x:f>" if spelling.startswith(b"<x:") else b"</f>"
    ns = b' xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    data = rezip(buf.getvalue(), change={"xl/worksheets/sheet1.xml": lambda b: b.replace(b"<f>", spelling).replace(b"</f>", close)
                                         .replace(b"<worksheet ", b"<worksheet" + ns + b" ", 1)})
    if binary_name:
        data = _as_binary_named_part(data)
    sniffed = sniff(data, "公式.xlsx")
    assert sniffed.ok
    sheet = _Book(data, sniffed.format, DEFAULT_LIMITS, sniffed.parts).sheet("S")
    assert sheet.flags.formulas == {(1, 0)}
    assert sheet.rows[1][0] == 2
