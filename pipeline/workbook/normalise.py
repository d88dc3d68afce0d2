"""Turn what clerks really type into typed values — and say so whenever something was changed.

Every function takes the raw cell value (as python-calamine returns it) and the field's spec, and
returns an :class:`Outcome`: the typed value (or ``None`` when the cell is empty / unusable) and
notes (catalogue code, shown value, detail). The reader adds file, sheet and cell to the notes.
Nothing here guesses silently: a normalisation is a 警告, an ambiguity is a 错误.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..programme.config import FieldSpec

Note = tuple[str, Any, str]  # (code, value shown, detail)


@dataclass
class Outcome:
    value: Any = None
    notes: list[Note] = field(default_factory=list)
    empty: bool = False  # nothing was typed

    @property
    def ok(self) -> bool:
        return self.value is not None and not any(code_is_error(c) for c, _, _ in self.notes)


def code_is_error(code: str) -> bool:
    from ..problems import CATALOGUE, Severity

    return CATALOGUE[code].severity is Severity.ERROR


_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF, 0x00AD, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_SPACES = re.compile(r"[\s\u3000\u00a0]+")
_CN_DIGITS = "零〇一二两三四五六七八九"


def clean_text(raw: Any) -> tuple[str, bool]:
    """Strip invisible characters and outer spaces, fold full-width forms. Returns (text, changed)."""
    return _clean(raw if isinstance(raw, str) else str(raw))


@functools.lru_cache(maxsize=8192)  # labels, 男/女, 按时上报 …: the same few texts in every file
def _clean(text: str, keep: frozenset[str] = frozenset()) -> tuple[str, bool]:
    """``keep``: characters left as typed (a text's Chinese punctuation), every other one folded by NFKC."""
    out = text.translate(_INVISIBLE)
    if keep.intersection(out):
        out = "".join(ch if ch in keep else unicodedata.normalize("NFKC", ch) for ch in out)
    else:
        out = unicodedata.normalize("NFKC", out)
    out = _SPACES.sub(" ", out).strip()
    return out, out != text.strip()


def label_key(text: str) -> str:
    """A label as a header or a form is matched: cleaned, spaces and a trailing colon ignored."""
    t, _ = clean_text(text)
    return t.replace(" ", "").rstrip(":：")


def _is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not clean_text(raw)[0])


def _chinese_number(text: str) -> int | None:
    """十二 → 12, 二十 → 20, 一百零五 → 105 (for the suggestion in the error message only)."""
    if not text or any(ch not in _CN_DIGITS + "十百千" for ch in text):
        return None
    digits = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
    total, current = 0, 0
    for ch in text:
        if ch in digits:
            current = digits[ch]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[ch]
            total += (current or 1) * unit
            current = 0
    return total + current


_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_GROUPED_RE = re.compile(r"^[+-]?\d{1,3}([,，]\d{3})+(\.\d+)?$")


def _parse_number_text(text: str, spec: FieldSpec, notes: list[Note], shown: Any = None) -> float | None:
    """A number typed as text, after clean_text. None (with an error note) when it is not one.

    ``shown`` is what the clerk typed (before cleaning): messages quote it, not our cleaned copy.
    """
    shown = text if shown is None else shown
    t = text
    changes = []
    if spec.unit and t.endswith(spec.unit):
        body = t[: -len(spec.unit)].strip()
        if _NUMBER_RE.match(body) or _GROUPED_RE.match(body):
            t = body
            changes.append(f"去掉单位“{spec.unit}”")
    if _GROUPED_RE.match(t):
        t = t.replace(",", "").replace("，", "")
        changes.append("去掉千位分隔符")
    elif re.fullmatch(r"[+-]?\d+( \d{3})+(\.\d+)?", t):
        t = t.replace(" ", "")
        changes.append("去掉数字中的空格")
    if changes and _NUMBER_RE.match(t):
        notes.append(("V010", shown, f"{'、'.join(changes)}后的 {t}"))
    if _NUMBER_RE.match(t):
        return float(t)
    cn = _chinese_number(t)
    if cn is not None:
        notes.append(("V007", text, f"请写成阿拉伯数字 {cn}"))
    elif re.search(r"约|大约|左右|多|余|几|~|～|-\d|\d-|至|到", t):
        notes.append(("V007", text, "不能填约数或范围"))
    elif t in ("无", "没有", "/", "-", "—", "－", "--", "——", "–", "0无", "空"):
        notes.append(("V007", text, "没有请填 0"))
    elif t.endswith("%") and spec.type != "percent":
        notes.append(("V007", text, "这里应填人数/次数，不是百分比"))
    else:
        notes.append(({"integer": "V002", "percent": "V016"}.get(spec.type, "V003"), text, ""))
    return None


