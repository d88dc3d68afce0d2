"""Attachments out of raw e-mail, as Chinese mail clients really send them.

Messages are built here: with ``email.mime`` where that reproduces the client faithfully, and as
literal CRLF bytes where the client's quirks matter (raw 8-bit headers, GBK labelled GB2312,
encoded words split inside a character, RFC 2231 continuations, QQ Mail's encoded words in quotes).
"""

from __future__ import annotations

import base64
import io
import struct
import sys
import zipfile
from datetime import timedelta, timezone
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from urllib.parse import quote_from_bytes

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.intake.mime import (
    PHOTO,
    SIGNATURE,
    Message,
    ZipLimits,
    decode_header_text,
    parse_message,
)

QINGLONG = "青龙村2026年10月报表.xlsx"
RONGJI = "镕基村月报（更正）.xlsx"  # 镕 is GBK, not GB2312
YAN = "䶮村报表.xlsx"  # 䶮 (U+4DAE) exists only in GB18030
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


def make_xlsx(text: str = "青龙村") -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.add_worksheet("村月报").write(0, 0, text)
    wb.close()
    return buf.getvalue()


XLSX = make_xlsx()
XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "Workbook".encode("utf-16-le") + b"\x00" * 1024


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def ew(text: str, charset: str, label: str | None = None, q: bool = False) -> bytes:
    data = text.encode(charset)
    if q:
        body = "".join(f"={b:02X}" if b > 127 or chr(b) in "=?_ " else chr(b) for b in data).encode()
        return b"=?" + (label or charset).encode() + b"?Q?" + body + b"?="
    return b"=?" + (label or charset).encode() + b"?B?" + base64.b64encode(data) + b"?="


def part(headers: bytes, data: bytes) -> bytes:
    return headers.rstrip(b"\r\n") + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(data)


def attach(filename: bytes | None = None, name: bytes | None = None, data: bytes = XLSX,
           ctype: bytes = b"application/octet-stream", disposition: bytes = b"attachment") -> bytes:
    ct = ctype + (b';\r\n\tname="' + name + b'"' if name is not None else b"")
    cd = disposition + (b';\r\n\tfilename="' + filename + b'"' if filename is not None else b"")
    return part(b"Content-Type: " + ct + b"\r\nContent-Disposition: " + cd, data)


def eml(*parts: bytes, headers: bytes = b"", boundary: bytes = b"----=_NextPart_5F3A") -> bytes:
    head = (
        b"From: =?GBK?B?" + base64.b64encode("青龙村文书".encode("gbk")) + b"?= <QingLong@Example.COM>\r\n"
        b"To: zhen@example.gov.cn\r\nSubject: 10\xd4\xc2\xb1\xa8\xb1\xed\r\n"
        b"Date: Mon, 2 Nov 2026 09:15:00 +0800\r\nMessage-ID: <20261102091500.1@qq.com>\r\n"
        b"MIME-Version: 1.0\r\n" + headers +
        b'Content-Type: multipart/mixed;\r\n\tboundary="' + boundary + b'"\r\n\r\nThis is a multi-part message.\r\n\r\n'
    )
    body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    text = part(b"Content-Type: text/plain; charset=gbk", "请查收报表".encode("gbk"))
    return head + b"--" + boundary + b"\r\n" + text + b"\r\n" + body + b"--" + boundary + b"--\r\n"


def names(msg: Message) -> list[str]:
    return [a.name for a in msg.attachments]


def only(msg: Message) -> str:
    assert len(msg.attachments) == 1, (msg.attachments, msg.ignored)
    a = msg.attachments[0]
    assert a.data == XLSX
    assert "\ufffd" not in a.name
    return a.name


# ---- RFC 2047 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        (ew(QINGLONG, "gb2312", "GB2312"), QINGLONG),
        (ew(QINGLONG, "gbk", "gbk", q=True), QINGLONG),
        (ew(QINGLONG, "gb18030", "GB18030"), QINGLONG),
        (ew(QINGLONG, "utf-8", "UTF-8"), QINGLONG),
        (ew(QINGLONG, "utf-8", "utf-8", q=True), QINGLONG),
        (ew("青龍村報表.xlsx", "big5", "big5"), "青龍村報表.xlsx"),
        (ew(RONGJI, "gbk", "GB2312"), RONGJI),  # GBK bytes under a GB2312 label
        (ew(YAN, "gb18030", "gb2312"), YAN),
        (ew(RONGJI, "gbk", "x-gbk", q=True), RONGJI),
    ],
)
def test_encoded_word_names(word: bytes, expected: str) -> None:
    assert only(parse_message(eml(attach(filename=word, name=word)))) == expected


