"""File names built from what villages send (their file names, their names in 村名册): always safe, always bounded.

A name from a village is data. It must never reach another folder (``/``, ``\\``, ``..``), never be a
name Windows refuses (``CON``, ``a:b``, a trailing dot) or hides (a leading dot), and never exceed what a
file system takes: 255 bytes on Linux (about 80 Chinese characters in UTF-8), 260 characters for the
whole path on older Windows. Names are shortened in the middle of nothing: whole characters only, with
"…" where something was cut, and the part that makes the name unique (a digest, a suffix) always kept.
"""

from __future__ import annotations

import re
import unicodedata

# Longest file name we create, in UTF-8 bytes: 255 is the file systems' limit; the rest leaves room for
# " (2)" when a name is taken and for the folder, on a Windows PC that limits a whole path to 260.
MAX_NAME_BYTES = 150

# path separators, characters Windows forbids, control and invisible format characters
_UNSAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.I)  # Windows device names
ELLIPSIS = "…"


def _piece(text: object) -> str:
    t = unicodedata.normalize("NFC", str(text))
    t = _UNSAFE.sub("_", t)
    return t.strip().lstrip(".").rstrip(". ")


def readable(name: str) -> str:
    """A name the file system gave as it should be shown and stored: one whose bytes are not UTF-8 (a GBK
    name from an old unzip tool or a network share, common on 麒麟/UOS) decoded as GB18030, the encoding of
    Chinese Windows; anything still undecodable shown as "�". Never raises; a UTF-8 name is returned as is."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        raw = name.encode("utf-8", "surrogateescape")  # bytes POSIX could not decode
    except UnicodeEncodeError:  # a lone surrogate NTFS allows: no bytes behind it to decode
        return name.encode("utf-8", "replace").decode("utf-8")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return raw.decode("utf-8", "replace")


def arrival_key(name: str) -> str:
    """A name as it can be stored and compared, distinct for distinct names: the name itself, or (one the file
    system gave as bytes that are not UTF-8) those bytes in hex — two names that ``readable`` shows alike stay apart."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return "bytes:" + name.encode("utf-8", "surrogatepass").hex()


def safe_suffix(suffix: str) -> str:
    """A name's extension as we reuse it in names we make (archive copies, moved files): at most 16
    characters, else none — "报表.xlsx（最终版）（最终版）…" has a 200-byte one, and a temporary name
    made from it is longer than any file system takes."""
    return suffix if len(suffix) <= 16 and not _UNSAFE.search(suffix) else ""


def clean(text: object) -> str:
    """A name made safe: unsafe characters replaced by "_", no leading dots, no trailing dots or spaces,
    never a Windows device name."""
    t = _piece(text)
    return "_" + t if _RESERVED.match(t) else t


def shorten(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes (whole characters, "…" marking the cut)."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    room = max_bytes - len(ELLIPSIS.encode("utf-8"))
    out = text.encode("utf-8")[: max(room, 0)].decode("utf-8", "ignore")
    return out.rstrip(". ") + ELLIPSIS if room > 0 else ""


def file_name(*parts: object, suffix: str = "", keep: tuple[object, ...] = (), max_bytes: int = MAX_NAME_BYTES) -> str:
    """``parts`` and then ``keep`` joined by "_", plus ``suffix``; only ``parts`` are shortened, the longest first.

    ``keep``: pieces that must survive whole (a digest, "校验结果"); ``suffix`` such as ".xlsx".
    Empty pieces are left out; a name with nothing left becomes "未命名".
    """
    tail = [_piece(k) for k in keep if _piece(k)]
    head = [_piece(p) for p in parts if _piece(p)]
    ext = _piece(suffix) if suffix else ""
    ext = "." + ext.lstrip(".") if ext else ""

    def size(pieces: list[str]) -> int:
        return len("_".join(pieces + tail).encode("utf-8")) + len(ext.encode("utf-8"))

    while head and size(head) > max_bytes:
        longest = max(range(len(head)), key=lambda i: len(head[i].encode("utf-8")))
        over = size(head) - max_bytes
        target = len(head[longest].encode("utf-8")) - over
        cut = shorten(head[longest], target) if target > len(ELLIPSIS.encode("utf-8")) else ""
        if cut:
            head[longest] = cut
        else:
            del head[longest]
    stem = clean("_".join(head + tail)) or "未命名"
    return shorten(stem, max_bytes - len(ext.encode("utf-8"))) + ext