def normalise_number(raw: Any, spec: FieldSpec) -> Outcome:
    out = Outcome()
    if _is_blank(raw):
        out.empty = True
        return out
    if isinstance(raw, bool):
        out.notes.append(("V002" if spec.type == "integer" else "V003", raw, ""))
        return out
    value: float | None
    if isinstance(raw, (int, float)):
        value = float(raw)
        if math.isnan(value) or math.isinf(value):
            out.notes.append(("V003", raw, ""))
            return out
    elif isinstance(raw, (date, datetime, timedelta)):
        out.notes.append(("V002" if spec.type == "integer" else "V003", raw, ""))
        return out
    else:
        text, changed = clean_text(raw)
        if spec.type == "percent" and text.endswith(("%", "％")):
            body = text.rstrip("%％").strip()
            if _NUMBER_RE.match(body):
                out.value = float(body)
                out.notes.append(("V010", raw, f"百分数 {_fmt(out.value)}"))
                return out
        value = _parse_number_text(text, spec, out.notes, raw)
        if value is None:
            return out
        if not math.isfinite(value):  # hundreds of digits: too large for any count or amount
            out.notes.append(("V019", raw, "数字过大"))
            return out
        if out.notes:
            pass  # the parser already said what it changed
        elif changed:
            out.notes.append(("V010", raw, f"数字 {_fmt(value)}（全角或多余的空格已去掉）"))
        else:
            out.notes.append(("V017", raw, ""))
    if spec.type == "percent" and 0 < value <= 1 and not isinstance(raw, str):
        # A cell formatted as 75% holds 0.75: the programme's rates are in percent points.
        out.notes.append(("V010", raw, f"百分数 {_fmt(value * 100)}%"))
        value = value * 100
    if spec.type == "integer":
        if abs(value - round(value)) > 1e-9:
            out.notes.append(("V006", _fmt(value), ""))
            return out
        out.value = int(round(value))
    else:
        decimals = spec.decimals
        out.value = round(value, decimals) if decimals is not None and abs(value - round(value, decimals)) < 1e-9 else value
    return out


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


_DATE_PATTERNS = [
    re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]
_EXCEL_EPOCH = date(1899, 12, 30)


_FIRST_YEAR, _LAST_YEAR = 1950, 2100  # a date cell holding 3 (or a time) reads as 1900-01-03: never a real date here


def normalise_date(raw: Any, spec: FieldSpec) -> Outcome:
    out = Outcome()
    if _is_blank(raw):
        out.empty = True
        return out
    if isinstance(raw, (date, datetime)):
        day = raw.date() if isinstance(raw, datetime) else raw
        if not _FIRST_YEAR <= day.year <= _LAST_YEAR:
            out.notes.append(("V011", f"{day.year}年{day.month}月{day.day}日", "单元格里可能只填了一个数字或时间，请填完整的日期，如 2026-10-03"))
            return out
        out.value = day
        return out
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if 20000 < raw < 80000 and float(raw).is_integer():
            out.value = _EXCEL_EPOCH + timedelta(days=int(raw))
            out.notes.append(("V010", _fmt(raw), f"日期 {out.value.isoformat()}（单元格是数字格式）"))
            return out
        if 19000101 <= raw <= 21001231 and float(raw).is_integer():
            raw = str(int(raw))
        else:
            out.notes.append(("V011", raw, ""))
            return out
    text, _ = clean_text(raw)
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                out.value = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                break
            if text != out.value.isoformat():
                out.notes.append(("V010", raw, f"日期 {out.value.isoformat()}"))
            return out
    out.notes.append(("V011", raw, ""))
    return out


