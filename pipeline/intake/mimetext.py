"""Header text as Chinese mail clients really write it: charsets, encoded words, parameters.

GBK bytes labelled GB2312, encoded words split inside a character, raw 8-bit headers, RFC 2231
continuations, encoded words inside quotes: each is decoded here to the text the sender typed.
Nothing here raises on bad input; what cannot be decoded is decoded as well as it can be.
"""

from __future__ import annotations

import binascii
import email.utils
import re
from datetime import datetime
from email.message import Message as _Part
from urllib.parse import unquote_to_bytes

GB = {"gb2312", "gbk", "gb18030", "cp936", "x-gbk", "euc-cn", "x-euc-cn", "gb_2312-80", "csgb2312", "chinese"}
BIG5 = {"big5", "big5-hkscs", "big5hkscs", "cp950", "x-big5", "csbig5"}
LATIN = {"us-ascii", "ascii", "iso-8859-1", "latin1", "latin-1", "windows-1252", "cp1252", "unknown-8bit"}

_EW = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
UNFOLD = re.compile(rb"\r?\n(?=[ \t])")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd\ud800-\udfff]")


def _charsets(label: str) -> list[str]:
    """Codecs to try, best first. Every GB label means gb18030: "GB2312" is a lie GBK mailers tell."""
    label = label.strip().strip("\"'").split("*")[0].lower()
    if label in LATIN:  # 8-bit bytes labelled ASCII/Latin-1 are, here, UTF-8 or GBK in disguise
        return ["utf-8", "gb18030", "latin-1"]
    first = ["gb18030"] if label in GB else ["big5hkscs"] if label in BIG5 else [label] if label else []
    return [*first, "utf-8", "gb18030"]


def decode_bytes(data: bytes, charset: str = "") -> str | None:
    for enc in _charsets(charset):
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        if not CONTROL.search(re.sub(r"[\t\r\n]", "", text)):
            return text
    return None


def lossy(data: bytes) -> str:
    """Last resort for display text: the decoding that loses least, with the losses removed."""
    text = min((data.decode(enc, "replace") for enc in ("utf-8", "gb18030")), key=lambda t: t.count("\ufffd"))
    return CONTROL.sub("", text)


_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(set(range(256)) - set(_B64))
_NOT_B64_OR_PAD = _NOT_B64.replace(b"=", b"")
_FOREIGN = re.compile(rb"[^A-Za-z0-9+/=\s]")
_FOREIGN_TEXT = re.compile(r"[^A-Za-z0-9+/=\s]")


def b64_lenient(data: bytes | str) -> tuple[bytes, bool]:
    """Decode what a cut-off message still holds. The flag is False when the text is not base64
    at all (foreign characters): decoding it would give garbage, not a shorter file.

    ``data`` may be the parser's text itself: a large attachment is then decoded without one
    more copy of it (a 50 MB attachment must not cost hundreds of MB)."""
    if isinstance(data, str):
        intact, first_pad = not _FOREIGN_TEXT.search(data), data.find("=")
    else:
        intact, first_pad = not _FOREIGN.search(data), data.find(b"=")
    tail = as_bytes(data[first_pad:]) if 0 <= first_pad and len(data) - first_pad <= 8 else b""
    if intact and (first_pad < 0 or (tail and not tail.strip(b"= \t\r\n"))):  # padding only at the very end
        try:
            return binascii.a2b_base64(data), True
        except (binascii.Error, ValueError):  # cut off (no padding), or 8-bit text
            pass
    if not intact and (body := _before_footer(as_bytes(data))):  # a footer (antivirus, gateway) after the data
        try:
            return binascii.a2b_base64(body), True
        except (binascii.Error, ValueError):
            pass
    chars = as_bytes(data).translate(None, _NOT_B64)
    usable = len(chars) - len(chars) % 4 - (4 if len(chars) % 4 == 1 else 0) if len(chars) % 4 else len(chars)
    head = binascii.a2b_base64(memoryview(chars)[:usable]) if usable > 0 else b""
    rest = chars[usable:] if len(chars) % 4 != 1 else chars[usable:-1]  # a lone last character carries no whole byte
    return (head + binascii.a2b_base64(rest + b"=" * (-len(rest) % 4)) if rest else head), intact


