"""Build a ``vbaProject.bin`` ([MS-OVBA]) from VBA source text, without Excel.

XlsxWriter can embed a VBA project in an .xlsm (``workbook.add_vba_project(BytesIO(data),
is_stream=True)``) but cannot make one. This module writes it: a compound file ([MS-CFB], see
:mod:`pipeline.excel.cfb`) with

``PROJECT``            the project's properties as text (modules, name, protection state),
``PROJECTwm``          module names in the code page and in UTF-16,
``VBA/_VBA_PROJECT``   only the 7-byte header, version 0xFFFF: no performance cache, so Office
                       compiles the project from source when it opens it (MS-OVBA 2.3.4.1),
``VBA/dir``            compressed records: project information, references, one record per
                       module (MS-OVBA 2.3.4.2),
``VBA/<module>``       each module's source, compressed, with no compiled p-code before it
                       (MODULEOFFSET 0).

All text is encoded with the project's code page (936, GBK, by default) so Chinese comments and
string literals read right in Chinese Excel; a character the code page cannot hold is an error.
The output is deterministic: the project id and the obfuscation seeds derive from the input.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import struct
import uuid
from dataclasses import dataclass

from .cfb import write_compound_file
from .ovba import compress

__all__ = ["Module", "build_vba_project"]

# Class ids that document modules derive from (what Excel writes in Attribute VB_Base).
_WORKBOOK_BASE = "0{00020819-0000-0000-C000-000000000046}"
_WORKSHEET_BASE = "0{00020820-0000-0000-C000-000000000046}"
_CLASS_BASE = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"  # what the VBA editor writes for a class module
# The stdole reference every Excel project carries (REFERENCEREGISTERED, MS-OVBA 2.3.4.2.2.5).
_STDOLE = ("stdole", r"*\G{00020430-0000-0000-C000-000000000046}#2.0#0#C:\Windows\System32\stdole2.tlb#OLE Automation")
_HOST_EXTENDER = "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000"  # MS-OVBA 2.3.1.18
_LCID = 0x0409  # PROJECTLCID and PROJECTLCIDINVOKE MUST be 0x409, whatever the user's language
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,30}\Z")  # VBA names: ASCII here, at most 31 characters


@dataclass(frozen=True)
class Module:
    """One VBA module.

    ``code`` is the text after the ``Attribute`` header, which :func:`build_vba_project` writes.
    ``kind`` is ``"standard"`` (a .bas module, listed as ``Module=``), ``"class"`` (a .cls class
    module, listed as ``Class=``) or ``"document"`` (the code behind the workbook or a sheet, listed
    as ``Document=``). A document module named
    ``ThisWorkbook`` derives from Excel's Workbook class, any other from Worksheet; its name must
    match the workbook's or sheet's code name (XlsxWriter: ThisWorkbook, Sheet1, Sheet2, ...).
    """

    name: str
    code: str
    kind: str = "standard"


def build_vba_project(modules: list[Module], project_name: str = "VBAProject", codepage: int = 936) -> bytes:
    """The bytes of a ``vbaProject.bin`` holding ``modules`` as source (no compiled p-code)."""
    codec = _Codec(codepage)
    _validate(modules, project_name)
    sources = {m.name: codec.encode(_source(m), m.name) for m in modules}
    seed = hashlib.sha256(repr((project_name, codepage, sorted(sources.items()))).encode()).digest()
    project_id = "{" + str(uuid.UUID(bytes=seed[:16], version=4)).upper() + "}"

    streams = {
        "PROJECT": _project_stream(modules, project_name, project_id, seed, codec),
        "PROJECTwm": b"".join(codec.encode(m.name) + b"\0" + _utf16(m.name) + b"\0\0" for m in modules) + b"\0\0",
        "VBA/_VBA_PROJECT": struct.pack("<HHBH", 0x61CC, 0xFFFF, 0x00, 0x0001),
        "VBA/dir": compress(_dir_stream(modules, project_name, codepage, codec)),
    }
    for name, source in sources.items():
        streams[f"VBA/{name}"] = compress(source)
    return write_compound_file(streams)


class _Codec:
    """The project's code page (936 → Python's gbk), with errors that name the module at fault."""

    def __init__(self, codepage: int) -> None:
        try:
            self.name = codecs.lookup(f"cp{codepage}").name
        except LookupError:
            raise ValueError(f"unknown code page {codepage}") from None
        self.codepage = codepage

    def encode(self, text: str, where: str = "") -> bytes:
        try:
            return text.encode(self.name)
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end]
            raise ValueError(
                f"{where or 'text'}: {bad!r} cannot be written in code page {self.codepage} ({self.name})"
            ) from None


def _validate(modules: list[Module], project_name: str) -> None:
    if not _IDENTIFIER.match(project_name):
        raise ValueError(f"project name {project_name!r} is not an ASCII VBA identifier of at most 31 characters")
    if not modules:
        raise ValueError("a VBA project needs at least one module")
    seen = {project_name.lower(): "the project"}
    for m in modules:
        if not _IDENTIFIER.match(m.name):
            raise ValueError(f"module name {m.name!r} is not an ASCII VBA identifier of at most 31 characters")
        if m.kind not in ("standard", "class", "document"):
            raise ValueError(f"module {m.name}: kind must be 'standard', 'class' or 'document', not {m.kind!r}")
        if m.name.lower() == "dir":  # would collide with the VBA/dir stream
            raise ValueError("a module cannot be called 'dir'")
        if m.name.lower() in seen:
            raise ValueError(f"module name {m.name!r} is already used by {seen[m.name.lower()]}")
        if m.code.lstrip().startswith("Attribute VB_"):
            raise ValueError(f"module {m.name}: give the code without its Attribute header; it is written for you")
        seen[m.name.lower()] = f"module {m.name}"


def _source(module: Module) -> str:
    """The module stream's text: Attribute header, then the code, all lines ending in CRLF as VBA stores them."""
    header = [f'Attribute VB_Name = "{module.name}"']
    if module.kind == "document":
        base = _WORKBOOK_BASE if module.name.lower() == "thisworkbook" else _WORKSHEET_BASE
        header += [
            f'Attribute VB_Base = "{base}"',
            "Attribute VB_GlobalNameSpace = False",
            "Attribute VB_Creatable = False",
            "Attribute VB_PredeclaredId = True",
            "Attribute VB_Exposed = True",
            "Attribute VB_TemplateDerived = False",
            "Attribute VB_Customizable = True",
        ]
    elif module.kind == "class":
        header += [
            f'Attribute VB_Base = "{_CLASS_BASE}"',
            "Attribute VB_GlobalNameSpace = False",
            "Attribute VB_Creatable = False",
            "Attribute VB_PredeclaredId = False",
            "Attribute VB_Exposed = False",
        ]
    lines = module.code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return "".join(line + "\r\n" for line in header + lines)