def normalise_text(raw: Any, spec: FieldSpec) -> Outcome:
    out = Outcome()
    if _is_blank(raw):
        out.empty = True
        return out
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, (date, datetime)):
        raw = raw.isoformat()
    text, changed = _clean(raw, _PUNCTUATION) if isinstance(raw, str) else clean_text(raw)
    if changed and isinstance(raw, str) and text != raw.strip():
        out.notes.append(("V010", raw, f"文字“{text}”（去掉了看不见的字符或全角空格）"))
    out.value = text
    return out


# Chinese punctuation is part of a text as typed, not a compatibility form to fold: 张庄（二组） stays so in the
# 通报 (NFKC made it 张庄(二组) and said a full-width space had been removed)
_PUNCTUATION = frozenset("（），：；！？")


def normalise_enum(raw: Any, spec: FieldSpec) -> Outcome:
    out = normalise_text(raw, spec)
    if out.value is None:
        return out
    if out.value not in spec.values:
        # the allowed values as the programme writes them, whichever parentheses or colons either side uses
        folded = {_clean(v)[0].replace(" ", ""): v for v in spec.values}
        match = folded.get(_clean(out.value)[0].replace(" ", ""))
        if match is not None:
            out.value = match
        else:
            # keep the value: the schema's enum check reports it with the list of allowed values
            out.notes = [n for n in out.notes if n[0] != "V010"]
    return out


_ID_RE = re.compile(r"^\d{17}[\dX]$")


def normalise_id_number(raw: Any, spec: FieldSpec) -> Outcome:
    out = Outcome()
    if _is_blank(raw):
        out.empty = True
        return out
    if isinstance(raw, float) and not math.isfinite(raw):  # only a hand-made file holds one: not a number Excel shows
        out.notes.append(("V014", str(raw), "不是身份证号码"))
        return out
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        digits = str(raw) if isinstance(raw, int) else str(int(Decimal(f"{raw:.15g}")))  # as Excel shows it
        out.notes.append(("V014", digits, "单元格存成了数字，Excel 已把第 16 位以后改成 0。请把该列设为“文本”格式后重新输入完整号码"))
        return out
    text, changed = clean_text(raw)
    text = text.replace(" ", "").upper()
    if text.startswith("'"):
        text = text[1:]
    if not _ID_RE.match(text):
        detail = f"共 {len(text)} 位" if len(text) != 18 else "前 17 位只能是数字，最后一位是数字或 X"
        out.notes.append(("V014", raw, detail))
        return out
    if changed:
        out.notes.append(("V010", raw, f"身份证号码 {text}（去掉了空格、看不见的字符或全角字符）"))
    out.value = text
    return out


_PHONE_RE = re.compile(r"^\+?[0-9][0-9\- ]{5,18}[0-9]$")


def normalise_phone(raw: Any, spec: FieldSpec) -> Outcome:
    out = Outcome()
    if _is_blank(raw):
        out.empty = True
        return out
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        text = f"{raw:.0f}"
        out.notes.append(("V021", text, ""))
    else:
        text, changed = clean_text(raw)
        if changed and _PHONE_RE.match(text):
            out.notes.append(("V010", raw, f"电话 {text}（去掉了空格、看不见的字符或全角字符）"))
    if not _PHONE_RE.match(text):
        out.notes.append(("V019", raw, "电话号码只能含数字和“-”，例如 13800138000 或 0551-12345678"))
        return out
    out.value = text
    return out


NORMALISERS = {
    "integer": normalise_number,
    "number": normalise_number,
    "percent": normalise_number,
    "date": normalise_date,
    "text": normalise_text,
    "enum": normalise_enum,
    "id_number": normalise_id_number,
    "phone": normalise_phone,
}


def normalise(raw: Any, spec: FieldSpec) -> Outcome:
    return NORMALISERS[spec.type](raw, spec)
