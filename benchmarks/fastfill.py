"""Fill a template by editing its sheet XML — for the ledger's history only (45,000 reports at N = 5000).

``pipeline.workbook.fill.fill_template`` (openpyxl load + save, ~80 ms a file) is what fills every
file a contender reads. Nine months of history at N = 5000 would take it an hour on two cores, so
the history records are made from files filled here instead (~2 ms): the same cells, the same
values, inline strings instead of shared strings. ``prepare`` checks on a sample that
``check_bytes`` gives the identical stored record for both fillers before it uses this one.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from pipeline.workbook.layout import REGISTER_FIRST_COL, a1
from pipeline.workbook.xlsx_parts import read_ooxml_info

_CELL = re.compile(rb'<c r="([A-Z]{1,3}[0-9]+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)
_TYPE_ATTR = re.compile(rb'\s+t="[^"]*"')
_EXCEL_EPOCH = date(1899, 12, 30)


def _cell_xml(ref: bytes, attrs: bytes, value: Any) -> bytes:
    attrs = _TYPE_ATTR.sub(b"", attrs)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        value = (value - _EXCEL_EPOCH).days
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return b'<c r="%s"%s><v>%s</v></c>' % (ref, attrs, repr(value).encode())
    text = escape(str(value)).encode("utf-8")
    return b'<c r="%s"%s t="inlineStr"><is><t xml:space="preserve">%s</t></is></c>' % (ref, attrs, text)


def fast_fill(template: bytes, values: dict[str, Any], register: list[dict[str, Any]], register_columns: list[str],
              register_name: str = "birth_register") -> bytes:
    """The template with ``values`` in its named cells and ``register`` rows under the register header."""
    info = read_ooxml_info(template)
    edits: dict[str, dict[bytes, Any]] = {}

    def put(sheet: str, row: int, col: int, value: Any) -> None:
        if value is not None:
            edits.setdefault(info.sheet_parts[sheet], {})[a1(row, col).encode()] = value

    for fid, value in values.items():
        target = info.names[fid]
        put(target.sheet, target.first[0], target.first[1], value)
    if register:
        target = info.names[register_name]
        for i, row in enumerate(register):
            for j, cid in enumerate(register_columns):
                put(target.sheet, target.first[0] + i, REGISTER_FIRST_COL + j, row.get(cid))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item)
            cells = edits.get(item.filename)
            if cells:
                done: set[bytes] = set()

                def replace(m: re.Match[bytes], cells: dict[bytes, Any] = cells, done: set[bytes] = done) -> bytes:
                    ref = m.group(1)
                    if ref not in cells:
                        return m.group(0)
                    done.add(ref)
                    return _cell_xml(ref, m.group(2), cells[ref])

                body = _CELL.sub(replace, body)
                missing = set(cells) - done
                if missing:
                    raise ValueError(f"{item.filename}: no cell {sorted(missing)[:5]} in the template")
            dst.writestr(item, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