def _before_footer(data: bytes) -> bytes:
    """The whole base64 text before lines that are not base64 (an antivirus or mail gateway's footer, a lost
    closing boundary's epilogue): the lines up to the first with a foreign character, or to the padding.
    b"" when the text does not begin as base64 or does not end on a whole group (corrupt inside: not a footer)."""
    lines = data.splitlines(keepends=True)
    kept = []
    for line in lines:
        if _FOREIGN.search(line):
            break
        kept.append(line)
        if b"=" in line:  # the padding ends the data
            break
    body = b"".join(kept)
    after = lines[len(kept):]
    # base64 again after the foreign line: a character damaged inside the data, not a footer after it
    resumes = any(len(line.strip()) >= 40 and not _FOREIGN.search(line) for line in after)
    return body if body.strip() and not resumes and len(body.translate(None, _NOT_B64_OR_PAD)) % 4 == 0 else b""


_MSG_ID = re.compile(r"[!-;=?-~]{1,200}@[!-;=?-~]{1,200}")  # printable ASCII, no space, no angle brackets


def reference(message_id: str | None) -> str | None:
    """``<id>`` for In-Reply-To/References, or None when the sender's Message-ID is not one: a line break in it
    wrote the sender's headers (Bcc:, a second Content-Type) into our reply, and a non-ASCII one stopped the
    reply from being built at all (the village never got its receipt)."""
    return f"<{message_id}>" if message_id and _MSG_ID.fullmatch(message_id) else None


def decode_words(raw: bytes) -> tuple[str, bool]:
    """RFC 2047, leniently: words anywhere (even inside quotes); adjacent words of one charset
    are joined as BYTES before decoding, because clients split words inside a character."""
    raw = UNFOLD.sub(b"", raw)
    pieces: list[tuple[str | None, bytes]] = []
    pos = 0
    chopped: bytes | None = None  # the base64 text of words split inside a group, joined, and where its bytes begin
    start_of_chopped = 0
    for m in _EW.finditer(raw):
        gap = raw[pos : m.start()]
        if gap and not (gap.isspace() and pieces and pieces[-1][0] is not None):
            pieces.append((None, gap))
        label = m[1].decode("ascii", "replace").split("*")[0].lower()
        cs = "gb18030" if label in GB else label
        is_b, text = m[2] in b"bB", m[3].strip()
        if is_b and chopped is not None and pieces and pieces[-1][0] == cs:  # split inside a base64 group: decode joined
            chopped += text
            pieces[-1] = (cs, pieces[-1][1][:start_of_chopped] + b64_lenient(chopped)[0])
        else:
            data = b64_lenient(text)[0] if is_b else binascii.a2b_qp(m[3], header=True)
            if pieces and pieces[-1][0] == cs:
                pieces[-1] = (cs, pieces[-1][1] + data)
            else:
                pieces.append((cs, data))
            chopped = None
            if is_b and len(text) % 4:  # this word ends inside a group: the next word of the charset continues it
                chopped, start_of_chopped = text, len(pieces[-1][1]) - len(data)
        pos = m.end()
    if raw[pos:]:
        pieces.append((None, raw[pos:]))  # raw 8-bit text: utf-8, else gb18030
    out, clean = [], True
    for cs, data in pieces:
        text = decode_bytes(data, cs or "")
        if text is None:
            text, clean = lossy(data), False
        out.append(text)
    return "".join(out), clean


