"""Whose report is this, for which month — and can we trust that?

The template's signature (keyed hash of programme, village code, period and version) decides.
Header cells (填报单位, 报告期) are only a fallback to name the village for the clerk; a file
without a valid signature is never trusted on its own: it goes to 待确认.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..problems import Problem
from ..programme.config import Programme
from ..programme.periods import Month
from ..programme.signing import BLANK_VILLAGE, verify
from ..registry import Registry, Village
from ..workbook.layout import HEADER_LABELS
from ..workbook.reader import ReadResult

CONFIRM_CODES = frozenset({"I003", "I004", "I007", "I009", "I011"})
# whose a file is, or which month, is unknown or in doubt: a file refused as a whole is then nobody's
DOUBTFUL_IDENTITY = frozenset({"I001", "I002", "I003", "I005", "I009"})


_CN_MONTHS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "十一": 11, "十二": 12}
# a month in a file name (“1月报表”, “十二月”), not a day's date (“1月5日报送”)
_NAME_MONTH = re.compile(r"(?<![\d一二三四五六七八九十])(1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])\s*月份?(?!\s*[\d一二三四五六七八九十]+\s*[日号])")


def name_month(name: str, period: Month) -> str:
    """The month a file's name speaks of when it is not the report's own (“柳塘村1月报表.xlsx” holding the December
    template): "" when the name names no month, or names the report's month among others."""
    said = [(m, int(m) if m.isdigit() else _CN_MONTHS[m]) for m in _NAME_MONTH.findall(name)]
    if not said or any(n == period.month for _, n in said):
        return ""
    return f"{said[0][0]}月"


@dataclass
class Identity:
    village: Village | None = None
    period: Month | None = None
    signed: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def needs_confirmation(self) -> bool:
        return any(p.code in CONFIRM_CODES for p in self.problems)

    @property
    def known(self) -> bool:
        return self.village is not None and self.period is not None


# what the clerk sees for the header cells and the template's hidden marks (never the field ids)
LABELS = {key: label.rstrip("：") for key, label in HEADER_LABELS.items()} | {"hz_signature": "模板签名", "hz_programme": "考核方案"}


def identify(res: ReadResult, p: Programme, registry: Registry | None, secret: str | None) -> Identity:
    ident = Identity()
    meta = res.meta

    def at(code: str, key: str = "village_name", value: object = None, detail: str = "") -> Problem:
        return Problem(code, file=res.file, sheet=res.sheet, cell=res.cells.get(key, ""), field=key, label=LABELS.get(key, ""),
                       value=value, detail=detail)

    prog = meta.get("hz_programme")
    if prog and prog != p.id:
        ident.problems.append(at("I005", "hz_programme", prog, p.id))
        return ident
    version = meta.get("hz_version") or meta.get("template_version") or ""
    if version and version != p.version:
        ident.problems.append(at("I006", "template_version", version, p.version))

    # period: the signed one first, then the header cell
    period = Month.try_parse(meta.get("hz_period", "")) or Month.try_parse(meta.get("report_period", ""))
    if period is None:
        ident.problems.append(at("I002", "report_period", meta.get("report_period", "（空）")))
    ident.period = period

    code = meta.get("hz_village_code", "")
    header_name = meta.get("village_name", "")
    village: Village | None = None
    if registry is not None:
        if code and code != BLANK_VILLAGE:
            village = registry.by_code(code)
        named = registry.by_name(header_name) if header_name else None
        if village is None:
            village = named
        elif named is not None and named.code != village.code:
            ident.problems.append(at("I003", value=header_name, detail=f"签名属于{village.name}，表头写的是{named.name}"))
        left_out = registry.left_out_row(code, header_name) if village is None else None
        if left_out is not None:  # the township's row has an error: the village is not to blame, nor sent back
            ident.problems.append(at("I009", value=f"{left_out[1]}（{left_out[0]}）" if left_out[0] else left_out[1]))
        elif village is None:
            ident.problems.append(at("I001", value=header_name or meta.get("hz_village_name", "") or "（空）"))
    ident.village = village

    if secret is None:
        return ident  # no workspace: the signature cannot be checked here
    signature = meta.get("hz_signature", "")
    if not signature or code in ("", BLANK_VILLAGE):
        why = "用的是空白模板" if code == BLANK_VILLAGE else "签名缺失"
        ident.problems.append(at("I004", "hz_signature", detail=why))
        return ident
    signed_period = meta.get("hz_period", "")
    if not verify(secret, p.id, code, signed_period, version, signature):
        ident.problems.append(at("I003", "hz_signature", signature, "签名校验不通过"))
        return ident
    header_period = Month.try_parse(meta.get("report_period", ""))
    if header_period is not None and str(header_period) != signed_period:
        ident.problems.append(at("I003", "report_period", meta.get("report_period"), f"签名的报告期为 {signed_period}"))
        return ident
    ident.signed = not any(pr.code == "I003" for pr in ident.problems)
    return ident


def check_sender(ident: Identity, sender: str, registry: Registry, file: str) -> Problem | None:
    """A report must come from an address registered for its village; otherwise it waits for the clerk."""
    village = ident.village
    if village is None:
        return None
    if not sender:  # no address could be read from From: not known to be the village's (mail only calls this)
        return Problem("I007", file=file, field="sender", value="（没有可读的发件地址）", detail=village.name)
    if village.sends_from(sender):
        return None
    owner = registry.by_email(sender)
    detail = f"{village.name}（该邮箱登记在{owner.name}名下）" if owner else village.name
    return Problem("I007", file=file, field="sender", value=sender, detail=detail)

