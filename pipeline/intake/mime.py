"""Find every report workbook in one raw e-mail message, with its file name decoded right
(header text decoding lives in ``mimetext``).

Chinese mail clients name attachments in every way the RFCs allow and several they do not:
GBK bytes labelled GB2312, encoded words split inside a character, raw 8-bit headers,
RFC 2231 continuations, encoded words inside quotes. Python's ``policy.default`` decodes some
of these into U+FFFD, so the message is parsed with ``compat32`` (which keeps header bytes as
they came) and every name is decoded here. Nothing here raises on bad input: what cannot be
used becomes an :class:`Ignored` with a Chinese reason the clerk can pass on to the village.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import io
import mimetypes
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message as _Part
from pathlib import Path
from urllib.parse import unquote_to_bytes

from .automail import Automatic, automatic
from .mimeparse import parse as _parse
from .mimetext import (
    as_bytes,
    b64_lenient,
    date_of,
    decode_bytes,
    decode_header_text,
    extension,
    header_bytes,
    param_texts,
    params_of,
    sender_of,
    tidy_name,
)

WORKBOOK_EXTS = (".xlsx", ".xlsm", ".xls", ".ods", ".et", ".ett")  # .et/.ett: the reader explains WPS
EXCEL_TYPES = {
    "application/vnd.ms-excel": ".xls",
    "application/x-msexcel": ".xls",
    "application/msexcel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": ".xlsm",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
}
ZIP_TYPES = ("application/zip", "application/x-zip-compressed", "application/x-zip")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".heic", ".heif", ".webp", ".tif", ".tiff")
PHOTO = "图片（照片不能代替报表，请发送 Excel 文件）"
SIGNATURE = "邮件签名图片"
NOT_WORKBOOK = "不是 Excel 工作簿"
OTHER_KINDS = {  # extension → what the village sent instead of a workbook
    **dict.fromkeys((".doc", ".docx", ".wps", ".rtf", ".odt"), NOT_WORKBOOK + "（Word 文档）"),
    **dict.fromkeys((".ppt", ".pptx", ".dps"), NOT_WORKBOOK + "（演示文稿）"),
    ".pdf": NOT_WORKBOOK + "（PDF 文件）",
    **dict.fromkeys((".txt", ".csv"), NOT_WORKBOOK + "（文本/CSV 文件，请用下发的模板填写并保存为 .xlsx）"),
    ".xlsb": "Excel 二进制工作簿（.xlsb）无法读取，请另存为 Excel 工作簿（.xlsx）后再发送",
    **dict.fromkeys((".rar", ".7z", ".gz", ".tar"), "压缩包格式无法打开，请直接发送 Excel 文件，或压缩成 .zip"),
    ".ics": "日历邀请，不是报表",
    ".p7s": "邮件数字签名",
    # opaque S/MIME: the whole letter, report included, is wrapped inside; nothing of it can be read here
    ".p7m": "邮件被数字签名或加密整体封装（smime.p7m），其中的报表无法取出。请关闭邮件的签名/加密后重新发送",
    ".vcf": "电子名片，不是报表",
    ".msg": "Outlook 邮件文件（.msg）无法打开，请直接发送 Excel 文件",
}
KNOWN_EXTS = {*OTHER_KINDS, *IMAGE_EXTS, ".zip", ".eml", ".dat"}
SIGNATURE_MAX_BYTES = 100 * 1024  # logos are a few KB; a photo of the form is far larger
MAX_DEPTH = 40  # MIME levels (a forward adds 3 or 4), zips and winmail.dat together; guards recursion
JUNK = re.compile(r"(^|/)(__MACOSX/|\._|\.DS_Store$|Thumbs\.db$|desktop\.ini$)", re.I)
TNEF_MAGIC = b"\x78\x9f\x3e\x22"
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, RuntimeError, zlib.error, KeyError)


@dataclass(frozen=True)
class ZipLimits:
    max_members: int = 500
    max_total_bytes: int = 200 * 1024 * 1024  # all unpacked from one message together
    max_ratio: float = 100.0  # per member: workbooks are compressed already, a bomb is not
    ratio_floor: int = 1024 * 1024  # small members may compress well without being suspect
    max_nesting: int = 2  # a zip inside a zip is opened; one inside that is not


DEFAULT_ZIP_LIMITS = ZipLimits()


@dataclass(frozen=True)
class Attachment:
    name: str  # decoded file name, never mojibake, never U+FFFD
    data: bytes
    content_type: str  # as declared ("application/octet-stream" inside zips and winmail.dat)
    path: str  # where it was found, e.g. "转发邮件 > 报表.zip > 青龙村.xlsx"


@dataclass(frozen=True)
class Ignored:
    name: str  # the path, as for Attachment, so the clerk can find it
    reason: str
    ours: bool = False  # a file we mailed out, come back unchanged


@dataclass(frozen=True)
class Message:
    message_id: str
    sender: str  # the bare address, lower-case, from From (never Reply-To)
    sender_name: str
    subject: str
    date: datetime | None
    attachments: list[Attachment] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    automatic: Automatic | None = None  # a bounce, an auto-reply, a newsletter...: never answered
    text: str = ""  # the letter's own words (first text body, tags stripped, at most TEXT_KEPT characters)
    answers_us: bool = False  # In-Reply-To/References name one of our mails, or the subject is a reply or forward
    big_link: str = ""  # a webmail's "large attachment" sent as a download link only (QQ 超大附件, 网易云附件)


# ---- text in headers -----------------------------------------------------------------------

def _part_name(part: _Part) -> tuple[str | None, str]:
    """The best file name and an extension hint from whatever could not be decoded.

    Content-Disposition filename and Content-Type name both count; a clean decoding wins, with
    an extension preferred. '?' counts as unclean: gateways that drop 8-bit bytes leave
    '????.xlsx', and Windows forbids '?' in names anyway.
    """
    good: list[str] = []
    hint = ""
    for header, key in (("content-disposition", "filename"), ("content-type", "name")):
        for text, clean, raw in param_texts(params_of(header_bytes(part, header))[1], key):
            hint = hint or extension(raw.decode("ascii", "replace"))
            if clean and "?" not in text and tidy_name(text):
                good.append(tidy_name(text))
    good.sort(key=lambda t: not extension(t))
    return (good[0] if good else None), hint


# ---- what the bytes are --------------------------------------------------------------------

_MAGIC = {b"\xff\xd8\xff": ".jpg", b"\x89PNG": ".png", b"GIF8": ".gif", b"%PDF": ".pdf", TNEF_MAGIC: ".dat"}


def _zip_names(data: bytes) -> set[str]:
    """Member names from the central directory; for a cut-off zip, those the bytes still show
    (a truncated workbook is still a workbook: the reader will say it is damaged)."""
    try:
        return set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except _ZIP_ERRORS:
        return {n.decode() for n in re.findall(rb"(?:xl|word)/(?:workbook|vbaProject|document)\.\w+", data)}


def _sniff(data: bytes) -> str:
    """The extension the content says it has, '' when unsure."""
    head = data[:100]
    if head.startswith(b"PK\x03\x04"):
        if head[30:38] == b"mimetype" and b"opendocument.spreadsheet" in head[38:]:
            return ".ods"
        names = _zip_names(data)
        if "xl/workbook.xml" in names:
            return ".xlsm" if "xl/vbaProject.bin" in names else ".xlsx"
        return ".xlsb" if "xl/workbook.bin" in names else ".docx" if "word/document.xml" in names else ".zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE: .xls, .et, .doc, ...
        window = data[: 512 * 1024]
        if "WordDocument".encode("utf-16-le") in window:
            return ".doc"
        return ".xls" if "Book".encode("utf-16-le") in window else ""  # "Workbook" or Excel 95's "Book"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return ".heic"  # iPhone photos
    return next((ext for magic, ext in _MAGIC.items() if head.startswith(magic)), "")


def _payload(part: _Part) -> tuple[bytes, bool]:
    """The decoded body of a leaf part, and whether it could be decoded."""
    cte = (header_bytes(part, "content-transfer-encoding") or b"").strip().lower()
    payload = part.get_payload()
    if cte == b"base64":  # straight from the parser's text: no copy of a large attachment
        return b64_lenient(payload if isinstance(payload, (str, bytes)) else b"")
    raw = as_bytes(payload) if isinstance(payload, (str, bytes)) else b""
    if cte == b"quoted-printable":
        return binascii.a2b_qp(raw), True
    if cte in (b"x-uuencode", b"uuencode", b"x-uue"):
        decoded = part.get_payload(decode=True)
        return (decoded, True) if isinstance(decoded, bytes) else (b"", False)
    # 8bit, binary, 7bit or none: the bytes as sent. get_payload() without decode turns every non-ASCII byte
    # into U+FFFD (compat32 decodes its surrogates with 'replace'); with decode it gives the kept bytes back
    kept = part.get_payload(decode=True)
    return (kept if isinstance(kept, bytes) else raw), True


TEXT_KEPT = 2000
# webmails send a file over their limit as a link in the body (QQ 超大附件 / 文件中转站, 网易 163/126 云附件)
# (kind, the link's address anywhere in the raw body, the webmail's words in the sender's own text): the words
# alone are looked for only before a quote — a reply quoting our "请用普通附件重新发送" names 超大附件 itself
BIG_LINKS = (
    ("QQ邮箱超大附件", re.compile(r"ftn_handler|ftnExs_download|wx\.mail\.qq\.com/ftn", re.I), re.compile(r"超大附件|文件中转站")),
    ("网易邮箱云附件", re.compile(r"NeteaseBigAttach|mail\.163\.com/large-attachment|large-attachment-download", re.I),
     re.compile(r"云附件")),
)
# where a reply's quote of the mail it answers begins (QQ, 163, Foxmail, Outlook): the letter's own words end there
QUOTE_START = re.compile(r"-{3,}\s*(原始邮件|Original Message)|^\s*>|^\s*(发件人|From)\s*[:：]|在 .{4,60}写道[:：]", re.I | re.M)
REPLY_SUBJECT = re.compile(r"^\s*(re|fw|fwd|答复|回复|转发)\s*[:：]", re.I)


def _body_text(data: bytes, charset: str, tagged: bool) -> tuple[str, str]:
    """A body's words (tags stripped) and, from its raw text with the links in it, the large-attachment kind."""
    raw = decode_bytes(data, charset) or data.decode("utf-8", "replace")
    link = next((kind for kind, address, _ in BIG_LINKS if address.search(raw)), "")
    if tagged:
        raw = html.unescape(re.sub(r"(?is)<(script|style)\b.*?</\1>|<br\s*/?>|</(p|div)>", "\n", raw))
        raw = re.sub(r"<[^>]+>", " ", raw)
    quote = QUOTE_START.search(raw)
    own = raw[: quote.start()] if quote and quote.start() > 0 else raw
    link = link or next((kind for kind, _, words in BIG_LINKS if words.search(own)), "")
    return " ".join(own.split())[:TEXT_KEPT], link


