"""Look at a file's bytes before any spreadsheet library does.

No spreadsheet reader guards against zip bombs, XML entity tricks or files in disguise, so every
file passes here first: its real format is sniffed from its content (never trusted from its
name), zip containers are measured before anything is decompressed for parsing, and every XML
part is scanned for DOCTYPE/ENTITY declarations. The result is a format name or problems.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..problems import Problem
from .ods_parts import ods_cells
from .xlsx_parts import CellFlags

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 20 * 1024 * 1024
    max_unzipped_bytes: int = 100 * 1024 * 1024
    max_ratio: float = 200.0  # per member, for members over ratio_floor
    ratio_floor: int = 1024 * 1024
    max_members: int = 2000
    max_rows: int = 20000
    max_cells: int = 2_000_000  # rows × columns of the used range

    def exceeded(self, rows: int, cols: int) -> bool:
        """Is a sheet this many rows and columns (up to its last cell with a value) too long to read?"""
        return rows > self.max_rows or rows * cols > self.max_cells


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Sniffed:
    format: str  # xlsx, xlsm, xls, ods
    problems: tuple[Problem, ...] = ()
    # a zip package's text parts as decompressed (and scanned) here: readers use them rather than inflating them again
    parts: Mapping[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    # an .ods's tables as its content.xml describes them (formula, error and percentage cells, extent)
    sheets: Mapping[str, CellFlags] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return not any(p.is_error for p in self.problems)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def sniff(data: bytes, name: str = "", limits: Limits = DEFAULT_LIMITS) -> Sniffed:
    """Decide what ``data`` really is and whether it is safe to hand to a reader."""

    def fail(code: str, detail: str = "") -> Sniffed:
        return Sniffed("", (Problem(code, file=name, detail=detail),))

    lower = name.lower()
    if not data:
        return fail("F001")
    if len(data) > limits.max_file_bytes:
        return fail("F010", f"{_mb(len(data))}，上限 {_mb(limits.max_file_bytes)}")
    if lower.endswith((".et", ".ett")):
        return fail("F005")
    if data.startswith(OLE_MAGIC):
        return _sniff_ole(data, name)
    if data.startswith(ZIP_MAGIC) or data[:4] in (b"PK\x05\x06", b"PK\x07\x08"):
        return _sniff_zip(data, name, limits)
    if data[:3] == b"\xff\xd8\xff" or data.startswith(b"\x89PNG") or data[:6] in (b"GIF87a", b"GIF89a"):
        return fail("F009", "图片")
    if data.startswith(b"%PDF"):
        return fail("F009", "PDF 文件")
    text = _as_text(data[:8192])
    if text is None:
        if lower.endswith((".xlsx", ".xlsm", ".ods", ".zip")) and data[:2] == b"PK":
            return fail("F008", "压缩包结构不完整")
        return fail("F009", "既不是 Excel 也不是 WPS/ODS 工作簿")
    head = text[:2048].lstrip("\ufeff \t\r\n").lower()
    if head.startswith(("<!doctype html", "<html", "<table", "<meta", "mime-version")) or "<html" in head[:512]:
        return fail("F006")
    if head.startswith("<?xml"):
        if "urn:schemas-microsoft-com:office:spreadsheet" in text:
            return fail("F006")  # Excel 2003 XML "spreadsheet": a web-era format, not a workbook
        if "urn:oasis:names:tc:opendocument:xmlns:office" in text:
            return fail("F009", "LibreOffice/WPS 的“平面 XML 电子表格”（.fods）")
        return fail("F009", "XML 文件")
    return fail("F007")


# ODF packages that are not a spreadsheet to read: named as the clerk saved them, never by their MIME type
_ODF_KINDS = {
    b"application/vnd.oasis.opendocument.spreadsheet-template": "LibreOffice/WPS 的电子表格模板（.ots）",
    b"application/vnd.oasis.opendocument.text": "文字文档（.odt）",
    b"application/vnd.oasis.opendocument.presentation": "演示文稿（.odp）",
}


def _as_text(chunk: bytes) -> str | None:
    """The chunk as text if it is text (UTF-16 with a BOM, UTF-8 or GB18030), else None.

    Incremental decoders, because the chunk may end in the middle of a character.
    """
    if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in chunk:
        return None
    else:
        encodings = ("utf-8-sig", "gb18030")
    for enc in encodings:
        try:
            return codecs.getincrementaldecoder(enc)().decode(chunk, final=False)
        except UnicodeDecodeError:
            continue
    return None


def _sniff_ole(data: bytes, name: str) -> Sniffed:
    # An OLE container is a legacy .xls, a WPS .et, or an encrypted OOXML/ODF package (Office puts
    # password-protected .xlsx files into an OLE file with EncryptionInfo/EncryptedPackage streams).
    window = data[: 1024 * 1024]
    if "EncryptedPackage".encode("utf-16-le") in window or "EncryptionInfo".encode("utf-16-le") in window:
        return Sniffed("", (Problem("F002", file=name),))
    if len(data) < 512 * 3:
        return Sniffed("", (Problem("F008", file=name, detail="OLE 文件被截断"),))
    return Sniffed("xls")


def _sniff_zip(data: bytes, name: str, limits: Limits) -> Sniffed:
    def fail(code: str, detail: str = "") -> Sniffed:
        return Sniffed("", (Problem(code, file=name, detail=detail),))

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return fail("F008", f"压缩包无法打开：{type(exc).__name__}")
    if len(infos) > limits.max_members:
        return fail("F003", f"包含 {len(infos)} 个部件")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            return fail("F003", f"部件 {info.filename} 压缩比 {info.file_size / max(info.compress_size, 1):.0f}:1")
    if total > limits.max_unzipped_bytes:
        return fail("F003", f"解压后共 {_mb(total)}，上限 {_mb(limits.max_unzipped_bytes)}")
    names = {i.filename for i in infos}
    if "EncryptionInfo" in names or "EncryptedPackage" in names or any(i.flag_bits & 0x1 for i in infos):
        return fail("F002")
    fmt = ""
    if "[Content_Types].xml" in names:
        try:
            ctypes = _read_member(zf, "[Content_Types].xml", limits)
        except _Bomb as exc:
            return fail("F003", str(exc))
        except _UNREADABLE as exc:
            return fail("F008", damaged_part("[Content_Types].xml", exc))
        if b"macroEnabled" in ctypes:
            fmt = "xlsm"
        elif b"spreadsheetml" in ctypes:
            fmt = "xlsx"
        elif b"wordprocessingml" in ctypes:
            return fail("F009", "Word 文档")
        elif b"presentationml" in ctypes:
            return fail("F009", "PowerPoint 文档")
    elif "mimetype" in names:
        try:
            mt = _read_member(zf, "mimetype", limits).strip()
        except _Bomb as exc:
            return fail("F003", str(exc))
        except _UNREADABLE as exc:
            return fail("F008", damaged_part("mimetype", exc))
        if mt == b"application/vnd.oasis.opendocument.spreadsheet":
            fmt = "ods"
            manifest = _safe_read(zf, "META-INF/manifest.xml", limits)
            if manifest is not None and b"encryption-data" in manifest:
                return fail("F002")
        else:
            return fail("F009", _ODF_KINDS.get(mt, "其他 ODF 文档（不是电子表格）"))
    if not fmt:
        return fail("F009", "压缩包（不是 Excel 工作簿）")
    problems: list[Problem] = []
    parts: dict[str, bytes] = {}
    for info in infos:
        if info.is_dir():
            continue
        binary = info.filename.lower().endswith(_BINARY_PARTS)
        try:
            body = _read_member(zf, info.filename, limits, keep=not binary)
        except _Bomb as exc:
            return fail("F003", str(exc))
        except _UNREADABLE as exc:
            return fail("F008", damaged_part(info.filename, exc))
        if binary:  # inflated only to check its CRC: a damaged picture is a damaged file, found here
            continue
        if declares_entities(body):
            return fail("F004", f"部件 {info.filename}")
        parts[info.filename] = body
    sheets: dict[str, CellFlags] = {}
    if fmt == "ods":  # calamine expands an .ods whole when it opens it: its extent is checked first, as an .xlsx sheet's is
        sheets = ods_cells(parts.get("content.xml", b""), limits.exceeded) or {}
        for sheet, found in sheets.items():
            rows, cols = found.max_row, found.max_col
            if limits.exceeded(rows, cols):
                return Sniffed("", (Problem("F011", file=name, sheet=sheet, detail=f"{rows} 行 × {cols} 列"),))
    if fmt == "xlsm":
        problems.append(Problem("F012", file=name))
    return Sniffed(fmt, tuple(problems), parts, sheets)


class _Bomb(Exception):
    pass


# zlib.error: a deflate stream with flipped bits, which zipfile does not wrap in BadZipFile
_UNREADABLE = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError, KeyError)


def damaged_part(member: str, exc: BaseException) -> str:
    """Why a zip member cannot be inflated, in the clerk's words (the detail of F008)."""
    text = str(exc)
    if "CRC" in text:
        why = "数据校验失败（CRC 错误）"
    elif isinstance(exc, zlib.error) or "decompress" in text.lower():
        why = "压缩数据已损坏"
    elif isinstance(exc, (EOFError, zipfile.BadZipFile)):
        why = "数据不完整"
    elif isinstance(exc, NotImplementedError):
        why = "使用了无法识别的压缩方式"
    else:
        why = f"无法解压（{type(exc).__name__}）"
    return f"部件 {member} {why}"