def test_encoded_word_split_inside_a_character() -> None:
    for charset in ("utf-8", "gbk"):
        raw = QINGLONG.encode(charset)
        cut = 1  # in the middle of 青
        words = [b"=?" + charset.encode() + b"?B?" + base64.b64encode(c) + b"?=" for c in (raw[:cut], raw[cut:])]
        assert only(parse_message(eml(attach(filename=b"\r\n ".join(words))))) == QINGLONG
    # different labels of one family still join: GB2312 first half, GBK second half
    raw = RONGJI.encode("gbk")
    split = b"=?GB2312?B?" + base64.b64encode(raw[:3]) + b"?= =?GBK?B?" + base64.b64encode(raw[3:]) + b"?="
    assert only(parse_message(eml(attach(filename=split)))) == RONGJI


def test_qq_mail_style_encoded_word_in_quotes_and_gb18030_charset() -> None:
    word = ew(QINGLONG, "gb18030", "gb18030")
    p = part(b'Content-Type: application/octet-stream; charset="gb18030"; name="' + word + b'"\r\n'
             b'Content-Disposition: attachment; filename="' + word + b'"', XLSX)
    assert only(parse_message(eml(p))) == QINGLONG


@pytest.mark.parametrize("charset", ["utf-8", "gbk"])
def test_raw_8bit_name_without_any_encoding(charset: str) -> None:
    raw = RONGJI.encode(charset)
    assert only(parse_message(eml(attach(filename=raw, name=raw)))) == RONGJI
    unquoted = part(b"Content-Type: application/vnd.ms-excel\r\nContent-Disposition: attachment; filename=" + raw, XLSX)
    assert only(parse_message(eml(unquoted))) == RONGJI


# ---- RFC 2231 ------------------------------------------------------------------------------


def test_rfc2231_single_and_continuations() -> None:
    gbk = QINGLONG.encode("gbk")
    single = part(b"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n"
                  b"Content-Disposition: attachment; filename*=GBK''" + quote_from_bytes(gbk).encode(), XLSX)
    assert only(parse_message(eml(single))) == QINGLONG
    utf = RONGJI.encode("utf-8")  # Thunderbird: continuations, cut inside a character
    cont = part(b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n"
                b" filename*0*=UTF-8''" + quote_from_bytes(utf[:4]).encode() + b";\r\n"
                b" filename*1*=" + quote_from_bytes(utf[4:]).encode(), XLSX)
    assert only(parse_message(eml(cont))) == RONGJI
    plain = part(b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n'
                 b' filename*1=".xlsx"; filename*0="report-10"', XLSX)
    assert only(parse_message(eml(plain))) == "report-10.xlsx"
    gb = part(b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n"
              b" filename*0*=gb2312'zh-cn'" + quote_from_bytes(RONGJI.encode("gbk")[:5]).encode() +
              b";\r\n filename*1*=" + quote_from_bytes(RONGJI.encode("gbk")[5:]).encode(), XLSX)
    assert only(parse_message(eml(gb))) == RONGJI


def test_prefers_the_name_that_decodes_cleanly() -> None:
    # a gateway stripped the 8-bit filename to '?'; Content-Type name still has it right
    p = attach(filename=b"????????.xlsx", name=ew(QINGLONG, "gbk"))
    assert only(parse_message(eml(p))) == QINGLONG
    p = attach(filename=b"\xff\xfe\xfd\x80.xlsx", name=ew(RONGJI, "utf-8"))
    assert only(parse_message(eml(p))) == RONGJI


def test_both_rfc2231_and_plain_forms_take_the_clean_one() -> None:
    p = part(b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n"
             b" filename*=utf-8''%3F%3F%3F%3F.xlsx;\r\n filename=\"" + ew(RONGJI, "utf-8") + b'"', XLSX)
    assert only(parse_message(eml(p))) == RONGJI