class _Walk:
    def __init__(self, limits: ZipLimits, cids: set[str]) -> None:
        self.limits, self.cids = limits, cids
        self.found: list[Attachment] = []
        self.ignored: list[Ignored] = []
        self.unnamed = self.unpacked = 0
        self.texts: list[str] = []  # the letter's bodies, outermost first
        self.big_link = ""

    def ignore(self, trail: list[str], reason: str) -> None:
        self.ignored.append(Ignored(" > ".join(trail), reason))

    def fallback(self, ext: str, ctype: str = "") -> str:
        """A safe name for a part whose own name is missing or undecodable."""
        self.unnamed += 1
        return f"附件{self.unnamed}{ext or mimetypes.guess_extension(ctype) or '.dat'}"

    def part(self, part: _Part, trail: list[str], depth: int) -> None:
        if depth > MAX_DEPTH:
            return self.ignore([*trail, "……"], "邮件嵌套过深，未继续查找")
        ctype = params_of(header_bytes(part, "content-type"))[0]
        ctype = ctype if "/" in ctype else part.get_default_type()
        kids = part.get_payload()
        if isinstance(kids, list):  # multipart/*, or message/* which compat32 parsed for us
            here = [*trail, "转发邮件"] if ctype.startswith("message/") else trail
            cte = (header_bytes(part, "content-transfer-encoding") or b"").strip().lower()
            first = kids[0] if kids else None
            if here is not trail and cte in (b"base64", b"quoted-printable") and isinstance(first, _Part):
                # a forwarded message sent base64-encoded (illegal, but clients do it): compat32
                # read the base64 text as a headerless message, so decode and parse it again
                first["Content-Transfer-Encoding"] = cte.decode()
                kids = [_parse(_payload(first)[0])]
            if ctype != "message/delivery-status":
                for child in kids:
                    if isinstance(child, _Part):
                        self.part(child, here, depth + 1)
            return None
        data, intact = _payload(part)
        part.set_payload("")  # decoded: the encoded text is not needed again (memory: one part at a time)
        if ctype.startswith("multipart/"):  # boundary missing or wrong: find it in the body
            m = re.search(rb'^--([^\r\n"]{1,70}?)[ \t]*\r?$', data, re.M)
            fixed = _parse(b'Content-Type: multipart/mixed; boundary="' + m[1] + b'"\r\n\r\n' + data) if m else None
            return self.part(fixed, trail, depth + 1) if fixed and fixed.is_multipart() else None
        name, hint = _part_name(part)
        disposition = params_of(header_bytes(part, "content-disposition"))[0]
        if name is None and ctype.startswith("text/") and ctype not in ("text/calendar", "text/csv"):
            if disposition != "attachment":  # a message body, not an attachment: kept for the clerk
                if intact and len(self.texts) < 4:
                    charset = params_of(header_bytes(part, "content-type"))[1].get("charset", b"").decode("ascii", "replace")
                    text, link = _body_text(data[:200_000], charset, ctype == "text/html")
                    self.texts.append(text)
                    self.big_link = self.big_link or link
                return None
        if not data or not intact:
            reason = "附件为空" if intact else "附件内容无法解码（邮件可能已损坏），请重新发送"
            return self.ignore([*trail, name or self.fallback(hint, ctype)], reason)
        cid = decode_header_text(header_bytes(part, "content-id") or b"").strip("<> ").lower()
        return self.item(name, hint, data, ctype, trail, depth, cid=cid)

    def item(self, name: str | None, hint: str, data: bytes, ctype: str, trail: list[str], depth: int,
             zips: int = 0, cid: str = "") -> None:
        if depth > MAX_DEPTH:
            return self.ignore([*trail, name or "……"], "邮件嵌套过深，未继续查找")
        sniffed = _sniff(data)
        ext = extension(name or "") or hint
        if ext not in WORKBOOK_EXTS:
            if sniffed in (".xlsx", ".xlsm", ".ods"):
                ext = sniffed  # an OOXML/ODF package says what it is: trust that over the name
            elif ext not in KNOWN_EXTS and (sniffed == ".xls" or ctype in EXCEL_TYPES):
                ext = sniffed if sniffed == ".xls" else EXCEL_TYPES[ctype]
        label = name or self.fallback(ext or sniffed, ctype)
        if ext in WORKBOOK_EXTS and not label.lower().endswith(ext):
            label += ext
        here = [*trail, label]
        if ext in WORKBOOK_EXTS:
            self.found.append(Attachment(label, data, ctype, " > ".join(here)))
        elif sniffed == ".dat" or ctype == "application/ms-tnef" or label.lower() == "winmail.dat":
            self.tnef(data, here, depth, zips)
        elif ext == ".eml" or ctype == "message/rfc822":
            self.part(_parse(data), here, depth + 1)
        elif ext == ".zip" or (ext not in OTHER_KINDS and (sniffed == ".zip" or ctype in ZIP_TYPES)):
            self.zip(data, here, depth, zips + 1)
        elif ext in IMAGE_EXTS or ctype.startswith("image/") or sniffed in IMAGE_EXTS:
            logo = cid and cid in self.cids and len(data) <= SIGNATURE_MAX_BYTES
            self.ignore(here, SIGNATURE if logo else PHOTO)
        elif ctype == "text/calendar":
            self.ignore(here, OTHER_KINDS[".ics"])
        elif ctype in ("application/pkcs7-signature", "application/x-pkcs7-signature"):
            self.ignore(here, OTHER_KINDS[".p7s"])
        else:
            self.ignore(here, OTHER_KINDS.get(ext) or OTHER_KINDS.get(sniffed) or NOT_WORKBOOK)
        return None

    def zip(self, data: bytes, trail: list[str], depth: int, zips: int) -> None:
        lim = self.limits
        bomb = "压缩包解压后过大或压缩比异常，疑似压缩炸弹，已拒绝打开"
        if zips > lim.max_nesting:
            return self.ignore(trail, "压缩包嵌套过深，未打开。请直接发送 Excel 文件")
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            infos = [i for i in zf.infolist() if not i.is_dir()]
        except _ZIP_ERRORS:
            return self.ignore(trail, "压缩包已损坏或不完整，无法打开。请重新压缩后发送，或直接发送 Excel 文件")
        if len(infos) > lim.max_members:
            return self.ignore(trail, f"压缩包内文件过多（{len(infos)} 个），疑似恶意文件，已拒绝打开")
        if self.unpacked + sum(i.file_size for i in infos) > lim.max_total_bytes or any(
            i.file_size > lim.ratio_floor and i.file_size > lim.max_ratio * max(i.compress_size, 1) for i in infos
        ):
            return self.ignore(trail, bomb)
        if any(i.flag_bits & 0x1 for i in infos):
            return self.ignore(trail, "压缩包设置了密码，无法打开。请直接发送 Excel 文件（不要加密）")
        for info in infos:
            # Chinese Windows writes GBK names without the UTF-8 flag (bit 11), and zipfile read
            # them as cp437: take the bytes back and decode them as utf-8, else gb18030
            utf8 = info.flag_bits & 0x800
            decoded = info.filename if utf8 else decode_bytes(info.filename.encode("cp437", "replace"))
            if decoded is not None and JUNK.search(decoded):
                continue  # macOS and Windows bookkeeping, never sent on purpose
            hint = extension(info.filename)
            name = (tidy_name(decoded) if decoded else "") or self.fallback(hint)
            if name.startswith("~$"):
                self.ignore([*trail, name], "Excel 临时文件（不是报表）")
                continue
            try:
                with zf.open(info) as fp:  # read at most what the budget allows, whatever the header says
                    member = fp.read(lim.max_total_bytes - self.unpacked + 1)
            except NotImplementedError:  # e.g. Deflate64 from Windows Explorer
                self.ignore([*trail, name], "压缩方式不受支持，请直接发送 Excel 文件")
                continue
            except _ZIP_ERRORS:
                self.ignore([*trail, name], "压缩包中的文件已损坏，无法解压")
                continue
            self.unpacked += len(member)
            if self.unpacked > lim.max_total_bytes:
                return self.ignore(trail, bomb)
            self.item(name, hint, member, "application/octet-stream", trail, depth + 1, zips)
        return None

    def tnef(self, data: bytes, trail: list[str], depth: int, zips: int) -> None:
        try:
            from tnefparse.tnef import TNEF  # the maintained pure-Python TNEF reader on PyPI
        except ImportError:
            return self.ignore(trail, "Outlook 的 winmail.dat 无法解开（缺少 tnefparse），请对方以普通附件重新发送")
        try:
            parsed = TNEF(data, do_checksum=False)
            items = [(_tnef_name(att, parsed.codepage), bytes(att.data or b"")) for att in parsed.attachments]
        except Exception:  # a third-party parser on hostile bytes: any failure just means unreadable
            return self.ignore(trail, "Outlook 的 winmail.dat 已损坏，无法解开。请对方以普通附件重新发送")
        for name, member in items:
            if member:
                self.item(name, extension(name or ""), member, "application/octet-stream", trail, depth + 1, zips)
        return None