def as_bytes(value: str | bytes) -> bytes:
    # compat32 keeps 8-bit header bytes as surrogates; surrogateescape gives the bytes back
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def decode_header_text(value: str | bytes) -> str:
    """Decode a header value however it was encoded; never mojibake, never U+FFFD."""
    return CONTROL.sub("", decode_words(as_bytes(value))[0]).strip()


# ---- headers, parameters, file names -------------------------------------------------------


def header_bytes(part: _Part, name: str) -> bytes | None:
    # raw_items, not get(): compat32's get() turns 8-bit values into Header objects
    return next((as_bytes(str(v)) for k, v in part.raw_items() if k.lower() == name), None)


_PARAM = re.compile(rb'\s*([^=\s;]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)', re.S)


def params_of(raw: bytes | None) -> tuple[str, dict[str, bytes]]:
    """The main value (lower-case) and the parameters, raw bytes, quotes removed."""
    if raw is None:
        return "", {}
    head, _, rest = UNFOLD.sub(b"", raw).partition(b";")
    params: dict[str, bytes] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if m:
            value = m[2].strip()
            if value.startswith(b'"'):
                value = re.sub(rb'\\(["\\])', rb"\1", value[1:-1] if len(value) > 1 and value.endswith(b'"') else value[1:])
            params.setdefault(m[1].decode("ascii", "replace").lower(), value)
        end = rest.find(b";", m.end() if m else pos)
        pos = len(rest) if end < 0 else end + 1
    return head.strip().decode("ascii", "replace").lower(), params


def param_texts(params: dict[str, bytes], key: str) -> list[tuple[str, bool, bytes]]:
    """Every reading of a parameter, RFC 2231 (with continuations) and plain/RFC 2047, as
    (text, decoded cleanly, raw bytes): some clients send both, and either may be the good one."""
    found = []
    segments = sorted(  # key*, or key*0*, key*1, ...: only the first carries charset'language'
        (int(m[1] or 0), k.endswith("*"), v)
        for k, v in params.items()
        if (m := re.fullmatch(re.escape(key) + r"\*(?:(\d{1,3})\*?)?", k))
    )
    if segments:
        charset, chunks = "", []
        for i, (_, encoded, value) in enumerate(segments):
            if encoded and i == 0 and value.count(b"'") >= 2:
                label, _, value = value.split(b"'", 2)
                charset = label.decode("ascii", "replace")
            chunks.append(unquote_to_bytes(value) if encoded else value)
        data = b"".join(chunks)
        text = decode_bytes(data, charset)
        found.append((text, True, data) if text is not None else (lossy(data), False, data))
    if key in params:
        found.append((*decode_words(params[key]), params[key]))
    return found


def tidy_name(name: str) -> str:
    name = re.split(r"[/\\]", CONTROL.sub("", name))[-1]  # Outlook and phones send whole paths
    return re.sub(r'[<>:"|*]', "_", name).strip().strip(".").strip()


def extension(name: str) -> str:
    m = re.search(r"\.[A-Za-z0-9]{1,5}$", name.strip())
    return m[0].lower() if m else ""


# ---- the sender and the date ----------------------------------------------------------------


def sender_of(raw: bytes | None) -> tuple[str, str]:
    """(display name, address) from From; a fallback search when parseaddr gives up."""
    text = UNFOLD.sub(b"", raw or b"").decode("ascii", "surrogateescape")
    name, addr = email.utils.parseaddr(text)
    if "@" not in addr:
        m = re.search(r"<\s*([^<>\s]+@[^<>\s]+?)\s*>", text) or re.search(r"[^\s<>\"',;:]+@[^\s<>\"',;:]+", text)
        name, addr = (text[: m.start()], m[m.lastindex or 0]) if m else (text, "")
    return decode_header_text(as_bytes(name)).strip('" '), decode_header_text(as_bytes(addr)).lower()


def date_of(raw: bytes | None) -> datetime | None:
    try:
        return email.utils.parsedate_to_datetime(UNFOLD.sub(b"", raw or b"").decode("ascii", "replace").strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