def test_undecodable_name_falls_back_to_safe_name_and_goes_on() -> None:
    p = attach(filename=b"\xff\xfe\xfd\x80.xlsx")
    msg = parse_message(eml(p, attach(filename=ew(QINGLONG, "gbk"))))
    assert names(msg) == ["附件1.xlsx", QINGLONG]


# ---- the whole MIME tree -------------------------------------------------------------------


def _mime_message(inner: MIMEMultipart | MIMEApplication, subject: str = "转发：10月报表") -> MIMEMultipart:
    outer = MIMEMultipart("mixed")
    outer["From"] = "镇政府 <zhen@example.gov.cn>"
    outer["Subject"] = subject
    outer.attach(MIMEText("见附件", "plain", "utf-8"))
    outer.attach(inner)
    return outer


def _xlsx_part(name: str, data: bytes = XLSX, disposition: str = "attachment") -> MIMEApplication:
    p = MIMEApplication(data, "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    p.add_header("Content-Disposition", disposition, filename=("utf-8", "", name))
    return p


def test_forwarded_messages_several_levels_deep() -> None:
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("青龙村.xlsx", XLSX)
    z = MIMEApplication(zbuf.getvalue(), "zip")
    z.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "报表.zip"))
    level1 = _mime_message(z, "青龙村报表")
    level1.attach(_xlsx_part(QINGLONG))
    level2 = _mime_message(MIMEMessage(level1))
    level3 = _mime_message(MIMEMessage(level2))
    msg = parse_message(_mime_message(MIMEMessage(level3)).as_bytes())
    paths = [a.path for a in msg.attachments]
    assert paths == [
        "转发邮件 > 转发邮件 > 转发邮件 > 报表.zip > 青龙村.xlsx",
        f"转发邮件 > 转发邮件 > 转发邮件 > {QINGLONG}",
    ]
    assert msg.ignored == []


def test_forwarded_message_sent_base64_and_eml_file_attached() -> None:
    inner = eml(attach(filename=ew(QINGLONG, "gbk")))
    fwd = part(b"Content-Type: message/rfc822", inner)  # Content-Transfer-Encoding: base64, illegal but sent
    eml_file = attach(filename=ew("青龙村的邮件.eml", "gbk"), data=eml(attach(filename=ew(RONGJI, "gbk"))))
    msg = parse_message(eml(fwd, eml_file))
    assert [a.path for a in msg.attachments] == [f"转发邮件 > {QINGLONG}", f"青龙村的邮件.eml > {RONGJI}"]


def test_alternative_related_and_inline_parts() -> None:
    # An iPhone/Android mail: HTML body with a signature logo and a photo, workbook sent inline
    related = MIMEMultipart("related")
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("报表见附件", "plain", "utf-8"))
    alt.attach(MIMEText('<p>报表</p><img src="cid:logo@qq"><img src="cid:photo1">', "html", "utf-8"))
    related.attach(alt)
    logo = MIMEImage(PNG, "png")
    logo.add_header("Content-ID", "<logo@qq>")
    related.attach(logo)
    photo = MIMEImage(JPEG * 200, "jpeg")
    photo.add_header("Content-ID", "<photo1>")
    photo.add_header("Content-Disposition", "inline", filename="IMG_0001.JPG")
    related.attach(photo)
    related.attach(_xlsx_part(RONGJI, disposition="inline"))
    heic = MIMEApplication(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, "octet-stream")
    heic.add_header("Content-Disposition", "attachment", filename="IMG_0002.HEIC")
    outer = _mime_message(related)
    outer.attach(heic)
    msg = parse_message(outer.as_bytes())
    assert names(msg) == [RONGJI]
    reasons = {i.name: i.reason for i in msg.ignored}
    assert reasons == {"附件1.png": SIGNATURE, "IMG_0001.JPG": PHOTO, "IMG_0002.HEIC": PHOTO}