def _tnef_name(att: object, codepage: str | None) -> str | None:
    # The long name (PidTagAttachLongFilename, 0x3707) first. tnefparse's own .name decodes the
    # short attAttachTitle as UTF-8, which fails on the GBK Chinese Outlook writes there.
    for prop in getattr(att, "mapi_attrs", []):
        if prop.name == 0x3707 and isinstance(prop.data, str) and tidy_name(prop.data):
            return tidy_name(prop.data)
    raw = getattr(att, "_name", b"")
    text = raw if isinstance(raw, str) else decode_bytes(raw.rstrip(b"\x00"), codepage or "")
    return tidy_name(text) if text and "?" not in text and tidy_name(text) else None


def _html_cids(part: _Part, depth: int = 0) -> set[str]:
    """Content-IDs that an HTML body shows inline: those images belong to the letter itself."""
    payload = part.get_payload()
    if isinstance(payload, list):
        kids = [p for p in payload if isinstance(p, _Part)] if depth < MAX_DEPTH else []
        return set().union(*(_html_cids(p, depth + 1) for p in kids))
    if params_of(header_bytes(part, "content-type"))[0] != "text/html":
        return set()
    found = re.findall(rb"""cid:([^"'\s>)]+)""", _payload(part)[0], re.I)
    return {unquote_to_bytes(c).decode("utf-8", "replace").lower() for c in found}


