"""Wide village tables (得分明细, 原始数据) laid out as blocks of columns, each as wide as an A4
landscape page, stacked one under the other.

A row per village and a column per value would be 70–80 columns wide: printed fitted to the page
width that is about 2 pt, printed at a readable size it is a dozen narrow strips with the title on
a middle page. So the columns are packed, group by group (an item's columns stay together where
they fit), into blocks no wider than a page; every block repeats the village code and name, has its
own header and starts on a new printed page. Formulas refer to a value by its block's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..layout import col_letter
from .sheet import Cell

# Column-width units one A4 landscape page holds at 100 % with 0.4-inch margins (about 7 px a unit
# plus 5 px a column at 96 dpi). Blocks stay within it, so fitting to the page width keeps 11-pt text
# at 11 pt (LibreOffice → PDF, checked by the tests).
PAGE_UNITS = 140.0
ID_COLUMNS = (("村代码", 13.0), ("村（社区）", 9.0))
HOLE = "\x00"  # marks a row number in a formula rendered once for every village


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: float
    group: str = ""  # columns of one group stay in one block where they fit


@dataclass
class Block:
    title: str
    columns: list[Column]
    title_row: int  # 0-based
    n: int  # villages

    @property
    def head_row(self) -> int:
        return self.title_row + 1

    @property
    def first_row(self) -> int:
        """0-based row of the first village."""
        return self.title_row + 2

    @property
    def end_row(self) -> int:
        """0-based row after the last village."""
        return self.first_row + self.n


@dataclass
class Grid:
    """Where each value lives: (block, column) of every key."""

    blocks: list[Block] = field(default_factory=list)
    pos: dict[str, tuple[int, int]] = field(default_factory=dict)  # key → (0-based column, 0-based first village row)

    def ref(self, key: str, k: int, sheet: str = "") -> str:
        """An absolute reference to the value of ``key`` for the k-th village."""
        col, first = self.pos[key]
        return f"{sheet}${col_letter(col)}{first + k + 1}"

    def hole(self, key: str, sheet: str = "") -> str:
        """The reference with a hole for the row (see :class:`RowFormula`)."""
        col, first = self.pos[key]
        return f"{sheet}${col_letter(col)}{HOLE}{first + 1}{HOLE}"

    def column_range(self, key: str) -> str:
        col, first = self.pos[key]
        n = self.blocks[0].n if self.blocks else 0
        letter = col_letter(col)
        return f"${letter}${first + 1}:${letter}${first + n}"


def pack(columns: Sequence[Column], n: int, top: int = 2, budget: float = PAGE_UNITS) -> Grid:
    """Lay ``columns`` out in blocks no wider than ``budget``, the first block's title on row ``top``."""
    room = budget - sum(w for _, w in ID_COLUMNS)
    groups: list[list[Column]] = []
    for c in columns:
        if groups and groups[-1][0].group == c.group and c.group:
            groups[-1].append(c)
        else:
            groups.append([c])
    chunks: list[list[Column]] = [[]]
    for g in groups:
        # a group goes whole into a block; only a group wider than a page is split column by column
        parts = [[c] for c in g] if sum(x.width for x in g) > room else [g]
        for part in parts:
            if chunks[-1] and sum(x.width for x in chunks[-1]) + sum(x.width for x in part) > room:
                chunks.append([])
            chunks[-1].extend(part)
    grid = Grid()
    row = top
    for chunk in chunks:
        if not chunk:
            continue
        groups_in = list(dict.fromkeys(c.group for c in chunk if c.group))
        block = Block("、".join(groups_in), chunk, row, n)
        for i, c in enumerate(chunk):
            grid.pos[c.key] = (len(ID_COLUMNS) + i, block.first_row)
        grid.blocks.append(block)
        row = block.end_row + 1
    return grid


def write_blocks(ws: Any, grid: Grid, villages: Sequence[Any], fmts: tuple[Any, Any, Any],
                 fill: Callable[[Block, int, int], list[Cell]]) -> None:
    """Every block top to bottom (the summary is written in constant-memory mode: a row once left is
    final): its title and header, then per village its code, name and the cells ``fill(block, k, row)``
    gives for the block's columns (written as one row: see SummarySheet.write_cells)."""
    title_fmt, head_fmt, cell_fmt = fmts
    widths: dict[int, float] = {i: w for i, (_, w) in enumerate(ID_COLUMNS)}
    for block in grid.blocks:
        for i, col in enumerate(block.columns, start=len(ID_COLUMNS)):
            widths[i] = max(widths.get(i, 0.0), col.width)
    for c, w in widths.items():
        ws.set_column(c, c, w)
    ws.set_h_pagebreaks([b.title_row for b in grid.blocks[1:]])  # every block starts a printed page
    for b, block in enumerate(grid.blocks):
        last = len(ID_COLUMNS) + len(block.columns) - 1
        ws.set_row(block.title_row, 22)
        ws.merge_range(block.title_row, 0, block.title_row, last, f"（{_ordinal(b + 1)}）{block.title}", title_fmt)
        ws.set_row(block.head_row, 48)
        for c, (text, _) in enumerate(ID_COLUMNS):
            ws.write_string(block.head_row, c, text, head_fmt)
        for i, col in enumerate(block.columns, start=len(ID_COLUMNS)):
            ws.write_string(block.head_row, i, col.header, head_fmt)
        for k, v in enumerate(villages):
            row = block.first_row + k
            ws.write_cells(row, 0, [("s", v.code, cell_fmt), ("s", v.name, cell_fmt), *fill(block, k, row)])


class RowFormula:
    """A formula rendered once with holes for its row numbers (each ``HOLE``first-row``HOLE``), then
    filled for the k-th village: every row number becomes first-row + k. Rendering a formula per
    village would cost as much as the rest of the summary."""

    def __init__(self, formula: str):
        parts = formula.split(HOLE)
        self.text = parts[0::2]
        self.rows = [int(x) for x in parts[1::2]]

    def fill(self, k: int) -> str:
        out = [self.text[0]]
        for row, text in zip(self.rows, self.text[1:]):
            out.append(str(row + k))
            out.append(text)
        return "".join(out)


def _ordinal(n: int) -> str:
    digits = "零一二三四五六七八九十"
    return digits[n] if n <= 10 else (f"十{digits[n - 10]}" if n < 20 else str(n))