def _project_stream(modules: list[Module], name: str, project_id: str, seed: bytes, codec: _Codec) -> bytes:
    """The PROJECT stream (MS-OVBA 2.3.1): ``key=value`` lines, then the host extender section."""
    # Protection state 0 (unprotected), no password, project visible (2.3.1.15-17), each obfuscated.
    cmg, dpb, gc = (_encrypt(project_id, data, seed[16 + i]) for i, data in enumerate((bytes(4), b"\x00", b"\xff")))
    lines = [f'ID="{project_id}"']
    lines += [
        f"Document={m.name}/&H00000000" if m.kind == "document" else (f"Class={m.name}" if m.kind == "class" else f"Module={m.name}")
        for m in modules
    ]
    lines += [
        f'Name="{name}"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        f'CMG="{cmg}"',
        f'DPB="{dpb}"',
        f'GC="{gc}"',
        "",
        "[Host Extender Info]",
        _HOST_EXTENDER,
    ]
    return codec.encode("".join(line + "\r\n" for line in lines))


def _encrypt(project_id: str, data: bytes, seed: int) -> str:
    """MS-OVBA 2.4.3.2 data encryption (an obfuscation keyed on the project id), as hex digits."""
    proj_key = sum(project_id.encode("ascii")) & 0xFF
    out = bytearray([seed, seed ^ 2, seed ^ proj_key])  # Seed, VersionEnc (version 2), ProjKeyEnc
    unencrypted1, encrypted1, encrypted2 = proj_key, out[2], out[1]
    ignored = bytes((seed & 6) // 2)  # arbitrary filler whose length the seed fixes
    for byte in ignored + len(data).to_bytes(4, "little") + data:
        enc = byte ^ ((encrypted2 + unencrypted1) & 0xFF)
        out.append(enc)
        encrypted2, encrypted1, unencrypted1 = encrypted1, enc, byte
    return out.hex().upper()


def _dir_stream(modules: list[Module], name: str, codepage: int, codec: _Codec) -> bytes:
    """The uncompressed ``dir`` stream (MS-OVBA 2.3.4.2): information, references, modules."""
    out = bytearray()
    # The records Excel 2007 writes, in its order. No PROJECTCOMPATVERSION (0x004A): it is optional,
    # later Excel versions add it, and leaving it out keeps the stream readable by Office 2007 too.
    out += _record(0x0001, struct.pack("<I", 1))  # PROJECTSYSKIND: 32-bit Windows; Office adapts on load
    out += _record(0x0002, struct.pack("<I", _LCID))  # PROJECTLCID
    out += _record(0x0014, struct.pack("<I", _LCID))  # PROJECTLCIDINVOKE
    out += _record(0x0003, struct.pack("<H", codepage))  # PROJECTCODEPAGE
    out += _record(0x0004, codec.encode(name))  # PROJECTNAME
    out += _text_pair(0x0005, 0x0040, "", codec)  # PROJECTDOCSTRING
    out += _text_pair(0x0006, 0x003D, "", codec, unicode=False)  # PROJECTHELPFILEPATH: both copies in the code page
    out += _record(0x0007, struct.pack("<I", 0))  # PROJECTHELPCONTEXT
    out += _record(0x0008, struct.pack("<I", 0))  # PROJECTLIBFLAGS
    out += struct.pack("<HIIH", 0x0009, 4, 1, 0)  # PROJECTVERSION: its Reserved field is 4, then major 1, minor 0
    out += _text_pair(0x000C, 0x003C, "", codec)  # PROJECTCONSTANTS

    ref_name, libid = _STDOLE
    out += _text_pair(0x0016, 0x003E, ref_name, codec)  # REFERENCENAME
    libid_bytes = codec.encode(libid)
    out += _record(0x000D, struct.pack("<I", len(libid_bytes)) + libid_bytes + struct.pack("<IH", 0, 0))  # REFERENCEREGISTERED

    out += _record(0x000F, struct.pack("<H", len(modules)))  # PROJECTMODULES
    out += _record(0x0013, struct.pack("<H", 0xFFFF))  # PROJECTCOOKIE
    for m in modules:
        out += _record(0x0019, codec.encode(m.name))  # MODULENAME
        out += _record(0x0047, _utf16(m.name))  # MODULENAMEUNICODE
        out += _text_pair(0x001A, 0x0032, m.name, codec)  # MODULESTREAMNAME
        out += _text_pair(0x001C, 0x0048, "", codec)  # MODULEDOCSTRING
        out += _record(0x0031, struct.pack("<I", 0))  # MODULEOFFSET: source starts at byte 0, no p-code
        out += _record(0x001E, struct.pack("<I", 0))  # MODULEHELPCONTEXT
        out += _record(0x002C, struct.pack("<H", 0xFFFF))  # MODULECOOKIE
        out += _record(0x0021 if m.kind == "standard" else 0x0022, b"")  # MODULETYPE: procedural / document
        out += _record(0x002B, b"")  # module terminator
    out += _record(0x0010, b"")  # end of the dir stream
    return bytes(out)


def _record(record_id: int, payload: bytes) -> bytes:
    """Id (2 bytes), size (4 bytes), payload: the shape of almost every dir record."""
    return struct.pack("<HI", record_id, len(payload)) + payload


def _text_pair(record_id: int, reserved: int, text: str, codec: _Codec, *, unicode: bool = True) -> bytes:
    """A record holding a text twice: in the code page, then (after a reserved id) in UTF-16."""
    second = _utf16(text) if unicode else codec.encode(text)
    return _record(record_id, codec.encode(text)) + _record(reserved, second)


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")