def parse_message(raw: bytes | Path, limits: ZipLimits = DEFAULT_ZIP_LIMITS) -> Message:
    """Everything in one raw message (as fetched over IMAP, or its archived .eml file: read in
    slices, so that the message's bytes need not be in memory beside its parsed form) that could
    be a report workbook."""
    digest = hashlib.sha256()
    try:
        msg = _parse(raw if isinstance(raw, Path) else bytes(raw), digest)
    except OSError:
        raise  # the archived file could not be read: this computer's trouble, not the message's
    except Exception:  # never raise on a hostile message: say what happened instead
        msg = None
    fallback_id = "sha256:" + digest.hexdigest()
    try:
        if msg is None:
            raise ValueError
        message_id = decode_header_text(header_bytes(msg, "message-id") or b"").strip("<> ") or fallback_id
        name, sender = sender_of(header_bytes(msg, "from"))
        subject = decode_header_text(header_bytes(msg, "subject") or b"")
        date = date_of(header_bytes(msg, "date"))
    except Exception:  # never raise on a hostile message: say what happened instead
        return Message(fallback_id, "", "", "", None, [], [Ignored("邮件", "邮件无法解析，请对方重新发送")])
    walk = _Walk(limits, set())
    try:
        walk.cids = _html_cids(msg)
        walk.part(msg, [], 0)
    except Exception:  # keep what was found before the damage
        walk.ignore(["邮件"], "邮件结构已损坏，部分附件可能未能取出，请对方重新发送")
    threads = decode_header_text((header_bytes(msg, "in-reply-to") or b"") + b" " + (header_bytes(msg, "references") or b""))
    answers = "<huizong." in threads or bool(REPLY_SUBJECT.match(subject))
    text = next((t for t in walk.texts if t), "")
    return Message(message_id, sender, name, subject, date, walk.found, walk.ignored, automatic(msg), text, answers, walk.big_link)
