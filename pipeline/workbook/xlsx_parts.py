"""What python-calamine does not tell: defined names, and which cells hold formulas or errors.

Only for OOXML packages (.xlsx/.xlsm), whose parts have already been checked by ``safety``.
XML is parsed with defusedxml; the per-cell scan is a byte-level pass over one sheet's XML.
Both take the package's bytes, or the parts ``safety.sniff`` already decompressed (then the
package is not opened again).
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from defusedxml import ElementTree as SafeET

from .layout import parse_a1

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


@dataclass(frozen=True)
class NameTarget:
    sheet: str
    first: tuple[int, int]  # 0-based (row, col)
    last: tuple[int, int]


@dataclass
class CellFlags:
    formulas: set[tuple[int, int]] = field(default_factory=set)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    max_row: int = 0  # 1-based extent of the cells and of the declared dimension
    max_col: int = 0


@dataclass
class OoxmlInfo:
    names: dict[str, NameTarget] = field(default_factory=dict)
    sheet_parts: dict[str, str] = field(default_factory=dict)  # sheet name → zip member
    flags: dict[str, CellFlags] = field(default_factory=dict)  # filled lazily per sheet


_REF_RE = re.compile(r"^=?(?:'((?:[^']|'')+)'|([^'!]+))!(\$?[A-Z]{1,3}\$?\d+)(?::(\$?[A-Z]{1,3}\$?\d+))?$")


def parse_name_ref(text: str) -> NameTarget | None:
    m = _REF_RE.match(text.strip())
    if not m:
        return None
    sheet = (m.group(1) or "").replace("''", "'") or m.group(2)
    first = parse_a1(m.group(3))
    last = parse_a1(m.group(4)) if m.group(4) else first
    return NameTarget(sheet, first, last)


Package = bytes | Mapping[str, bytes]  # a zip file's bytes, or its parts already decompressed


class Inflated(Mapping[str, bytes]):
    """A package's parts: those the safety scan already inflated, any other read from the zip when asked for.

    (The scan skips parts named like images or binaries; a workbook may still point a sheet at one.)
    """

    def __init__(self, data: bytes, parts: Mapping[str, bytes]):
        self.data = data
        self.parts = dict(parts)

    def __getitem__(self, member: str) -> bytes:
        if member not in self.parts:
            with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
                self.parts[member] = zf.read(member)  # KeyError when the package has no such part
        return self.parts[member]

    def __iter__(self) -> Iterator[str]:
        return iter(self.parts)

    def __len__(self) -> int:
        return len(self.parts)


def _part(package: Package, member: str) -> bytes | None:
    return (package if isinstance(package, Mapping) else Inflated(package, {})).get(member)


def read_ooxml_info(package: Package) -> OoxmlInfo:
    info = OoxmlInfo()
    wb_xml = _part(package, "xl/workbook.xml")
    if wb_xml is None:
        return info
    root = SafeET.fromstring(wb_xml)
    rels: dict[str, str] = {}
    rels_xml = _part(package, "xl/_rels/workbook.xml.rels")
    if rels_xml is not None:
        for rel in SafeET.fromstring(rels_xml).iter(f"{_NS_PKG_REL}Relationship"):
            target = rel.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
            rels[rel.get("Id", "")] = path
    for sheet in root.iter(f"{_NS_MAIN}sheet"):
        rid = sheet.get(f"{_NS_REL}id", "")
        if rid in rels:
            info.sheet_parts[sheet.get("name", "")] = rels[rid]
    for dn in root.iter(f"{_NS_MAIN}definedName"):
        name = dn.get("name", "")
        if name.startswith("_xlnm.") or dn.get("localSheetId") is not None:
            continue
        target = parse_name_ref(dn.text or "")
        if target is not None:
            info.names[name] = target
    return info


_CELL_RE = re.compile(rb'<(?:\w+:)?c r="([A-Z]{1,3}[0-9]+)"([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)', re.S)
_DIM_RE = re.compile(rb'<(?:\w+:)?dimension ref="([A-Z0-9:$]+)"')
_ROW_RE = re.compile(rb'<(?:\w+:)?row r="([0-9]+)"')
_COL_RE = re.compile(rb'<(?:\w+:)?c r="([A-Z]{1,3})[0-9]+"')
_CELL_ROW_RE = re.compile(rb'<(?:\w+:)?c r="[A-Z]{1,3}([0-9]+)"')
_FORMULA_RE = re.compile(rb"<(?:\w+:)?f[\s>/]")  # a cell's <f>, not <formula1> of a data validation
_ERR_V_RE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")


def cell_flags(package: Package, part: str) -> CellFlags:
    """Cells of one sheet that hold a formula or an error value (#DIV/0!), and the sheet's extent.

    The extent is known before python-calamine builds its grid, which it sizes by the furthest
    cell: two cells, A1 and XFD1048576, would otherwise ask for half a terabyte.
    """
    flags = CellFlags()
    xml = _part(package, part)
    if xml is None:
        return flags
    dim = _DIM_RE.search(xml)
    if dim:
        for ref in dim.group(1).split(b":"):
            try:
                r, c = parse_a1(ref.decode("ascii"))
            except ValueError:
                continue
            flags.max_row, flags.max_col = max(flags.max_row, r + 1), max(flags.max_col, c + 1)
    # the furthest row and column actually used (regex scans at C speed; no per-cell Python work)
    rows = _ROW_RE.findall(xml)
    if rows:
        flags.max_row = max(flags.max_row, max(int(r) for r in rows))
    cols = set(_COL_RE.findall(xml))
    if cols:
        widest = max(cols, key=lambda c: (len(c), c))
        flags.max_col = max(flags.max_col, parse_a1(widest.decode("ascii") + "1")[1] + 1)
        flags.max_row = max(flags.max_row, max((int(r) for r in _CELL_ROW_RE.findall(xml[-4096:])), default=0))
    if not _FORMULA_RE.search(xml) and b't="e"' not in xml:  # no formula, no error value anywhere
        return flags
    for m in _CELL_RE.finditer(xml):
        attrs, inner = m.group(2), m.group(3) or b""
        formula = _FORMULA_RE.search(inner) is not None  # <f>, <f t="shared" …>, <x:f>
        if not formula and b't="e"' not in attrs:
            continue
        pos = parse_a1(m.group(1).decode("ascii"))
        if formula:
            flags.formulas.add(pos)
        if b't="e"' in attrs:
            v = _ERR_V_RE.search(inner)
            flags.errors[pos] = v.group(1).decode("utf-8", "replace") if v else "#错误"
    return flags