_BINARY_PARTS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".emf", ".wmf", ".bin", ".tif", ".tiff")
_DECL = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
_DECL16 = [("<!" + w).encode(enc) for w in ("DOCTYPE", "ENTITY", "doctype", "entity") for enc in ("utf-16-le", "utf-16-be")]


def declares_entities(body: bytes) -> bool:
    """Any DOCTYPE or ENTITY declaration anywhere in a part (UTF-8 or UTF-16), wherever it hides."""
    return bool(_DECL.search(body)) or any(pattern in body for pattern in _DECL16)


def _read_member(zf: zipfile.ZipFile, member: str, limits: Limits, keep: bool = True) -> bytes:
    """Read one member, stopping as soon as it grows past what its header promised or the cap.

    ``keep=False``: inflate only to check it (zipfile verifies the CRC at the end), keep nothing.
    """
    info = zf.getinfo(member)
    cap = min(limits.max_unzipped_bytes, max(info.file_size, 0) + 1)
    out = bytearray()
    seen = 0
    with zf.open(info) as fh:
        while chunk := fh.read(65536):
            seen += len(chunk)
            if keep:
                out += chunk
            if seen > cap:
                raise _Bomb(f"部件 {member} 实际解压大小超过声明")
    return bytes(out)


def _safe_read(zf: zipfile.ZipFile, member: str, limits: Limits) -> bytes | None:
    try:
        return _read_member(zf, member, limits)
    except (_Bomb, *_UNREADABLE):
        return None
