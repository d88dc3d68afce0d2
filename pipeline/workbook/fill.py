"""Fill a template the way a village clerk would (for the demo, the benchmark and the tests).

Values go into the cells the template's defined names point at, register rows under the
register's header — so a filled file is exactly a template with typed-in values.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import openpyxl

from .layout import REGISTER_FIRST_COL, parse_a1
from .xlsx_parts import parse_name_ref


def fill_template(template: bytes, values: dict[str, Any], register: list[dict[str, Any]] | None = None,
                  register_name: str = "birth_register", register_columns: list[str] | None = None) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(template))
    for fid, value in values.items():
        dn = wb.defined_names.get(fid)
        if dn is None:
            raise KeyError(fid)
        target = parse_name_ref(dn.attr_text)
        assert target is not None
        cell = wb[target.sheet].cell(row=target.first[0] + 1, column=target.first[1] + 1)
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"
    if register:
        dn = wb.defined_names[register_name]
        target = parse_name_ref(dn.attr_text)
        assert target is not None and register_columns is not None
        ws = wb[target.sheet]
        first_row = target.first[0] + 1
        for i, row in enumerate(register):
            for j, cid in enumerate(register_columns):
                v = row.get(cid)
                cell = ws.cell(row=first_row + i, column=REGISTER_FIRST_COL + 1 + j)
                cell.value = v
                if isinstance(v, date):
                    cell.number_format = 'yyyy"年"m"月"d"日"'
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


__all__ = ["fill_template", "parse_a1"]
