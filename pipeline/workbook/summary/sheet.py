"""XlsxWriter's worksheet with a cheaper formula preparation for the functions the summary uses.

XlsxWriter runs some sixty regular-expression substitutions over every formula to add the
``_xlfn.`` prefix that Excel 2010+ functions need in the file. The summary writes tens of
thousands of formulas built only from functions every Excel since 2007 (and WPS) knows, which
need no prefix; for those, the preparation is just dropping the leading ``=``. Any other formula
goes through XlsxWriter's own preparation unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from xlsxwriter.worksheet import Worksheet

# Excel 2007 functions: never prefixed by XlsxWriter (nor by Excel)
CLASSIC = frozenset({"IF", "AND", "OR", "NOT", "MIN", "MAX", "ABS", "ROUND", "ROUNDUP", "ROUNDDOWN", "SUM", "IFERROR", "NA", "INT"})
_CALLS = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\(")


class SummarySheet(Worksheet):
    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> Any:
        if formula.startswith("=") and not self.use_future_functions and not expand_future_functions and not formula.endswith("}"):
            body = formula[1:]
            if all(name.upper() in CLASSIC for name in _CALLS.findall(body)):
                return body
        return super()._prepare_formula(formula, expand_future_functions)
