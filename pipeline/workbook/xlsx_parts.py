"""What python-calamine does not tell: defined names, and which cells hold formulas or errors.

Only for OOXML packages (.xlsx/.xlsm), whose parts have already been checked by ``safety``.
XML is parsed with defusedxml; a sheet's cells are scanned by expat (positions, formulas, error values).
Both take the package's bytes, or the parts ``safety.sniff`` already decompressed (then the
package is not opened again).
"""

from __future__ import annotations

import functools
import io
import posixpath
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET
from xml.parsers import expat

from defusedxml import ElementTree as SafeET

from .layout import parse_a1

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
# Excel's "Strict Open XML Spreadsheet" writes the same elements under other names (ISO/IEC 29500 strict):
# read with the transitional names only, such a file skipped every check made here
_NS_MAIN_STRICT = "{http://purl.oclc.org/ooxml/spreadsheetml/main}"
_NS_REL_STRICT = "{http://purl.oclc.org/ooxml/officeDocument/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# the strict names of every part a workbook holds, and their transitional twins (ECMA-376 Part 1 §A, Part 4);
# longer first, since the relationship types are the relationships namespace with a word added
_STRICT_NAMES = (
    (b"http://purl.oclc.org/ooxml/officeDocument/relationships/extendedProperties",
     b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties"),
    (b"http://purl.oclc.org/ooxml/officeDocument/relationships/customProperties",
     b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"),
    (b"http://purl.oclc.org/ooxml/officeDocument/relationships", b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"),
    (b"http://purl.oclc.org/ooxml/officeDocument/extendedProperties",
     b"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"),
    (b"http://purl.oclc.org/ooxml/officeDocument/customProperties", b"http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"),
    (b"http://purl.oclc.org/ooxml/officeDocument/docPropsVTypes", b"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"),
    (b"http://purl.oclc.org/ooxml/officeDocument/sharedTypes", b"http://schemas.openxmlformats.org/officeDocument/2006/sharedTypes"),
    (b"http://purl.oclc.org/ooxml/spreadsheetml/main", b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"),
    (b"http://purl.oclc.org/ooxml/drawingml/spreadsheetDrawing", b"http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"),
    (b"http://purl.oclc.org/ooxml/drawingml/chart", b"http://schemas.openxmlformats.org/drawingml/2006/chart"),
    (b"http://purl.oclc.org/ooxml/drawingml/main", b"http://schemas.openxmlformats.org/drawingml/2006/main"),
    (b' conformance="strict"', b""),
)


def as_transitional(data: bytes) -> bytes:
    """A package saved as Strict Open XML, with the transitional names (the same parts otherwise): what
    openpyxl reads. Anything else is returned as it is. (For a file ``safety`` has checked: its parts are bounded.)"""
    with zipfile.ZipFile(io.BytesIO(data)) as zin:
        if "xl/workbook.xml" not in zin.namelist() or b"purl.oclc.org/ooxml" not in zin.read("xl/workbook.xml"):
            return data
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                body = zin.read(info)
                if info.filename.endswith((".xml", ".rels", ".vml")):
                    for strict, transitional in _STRICT_NAMES:
                        body = body.replace(strict, transitional)
                zout.writestr(info, body)
    return out.getvalue()


@dataclass(frozen=True)
class NameTarget:
    sheet: str
    first: tuple[int, int]  # 0-based (row, col)
    last: tuple[int, int]


@dataclass
class CellFlags:
    formulas: set[tuple[int, int]] = field(default_factory=set)
    texts: set[tuple[int, int]] = field(default_factory=set)  # formula cells whose saved result is text ("" included)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    percent: set[tuple[int, int]] = field(default_factory=set)  # cells shown as a percentage (100% typed: the number 1)
    max_row: int = 0  # 1-based extent of the cells present (not of the declared <dimension>; a sheet too big by its
    #                   formatted blanks is measured by its filled cells instead: ``filled_extent``)
    max_col: int = 0


@dataclass
class OoxmlInfo:
    names: dict[str, NameTarget] = field(default_factory=dict)
    sheet_parts: dict[str, str] = field(default_factory=dict)  # sheet name → zip member
    flags: dict[str, CellFlags] = field(default_factory=dict)  # filled lazily per sheet
    percent_styles: frozenset[int] = frozenset()  # cell style indexes (s="…") whose number format is a percentage


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
    wb_xml = _part(package, "xl/workbook.xml")
    if wb_xml is None:
        return OoxmlInfo()
    names, sheet_parts, styles = _workbook_info(wb_xml, _part(package, "xl/_rels/workbook.xml.rels"))
    return OoxmlInfo(dict(names), dict(sheet_parts), percent_styles=percent_styles(_part(package, styles)))


@functools.lru_cache(maxsize=16)  # every village's file comes from one template: the same parts, parsed once
def _workbook_info(wb_xml: bytes, rels_xml: bytes | None) -> tuple[Mapping[str, NameTarget], Mapping[str, str], str]:
    """The defined names, the sheets' parts and the styles part of a workbook.xml and its relationships."""
    root = _tree(wb_xml)
    rels: dict[str, str] = {}
    if rels_xml is not None:
        for rel in _tree(rels_xml).iter(f"{_NS_PKG_REL}Relationship"):
            dest = rel.get("Target", "")
            path = dest.lstrip("/") if dest.startswith("/") else posixpath.normpath(posixpath.join("xl", dest))
            rels[rel.get("Id", "")] = path
    main = _main_ns(root)
    sheet_parts: dict[str, str] = {}
    for sheet in root.iter(f"{main}sheet"):
        rid = sheet.get(f"{_NS_REL}id") or sheet.get(f"{_NS_REL_STRICT}id", "")
        if rid in rels:
            sheet_parts[sheet.get("name", "")] = rels[rid]
    names: dict[str, NameTarget] = {}
    for dn in root.iter(f"{main}definedName"):
        name = dn.get("name", "")
        if name.startswith("_xlnm.") or dn.get("localSheetId") is not None:
            continue
        target = parse_name_ref(dn.text or "")
        if target is not None:
            names[name] = target
    return names, sheet_parts, next((path for path in rels.values() if path.endswith("styles.xml")), "xl/styles.xml")


_PERCENT_FORMATS = frozenset({9, 10})  # the built-in 0% and 0.00%
_QUOTED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


@functools.lru_cache(maxsize=16)
def percent_styles(xml: bytes | None) -> frozenset[int]:
    """The cell styles that show a number as a percentage. Typing "100%" into a cell makes Excel, WPS and
    LibreOffice store the number 1 with such a style: in a count it must not be read as 1 person."""
    if not xml or b"%" not in xml and b'numFmtId="9"' not in xml and b'numFmtId="10"' not in xml:
        return frozenset()
    try:
        root = _tree(xml)
    except ET.ParseError:
        return frozenset()
    ids = set(_PERCENT_FORMATS)
    main = _main_ns(root)
    for fmt in root.iter(f"{main}numFmt"):
        if percent_code(fmt.get("formatCode", "")) and (fmt.get("numFmtId") or "").isdigit():
            ids.add(int(fmt.get("numFmtId", "")))
    xfs = root.find(f"{main}cellXfs")
    if xfs is None:
        return frozenset()
    return frozenset(i for i, xf in enumerate(xfs.iter(f"{main}xf")) if (xf.get("numFmtId") or "0").isdigit()
                     and int(xf.get("numFmtId") or 0) in ids)


def percent_code(code: str) -> bool:
    """Does a number format code show the number as a percentage? (A % inside quotes or [brackets] is text.)"""
    return "%" in _QUOTED.sub("", code)


def _main_ns(root: ET.Element) -> str:
    """The part's SpreadsheetML namespace: transitional, or strict where the root says so."""
    return _NS_MAIN_STRICT if root.tag.startswith(_NS_MAIN_STRICT) else _NS_MAIN


def _tree(xml: bytes) -> ET.Element:
    """A small part parsed: by defusedxml where it declares anything (a DOCTYPE), else by the C parser —
    without a declaration there is no entity to expand, and the C parser is several times faster."""
    from .safety import declares_entities

    return SafeET.fromstring(xml) if declares_entities(xml) else ET.fromstring(xml)


class SheetXmlError(ValueError):
    """A sheet part that is not well-formed XML: the file is damaged (F008), never handed to the reader."""


def cell_flags(package: Package, part: str, percent_styles: frozenset[int] = frozenset()) -> CellFlags:
    """Cells of one sheet that hold a formula or an error value (#DIV/0!), and the sheet's extent.

    The extent is known before python-calamine builds its grid, which it sizes by the furthest
    cell: two cells, A1 and XFD1048576, would otherwise ask for half a terabyte. It comes from
    the cells themselves, found by an XML parser (attributes in any order, either quote, any
    namespace prefix, positions implied by order where ``r`` is left out) — never from
    ``<dimension>``, which is whatever the producer wrote.
    """
    flags = CellFlags()
    xml = _part(package, part)
    if xml is None:
        return flags
    if not _plain_extent(xml, flags, part):
        _SheetScan(flags).feed(xml, part)
    if percent_styles:
        _percent_cells(xml, percent_styles, flags)
    return flags


def filled_extent(package: Package, part: str) -> tuple[int, int]:
    """Rows and columns up to the last cell with something in it: borders drawn down to row 30,000 under a
    register of 7 rows make cells, but none python-calamine reads (it sizes its grid by the values). Asked only
    of a sheet whose whole extent is over the limits."""
    flags = CellFlags()
    xml = _part(package, part)
    if xml is not None:
        _SheetScan(flags, filled_only=True).feed(xml, part)
    return flags.max_row, flags.max_col


def _percent_cells(xml: bytes, styles: frozenset[int], flags: CellFlags) -> None:
    """Cells with one of ``styles`` (found by the patterns; a cell they cannot place is left unflagged)."""
    wanted = {str(i).encode() for i in styles}
    if not any(b"s=\"" + w + b"\"" in xml or b"s='" + w + b"'" in xml for w in wanted):
        return
    for attrs in _C_TAG.findall(xml):
        found = _attrs(attrs)
        ref = found.get(b"r")
        if found.get(b"s") in wanted and ref is not None:
            m = _A1.match(ref.decode("ascii", "replace"))
            if m is not None:
                flags.percent.add((int(m.group(2)) - 1, _col_index(m.group(1))))


# The quick path of cell_flags, for the common sheet (every report huizong's own templates make): no
# formula, no error value, every cell with its position. Expat still parses the whole part (C code, no
# Python per element) so a damaged part is refused exactly as before; the cells' positions are taken
# from their start tags with patterns. Whenever the bytes leave any doubt — a formula or error cell
# anywhere, a cell without ``r``, character references, comments, CDATA, processing instructions, an
# encoding that is not ASCII-compatible — the exact scan (_SheetScan) runs instead.
_A1 = re.compile(r"\$?([A-Z]{1,3})\$?([1-9][0-9]{0,8})\Z")


@functools.cache
def _col_index(letters: str) -> int:
    col = 0
    for ch in letters:
        col = col * 26 + (ord(ch) - 64)
    return col - 1


# every cell's start tag; the position is captured where it is the first attribute (as Excel, WPS, openpyxl
# and XlsxWriter write it)
_C_TAGS = re.compile(rb"""<(?:[^\s<>/!?]*:)?c(?=[\s/>])(?:\s+r\s*=\s*["']\$?([A-Z]{1,3})\$?([1-9][0-9]{0,8})["'\s])?""")
_C_TAG = re.compile(rb"""<(?:[^\s<>/!?]*:)?c((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*/?>""")
_ATTR = re.compile(rb"""\s([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_F_PLAIN = re.compile(rb"<f[\s/>]")
_F_PREFIXED = re.compile(rb":f[\s/>]")  # <x:f>; also matches such text elsewhere, which only sends the sheet the exact way


def _plain_extent(xml: bytes, flags: CellFlags, part: str) -> bool:
    """Fill ``flags`` for a sheet without formulas or error values; False when the exact scan must decide."""
    head = xml[:512]
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start.startswith(b"<") or b"\x00" in head:
        return False  # UTF-16 and the like: the patterns would see nothing
    if b"&#" in xml or b"<!" in xml or xml.count(b"<?") > (1 if start.startswith(b"<?xml") else 0):
        return False
    if _F_PLAIN.search(xml) is not None or _F_PREFIXED.search(xml) is not None:
        return False
    refs: list[tuple[bytes, bytes]] | None = _C_TAGS.findall(xml)
    cells = len(refs) if refs is not None else 0
    maybe_error = b'"e"' in xml or b"'e'" in xml  # t="e" could only be written so (no character references here)
    if refs is None or maybe_error or any(not digits for _, digits in refs):
        refs = _positions(xml, cells)
    if refs is None:
        return False
    # over the distinct rows and columns only (a row's cells share its digits; a table has few columns)
    max_row = max(map(int, {digits for _, digits in refs}), default=0)
    # column letters order as numbers do when the longer comes first
    widest = max({letters for letters, _ in refs}, key=lambda letters: (len(letters), letters), default=b"")
    max_col = _col_index(widest.decode("ascii")) + 1 if widest else 0
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(xml, True)
    except expat.ExpatError:
        return False  # the exact scan says where
    flags.max_row, flags.max_col = max_row, max_col
    return True


def _attrs(attrs: bytes) -> dict[bytes, bytes]:
    """A start tag's attributes (either quote)."""
    return {name: dq or sq for name, dq, sq in _ATTR.findall(attrs)}


def _positions(xml: bytes, cells: int) -> list[tuple[bytes, bytes]] | None:
    """(column letters, row digits) of every cell, attributes in any order; None if a cell has no valid
    position, is an error value, or is not found whole."""
    tags = _C_TAG.findall(xml)
    if len(tags) != cells:
        return None
    out = []
    for attrs in tags:
        found = _attrs(attrs)
        ref, kind = found.get(b"r"), found.get(b"t")
        if ref is None or kind == b"e" or (kind is not None and b"&" in kind):
            return None
        m = _A1.match(ref.decode("ascii", "replace"))
        if m is None:
            return None
        out.append((m.group(1).encode(), m.group(2).encode()))
    return out


class _SheetScan:
    """One pass of expat over a sheet part, keeping only positions, formulas and error values.

    Handlers do as little as they can (a sheet has hundreds of thousands of elements); text is
    listened to only inside an error cell's <v>. <f> counts only inside a <c>: an extension's
    data validation holds <xm:f> too.
    """

    def __init__(self, flags: CellFlags, filled_only: bool = False):
        self.flags = flags
        self.filled_only = filled_only  # the extent of the cells with something in them (not of formatted blanks)
        self.row = 0  # 1-based row of the current <row>, 0 before the first
        self.col = 0  # 1-based column of the last cell in the current row
        self.cell: tuple[int, int] | None = None  # 0-based position of the open <c>
        self.error = False  # the open <c> has t="e"
        self.text = False  # the open <c> holds a formula's text result (t="str")
        self.value: list[str] = []
        self.parser = expat.ParserCreate()

    def feed(self, xml: bytes, part: str) -> None:
        parser = self.parser
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._refuse  # safety.sniff refused these already; twice is cheap
        parser.EntityDeclHandler = self._refuse
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.buffer_text = True
        try:
            parser.Parse(xml, True)
        except expat.ExpatError as exc:
            where = f"第 {exc.lineno} 行第 {exc.offset} 列" if getattr(exc, "lineno", None) else str(exc)
            raise SheetXmlError(f"部件 {part} 不是有效的 XML（{where}）") from exc

    @staticmethod
    def _refuse(*_args: object) -> None:
        raise expat.ExpatError("DOCTYPE/ENTITY")

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        tag = name if ":" not in name else name.rpartition(":")[2]  # the local name, whatever the prefix
        if tag == "c":
            ref = attrs.get("r")
            if ref is not None:
                m = _A1.match(ref)
                if m is None:
                    raise expat.ExpatError(f"单元格位置“{ref[:20]}”无效")
                r, c = int(m.group(2)) - 1, _col_index(m.group(1))
            else:
                r, c = max(self.row - 1, 0), self.col  # the next cell of the row
            self.col = c + 1
            self.cell = (r, c)
            kind = attrs.get("t")
            self.error = kind == "e"
            self.text = kind == "str"
            if not self.filled_only or self.error:
                self._reach(r, c)
            if self.error:
                self.flags.errors[(r, c)] = "#错误"
        elif tag == "row":
            ref = attrs.get("r")
            self.row = int(ref) if ref and ref.isdigit() else self.row + 1
            self.col = 0
        elif self.cell is None:
            return
        else:
            if self.filled_only:
                self._reach(*self.cell)  # a value, a formula, an inline string: the cell is not blank
            if tag == "f":
                self.flags.formulas.add(self.cell)
                if self.text:  # =IF(A5="","",…): a result, if an empty one (a formula never calculated has none)
                    self.flags.texts.add(self.cell)
            elif tag == "v" and self.error:
                self.value = []
                self.parser.CharacterDataHandler = self.value.append

    def _reach(self, r: int, c: int) -> None:
        flags = self.flags
        if r >= flags.max_row:
            flags.max_row = r + 1
        if c >= flags.max_col:
            flags.max_col = c + 1

    def _end(self, name: str) -> None:
        if self.cell is None:
            return
        tag = name if ":" not in name else name.rpartition(":")[2]
        if tag == "c":
            self.cell = None
        elif tag == "v" and self.error:
            text = "".join(self.value).strip()
            if text:
                self.flags.errors[self.cell] = text
            self.parser.CharacterDataHandler = None