def test_other_files_are_listed_with_a_reason_bodies_are_not() -> None:
    cal = part(b"Content-Type: text/calendar; method=REQUEST; charset=utf-8", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR")
    msg = parse_message(eml(
        attach(filename=ew("说明.docx", "gbk"), data=b"PK\x03\x04word"),
        attach(filename=b"scan.pdf", data=b"%PDF-1.4 ..."),
        attach(filename=ew("数据.txt", "utf-8"), data=b"1,2,3"),
        attach(filename=b"photo.jpg", data=JPEG),
        attach(filename=b"report.rar", data=b"Rar!\x1a\x07\x00"),
        cal,
    ))
    assert msg.attachments == []
    got = {i.name: i.reason for i in msg.ignored}
    assert got["说明.docx"].startswith("不是 Excel 工作簿")
    assert "PDF" in got["scan.pdf"] and "文本" in got["数据.txt"]
    assert got["photo.jpg"] == PHOTO
    assert "压缩包格式" in got["report.rar"]
    assert got["附件1.ics"].startswith("日历邀请")
    assert len(got) == 6  # the text body is not listed


def test_ods_and_heic_are_sniffed_from_content() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", "<office:document-content/>")
    heic = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64
    msg = parse_message(eml(attach(filename=ew("白云村", "gbk"), data=buf.getvalue()), attach(data=heic)))
    assert names(msg) == ["白云村.ods"]
    assert [(i.name, i.reason) for i in msg.ignored] == [("附件1.heic", PHOTO)]


@pytest.mark.parametrize(
    ("filename", "ctype", "data", "expected"),
    [
        (ew("报表", "gbk"), b"application/octet-stream", XLSX, "报表.xlsx"),  # no extension: sniffed
        (None, b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", XLSX, "附件1.xlsx"),
        (ew("青龙村.xls", "gbk"), b"application/vnd.ms-excel", XLS, "青龙村.xls"),
        (ew("青龙村", "gbk"), b"application/vnd.ms-excel", XLS, "青龙村.xls"),
        (ew("青龙村.et", "gbk"), b"application/octet-stream", XLS, "青龙村.et"),  # kept: the reader explains
        (b"cunbao.ods", b"application/vnd.oasis.opendocument.spreadsheet", b"PK\x03\x04ods", "cunbao.ods"),
        (b"macro.xlsm", b"application/octet-stream", b"PK\x03\x04..", "macro.xlsm"),
    ],
)
def test_workbooks_by_name_type_and_content(filename: bytes | None, ctype: bytes, data: bytes, expected: str) -> None:
    msg = parse_message(eml(attach(filename=filename, ctype=ctype, data=data)))
    assert names(msg) == [expected], msg.ignored
    assert msg.attachments[0].data == data


# ---- zip, winmail.dat ----------------------------------------------------------------------


def gbk_zip(members: dict[str, bytes], utf8: dict[str, bytes] | None = None) -> bytes:
    """A zip as Chinese Windows writes it: GBK member names, no UTF-8 flag (bit 11); ``utf8``
    members as 7-Zip or Python write them, UTF-8 with the flag. Names are patched in afterwards
    (same length ASCII placeholders), because zipfile itself always writes UTF-8."""
    buf = io.BytesIO()
    swaps = {}
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, data) in enumerate(members.items()):
            raw = name.encode("gbk")
            placeholder = f"{i:02d}".encode() + b"x" * (len(raw) - 2)
            swaps[placeholder] = raw
            zf.writestr(placeholder.decode(), data)
        for name, data in (utf8 or {}).items():
            zf.writestr(name, data)
    out = buf.getvalue()
    for placeholder, raw in swaps.items():
        out = out.replace(placeholder, raw)
    return out


def test_zip_with_gbk_and_utf8_member_names_and_one_nested_level() -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("内层/白云村.xlsx", XLSX)  # Python writes UTF-8 names with the flag
    outer = gbk_zip({"报表/青龙村.xlsx": XLSX, "照片.jpg": JPEG, "~$青龙村.xlsx": b"lock", "内层.zip": inner.getvalue()},
                    {"__MACOSX/._报表.xlsx": b"junk", RONGJI: XLSX})
    msg = parse_message(eml(attach(filename=ew("十月报表.zip", "gbk"), ctype=b"application/x-zip-compressed",
                                   data=outer)))
    assert [a.path for a in msg.attachments] == [
        "十月报表.zip > 青龙村.xlsx", "十月报表.zip > 内层.zip > 白云村.xlsx", f"十月报表.zip > {RONGJI}"]
    assert {i.name: i.reason for i in msg.ignored} == {
        "十月报表.zip > 照片.jpg": PHOTO, "十月报表.zip > ~$青龙村.xlsx": "Excel 临时文件（不是报表）"}


def _zip_of(name: str, data: bytes, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


def test_zip_too_deep_bomb_broken_encrypted_and_crowded() -> None:
    three = _zip_of("b.zip", _zip_of("c.zip", _zip_of("青龙村.xlsx", XLSX)))
    bomb = _zip_of("青龙村.xlsx", b"\x00" * (8 * 1024 * 1024))
    encrypted = bytearray(_zip_of("青龙村.xlsx", XLSX))
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set bit 0 in both headers
        pos = encrypted.find(sig)
        encrypted[pos + flag_at] |= 1
    crowded = io.BytesIO()
    with zipfile.ZipFile(crowded, "w") as zf:
        for i in range(30):
            zf.writestr(f"{i}.xlsx", XLSX)
    msg = parse_message(eml(
        attach(filename=b"three.zip", data=three), attach(filename=b"bomb.zip", data=bomb),
        attach(filename=b"broken.zip", data=XLSX[:200]), attach(filename=b"locked.zip", data=bytes(encrypted)),
        attach(filename=b"crowded.zip", data=crowded.getvalue()),
    ), ZipLimits(max_members=20))
    assert msg.attachments == []
    got = {i.name: i.reason for i in msg.ignored}
    assert "嵌套过深" in got["three.zip > b.zip > c.zip"]
    assert "压缩炸弹" in got["bomb.zip"]
    assert "损坏" in got["broken.zip"]
    assert "密码" in got["locked.zip"]
    assert "过多" in got["crowded.zip"]


def test_zip_total_size_limit_across_the_message() -> None:
    z = _zip_of("青龙村.xlsx", XLSX, zipfile.ZIP_STORED)
    msg = parse_message(eml(attach(filename=b"a.zip", data=z), attach(filename=b"b.zip", data=z)),
                        ZipLimits(max_total_bytes=len(XLSX) + 10))
    assert names(msg) == ["青龙村.xlsx"]
    assert "压缩炸弹" in msg.ignored[0].reason and msg.ignored[0].name == "b.zip"


def tnef_attr(level: int, attr_id: int, data: bytes) -> bytes:
    """One TNEF attribute (MS-OXTNEF 2.1.3.1): level, id, length, data, checksum (sum of data bytes)."""
    return struct.pack("<BII", level, attr_id, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def tnef_blob(files: list[tuple[bytes, str | None, bytes]]) -> bytes:
    """A minimal winmail.dat built by hand following MS-OXTNEF (tnefparse has no writer):
    attTnefVersion, attOemCodepage 936, and per file attAttachRendData, attAttachTitle (OEM code
    page bytes), attAttachData and optionally attAttachment with PidTagAttachLongFilename (PT_UNICODE)."""
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += tnef_attr(1, 0x00089006, struct.pack("<I", 0x00010000))
    out += tnef_attr(1, 0x00069007, struct.pack("<II", 936, 0))
    for title, long_name, data in files:
        out += tnef_attr(2, 0x00069002, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))
        out += tnef_attr(2, 0x00018010, title + b"\x00")
        out += tnef_attr(2, 0x0006800F, data)
        if long_name is not None:
            value = (long_name + "\x00").encode("utf-16-le")
            prop = struct.pack("<HHII", 0x001F, 0x3707, 1, len(value)) + value + b"\x00" * (-len(value) % 4)
            out += tnef_attr(2, 0x00069005, struct.pack("<I", 1) + prop)
    return out


def test_outlook_winmail_dat() -> None:
    pytest.importorskip("tnefparse")
    blob = tnef_blob([
        ("青龙村~1.XLS".encode("gbk"), QINGLONG, XLSX),  # long name from the MAPI property
        (RONGJI.encode("gbk"), None, XLSX),  # only the GBK title
        (b"image001.jpg", None, JPEG),
    ])
    msg = parse_message(eml(attach(filename=b"winmail.dat", ctype=b"application/ms-tnef", data=blob)))
    assert [a.path for a in msg.attachments] == [f"winmail.dat > {QINGLONG}", f"winmail.dat > {RONGJI}"]
    assert [(i.name, i.reason) for i in msg.ignored] == [("winmail.dat > image001.jpg", PHOTO)]
    broken = parse_message(eml(attach(filename=b"winmail.dat", ctype=b"application/ms-tnef", data=blob[:40])))
    assert broken.attachments == []


def test_winmail_dat_without_tnefparse_is_listed_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tnefparse.tnef", None)  # import now raises ImportError
    blob = tnef_blob([(b"a.xlsx", None, XLSX)])
    msg = parse_message(eml(attach(filename=b"winmail.dat", ctype=b"application/ms-tnef", data=blob)))
    assert msg.attachments == [] and "winmail.dat" in msg.ignored[0].reason


# ---- sender, date, ids ---------------------------------------------------------------------


def test_sender_subject_date_and_message_id() -> None:
    msg = parse_message(eml(attach(filename=ew(QINGLONG, "gbk")), headers=b"Reply-To: other@example.com\r\n"))
    assert msg.sender == "qinglong@example.com"
    assert msg.sender_name == "青龙村文书"
    assert msg.subject == "10月报表"  # raw 8-bit GBK subject
    assert msg.date is not None and msg.date.utcoffset() == timedelta(hours=8)
    assert msg.date.astimezone(timezone.utc).hour == 1
    assert msg.message_id == "20261102091500.1@qq.com"


def test_missing_or_bad_headers() -> None:
    raw = (b"From: \xc7\xe0\xc1\xfa\xb4\xe5 <QL@163.COM>\r\nDate: yesterday-ish\r\nSubject: "
           + ew("青龙村", "utf-8") + b" " + ew("报表", "utf-8") + b"\r\n\r\nhello\r\n")
    msg = parse_message(raw)
    assert (msg.sender, msg.sender_name, msg.subject, msg.date) == ("ql@163.com", "青龙村", "青龙村报表", None)
    assert msg.message_id.startswith("sha256:") and len(msg.message_id) == 7 + 64
    assert parse_message(raw).message_id == msg.message_id
    assert parse_message(b"From: bare@Example.com\r\n\r\n").sender == "bare@example.com"


def test_decode_header_text() -> None:
    assert decode_header_text("=?gb2312?B?" + base64.b64encode("朱镕基".encode("gbk")).decode() + "?=") == "朱镕基"
    assert decode_header_text(b"Re: \xe9\x9d\x92\xe9\xbe\x99\xe6\x9d\x91") == "Re: 青龙村"
    assert decode_header_text(b"\xc7\xe0\xc1\xfa") == "青龙"
    assert decode_header_text("=?utf-8?q?abc?= =?utf-8?q?_def?=") == "abc def"
    assert decode_header_text("=?unknown?B?" + base64.b64encode("青龙".encode("gbk")).decode() + "?=") == "青龙"
    assert "\ufffd" not in decode_header_text(b"\xff\xfe bad \x80")


# ---- malformed input -----------------------------------------------------------------------


def test_bad_base64_truncation_and_missing_boundary() -> None:
    good = b64(XLSX)
    head = b"Content-Type: application/octet-stream; name=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    bad = head % b"a.xlsx" + b"!!! not base64 at all \xc7\xe0 !!!\r\nA"  # cannot be decoded: Ignored
    cut = head % b"c.xlsx" + good[: len(good) // 2 + 1]  # cut off: decode what is there
    truncated = eml(attach(filename=b"b.xlsx"))[: len(eml()) + 300]
    msg = parse_message(eml(bad, cut))
    assert names(msg) == ["c.xlsx"]  # decoded what could be decoded: the reader will call it damaged
    assert [i.name for i in msg.ignored] == ["a.xlsx"] and "无法解码" in msg.ignored[0].reason
    assert parse_message(truncated).attachments[0].name == "b.xlsx"
    no_boundary = eml(attach(filename=b"d.xlsx")).replace(b'\tboundary="----=_NextPart_5F3A"', b"\tcharset=gbk")
    assert names(parse_message(no_boundary)) == ["d.xlsx"]


@pytest.mark.parametrize("footer", [
    b"-- \r\nScanned by the antivirus gateway: no virus found.\r\n",  # an antivirus footer after the data
    "\r\n本邮件已经过病毒扫描。\r\n".encode("gbk"),  # the same in GBK
    b"\r\n--\r\n",  # a lone line, as a cut boundary leaves
], ids=["antivirus", "gbk", "dashes"])
def test_a_footer_after_an_attachment_s_data_leaves_the_report_whole(footer: bytes) -> None:
    """A gateway or antivirus that appends a line after the base64 data (or after a message whose closing
    boundary was lost) made the whole report "附件内容无法解码": the village was told it had sent no report,
    while the data before the footer is the whole file, as mail clients read it."""
    whole = eml(attach(filename=b"a.xlsx"))
    with_footer = whole.replace(b64(XLSX), b64(XLSX) + footer)
    assert with_footer != whole
    only(parse_message(with_footer))
    no_close = whole[: whole.rindex(b"--" + b"----=_NextPart_5F3A" + b"--")] + footer  # boundary lost, footer appended
    only(parse_message(no_close))
    garbled = whole.replace(b64(XLSX)[:40], b64(XLSX)[:20] + "病毒".encode("gbk") + b64(XLSX)[20:40])
    assert not parse_message(garbled).attachments  # foreign bytes inside the data: not a footer, still not decodable
    lines = b64(XLSX).split(b"\r\n")  # one damaged character on a line in the middle (whole 76-character lines)
    middle = len(lines) // 2
    damaged = whole.replace(b64(XLSX), b"\r\n".join([*lines[:middle], lines[middle][:10] + b"\xc7" + lines[middle][11:], *lines[middle + 1:]]))
    assert not parse_message(damaged).attachments and "无法解码" in parse_message(damaged).ignored[0].reason


SAMPLE = eml(attach(filename=ew(QINGLONG, "gbk")), attach(filename=b"r.zip", data=_zip_of("x.xlsx", XLSX)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.integers(0, len(SAMPLE)), st.integers(0, len(SAMPLE)))
def test_never_raises(noise: bytes, cut: int, at: int) -> None:
    for raw in (noise, SAMPLE[:cut], SAMPLE[:at] + noise + SAMPLE[at:]):
        msg = parse_message(raw)
        assert isinstance(msg, Message)
        for text in [msg.subject, msg.sender_name, *names(msg), *(i.name for i in msg.ignored)]:
            assert "\ufffd" not in text


@pytest.mark.parametrize("cte", [b"8bit", b"binary"])
def test_an_attachment_sent_as_raw_bytes_arrives_whole(cte: bytes) -> None:
    """Content-Transfer-Encoding: 8bit or binary carries the file's bytes as they are: every non-ASCII byte
    became U+FFFD, and a good report was archived corrupted and refused (F008)."""
    raw = b"\r\n".join([
        b"From: a@b.c", b"To: clerk@township.test", b"Subject: x", b"Message-ID: <x@b.c>", b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="=B="', b"", b"--=B=", b"Content-Type: text/plain; charset=utf-8", b"",
        "请查收。".encode(), b"--=B=",
        b"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        b"Content-Transfer-Encoding: " + cte, b'Content-Disposition: attachment; filename="x.xlsx"', b"", XLSX, b"--=B=--", b""])
    (attachment,) = parse_message(raw).attachments
    assert attachment.data == XLSX


def test_a_bare_cr_in_a_header_does_not_end_the_headers() -> None:
    """A display name typed "Bai\\rShi" ended the header block at the CR: the whole message became body text,
    and a village's report was taken for spam from nobody (M008). The attachment's bytes stay as sent."""
    raw = b"\r\n".join([
        b'From: "Bai\rShi" <baishi@qq.com>', b"To: clerk@township.test", b"Subject: x", b"Message-ID: <y@qq.com>",
        b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="=B="', b"", b"--=B=",
        b"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        b"Content-Transfer-Encoding: binary", b'Content-Disposition: attachment; filename="x.xlsx"', b"", XLSX, b"--=B=--", b""])
    message = parse_message(raw)
    assert message.sender == "baishi@qq.com" and message.subject == "x"
    (attachment,) = message.attachments
    assert attachment.data == XLSX


@pytest.mark.parametrize("size", [7, 10, 13])
def test_an_encoded_word_split_inside_a_base64_group_keeps_the_name(size: int) -> None:
    """A client that splits a long name into encoded words every n characters of base64 (not every 4): each word
    decoded alone lost bits, and the report was named 附件1.xlsx in the ledger and the reply."""
    text = base64.b64encode("新河村2026年10月报表.xlsx".encode())
    words = b"\r\n ".join(b"=?UTF-8?B?" + text[i:i + size] + b"?=" for i in range(0, len(text), size))
    assert names(parse_message(eml(attach(filename=words)))) == ["新河村2026年10月报表.xlsx"]
