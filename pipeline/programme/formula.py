"""Scoring formulas in Excel syntax: parsed once, checked, evaluated vectorised, written back as Excel.

A programme declares ``IF(t=0,75,75*MIN(1,birth_registrations/t))``. This module parses such
text into a small tree, reports syntax errors, unknown names and unknown functions as data,
evaluates the tree over NumPy arrays (one element per village: no per-village Python loop), and
renders it again as an Excel formula with every name replaced by a cell reference, so the
summary workbook carries the very same formula, live, next to its computed value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# ---- tree -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Bool:
    value: bool


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Unary:
    op: str
    arg: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


Node = Num | Bool | Name | Call | Unary | Binary


class FormulaError(ValueError):
    """A formula that cannot be parsed or names what does not exist. ``detail`` is Chinese."""

    def __init__(self, detail: str, position: int | None = None):
        self.detail = detail
        self.position = position
        super().__init__(detail)


# ---- parsing ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|<>|[-+*/^(),=<>%]))"
)
FUNCTIONS = {
    # name: (min args, max args or None)
    "IF": (2, 3), "IFS": (2, None), "AND": (1, None), "OR": (1, None), "NOT": (1, 1),
    "MIN": (1, None), "MAX": (1, None), "ABS": (1, 1), "ROUND": (1, 2), "ROUNDUP": (1, 2),
    "ROUNDDOWN": (1, 2), "SUM": (1, None), "IFERROR": (2, 2), "INT": (1, 1),
}
_COMPARE = ("=", "<>", "<", ">", "<=", ">=")
_FULL_WIDTH = {"，": ",", "（": "(", "）": ")", "＋": "+", "－": "-", "＊": "*", "×": "*", "／": "/", "÷": "/", "＝": "=",
               "＜": "<", "＞": ">", "％": "%", "　": " ", "．": ".", "＾": "^", "＿": "_", "“": '"', "”": '"'}
_FULL_WIDTH |= {chr(0xFF10 + d): str(d) for d in range(10)}  # full-width digits
_HALF_WIDTH = str.maketrans(_FULL_WIDTH)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    text = text.strip()
    if text.startswith("="):
        text = text[1:]
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos] in _FULL_WIDTH:  # typed with a Chinese input method: say which and give the corrected formula
                fixed = text.translate(_HALF_WIDTH)
                raise FormulaError(f"第 {pos + 1} 个字符“{text[pos]}”是全角（中文）标点，应为半角“{_FULL_WIDTH[text[pos]]}”；"
                                   f"可改为：{fixed}", pos)
            raise FormulaError(f"第 {pos + 1} 个字符“{text[pos]}”无法识别", pos)
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise FormulaError("公式不完整（结尾缺少内容或右括号）", len(self.text))
        if value is not None and tok[1] != value:
            raise FormulaError(f"第 {tok[2] + 1} 个字符处应为“{value}”，实际是“{tok[1]}”", tok[2])
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.comparison()
        tok = self.peek()
        if tok is not None:
            raise FormulaError(f"第 {tok[2] + 1} 个字符处多出了“{tok[1]}”", tok[2])
        return node

    def comparison(self) -> Node:
        node = self.additive()
        while (tok := self.peek()) and tok[1] in _COMPARE:
            self.take()
            node = Binary(tok[1], node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while (tok := self.peek()) and tok[1] in ("+", "-"):
            self.take()
            node = Binary(tok[1], node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.power()
        while (tok := self.peek()) and tok[1] in ("*", "/"):
            self.take()
            node = Binary(tok[1], node, self.power())
        return node

    def power(self) -> Node:
        node = self.unary()
        while (tok := self.peek()) and tok[1] == "^":
            self.take()
            node = Binary("^", node, self.unary())
        return node

    def unary(self) -> Node:
        tok = self.peek()
        if tok and tok[1] in ("-", "+"):
            self.take()
            return Unary(tok[1], self.unary())  # Excel: -2^2 = 4, negation binds tighter than ^
        return self.percent()

    def percent(self) -> Node:
        node = self.primary()
        while (tok := self.peek()) and tok[1] == "%":
            self.take()
            node = Binary("/", node, Num(100.0))
        return node

    def primary(self) -> Node:
        kind, value, pos = self.take()
        if kind == "num":
            return Num(float(value))
        if kind == "name":
            nxt = self.peek()
            if nxt and nxt[1] == "(":
                fn = value.upper()
                if fn not in FUNCTIONS:
                    raise FormulaError(f"不支持的函数 {value}（可用：{'、'.join(FUNCTIONS)}）", pos)
                self.take("(")
                args: list[Node] = []
                if (t := self.peek()) and t[1] == ")":
                    self.take(")")
                else:
                    while True:
                        args.append(self.comparison())
                        t = self.take()
                        if t[1] == ")":
                            break
                        if t[1] != ",":
                            raise FormulaError(f"第 {t[2] + 1} 个字符处应为“,”或“)”", t[2])
                lo, hi = FUNCTIONS[fn]
                if len(args) < lo or (hi is not None and len(args) > hi) or (fn == "IFS" and len(args) % 2):
                    raise FormulaError(f"函数 {fn} 的参数个数不对（{len(args)} 个）", pos)
                return Call(fn, tuple(args))
            if value.upper() in ("TRUE", "FALSE"):
                return Bool(value.upper() == "TRUE")
            return Name(value)
        if value == "(":
            node = self.comparison()
            self.take(")")
            return node
        raise FormulaError(f"第 {pos + 1} 个字符处不应出现“{value}”", pos)


def parse(text: str) -> Node:
    if not str(text).strip():
        raise FormulaError("公式为空")
    return _Parser(str(text)).parse()


def names(node: Node) -> set[str]:
    if isinstance(node, Name):
        return {node.id}
    if isinstance(node, Call):
        return set().union(*(names(a) for a in node.args)) if node.args else set()
    if isinstance(node, Unary):
        return names(node.arg)
    if isinstance(node, Binary):
        return names(node.left) | names(node.right)
    return set()


# ---- vectorised evaluation ----------------------------------------------------------------------

Value = Any  # np.ndarray (float or bool) or a Python scalar


def _round_half_away(x: Value, digits: Value, mode: str) -> Value:
    d = np.asarray(digits, dtype=float)
    f = np.power(10.0, d)
    scaled = np.abs(np.asarray(x, dtype=float)) * f
    if mode == "round":
        r = np.floor(scaled + 0.5 + 1e-9)
    elif mode == "up":
        r = np.ceil(scaled - 1e-9)
    else:
        r = np.floor(scaled + 1e-9)
    return np.sign(x) * r / f


def _num(v: Value) -> Value:
    return np.asarray(v, dtype=float)


def evaluate(node: Node, env: Mapping[str, Value]) -> Value:
    """Evaluate over arrays: every name in ``env`` maps to an array (one element per village) or a scalar."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _eval(node, env)


def _eval(node: Node, env: Mapping[str, Value]) -> Value:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Bool):
        return node.value
    if isinstance(node, Name):
        return env[node.id]
    if isinstance(node, Unary):
        v = _num(_eval(node.arg, env))
        return -v if node.op == "-" else v
    if isinstance(node, Binary):
        a, b = _eval(node.left, env), _eval(node.right, env)
        op = node.op
        if op in _COMPARE:
            a, b = _num(a), _num(b)
            return {"=": np.equal, "<>": np.not_equal, "<": np.less, ">": np.greater, "<=": np.less_equal, ">=": np.greater_equal}[op](a, b)
        a, b = _num(a), _num(b)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return np.where(b == 0, np.nan, a / np.where(b == 0, 1.0, b))
        return np.power(a, b)
    assert isinstance(node, Call)
    fn, args = node.fn, node.args
    if fn == "IF":
        cond = np.asarray(_eval(args[0], env), dtype=bool)
        yes = _eval(args[1], env)
        no = _eval(args[2], env) if len(args) > 2 else False
        return np.where(cond, _num(yes), _num(no))
    if fn == "IFS":
        result: Any = np.nan
        for i in range(len(args) - 2, -1, -2):
            result = np.where(np.asarray(_eval(args[i], env), dtype=bool), _num(_eval(args[i + 1], env)), result)
        return result
    if fn == "IFERROR":
        v = _num(_eval(args[0], env))
        return np.where(np.isfinite(v), v, _num(_eval(args[1], env)))
    vals = [_eval(a, env) for a in args]
    if fn == "AND":
        return np.logical_and.reduce([np.asarray(v, dtype=bool) for v in vals]) if len(vals) > 1 else np.asarray(vals[0], dtype=bool)
    if fn == "OR":
        return np.logical_or.reduce([np.asarray(v, dtype=bool) for v in vals]) if len(vals) > 1 else np.asarray(vals[0], dtype=bool)
    if fn == "NOT":
        return np.logical_not(np.asarray(vals[0], dtype=bool))
    nums = [_num(v) for v in vals]
    if fn == "MIN":
        return _reduce(np.minimum, nums)
    if fn == "MAX":
        return _reduce(np.maximum, nums)
    if fn == "SUM":
        return _reduce(np.add, nums)
    if fn == "ABS":
        return np.abs(nums[0])
    if fn == "INT":  # Excel's INT: rounds down (whole cases of money are never paid for 0.25 of one)
        return np.floor(nums[0])
    digits = nums[1] if len(nums) > 1 else 0.0
    return _round_half_away(nums[0], digits, {"ROUND": "round", "ROUNDUP": "up", "ROUNDDOWN": "down"}[fn])


def _reduce(op: Callable[[Value, Value], Value], values: list[Value]) -> Value:
    out = values[0]
    for v in values[1:]:
        out = op(out, v)
    return out


# ---- back to Excel, and into words -------------------------------------------------------------

_PREC = {"=": 1, "<>": 1, "<": 1, ">": 1, "<=": 1, ">=": 1, "+": 2, "-": 2, "*": 3, "/": 3, "^": 4}


def number_text(v: float) -> str:
    if math.isfinite(v) and float(v).is_integer():
        return str(int(v))
    return repr(float(v))


def to_excel(node: Node, ref: Callable[[str], str]) -> str:
    """The formula as Excel text (without '='), names replaced by ``ref(name)``.

    IFS (Excel 2019+) is written as nested IFs so that Excel 2007–2016 and WPS recalculate it too.
    """
    return _render(node, ref, {}, excel=True)


def with_values(node: Node, values: Mapping[str, str]) -> str:
    """The formula with every name replaced by its (already formatted) value — for 计算说明."""
    return _render(node, lambda n: values[n], {}, excel=False)


def words(node: Node, values: Mapping[str, str], veto: bool = False) -> str:
    """The formula in words for 计算说明: a top-level IF reads 若…，则…；否则…; an IF whose answer is 0 reads
    计 0 分, and with ``veto`` (the base of an item the programme marks ``veto: true``) 一票否决 — only there:
    a 依法行政 set to 0 by a complaint, or a village with no fruit checked, is no 一票否决."""
    if isinstance(node, Call) and node.fn == "IF" and len(node.args) == 3:
        cond, yes, no = (with_values(a, values) for a in node.args)
        if isinstance(node.args[1], Num) and node.args[1].value == 0:
            return f"若 {cond}，{'一票否决（计 0 分）' if veto else '则计 0 分'}；否则 {no}"
        return f"若 {cond}，则 {yes}；否则 {no}"
    return with_values(node, values)


@dataclass(frozen=True)
class Template:
    """A formula rendered once with holes for its names, filled many times over (one row per village)."""

    pieces: tuple[str, ...]  # literal text: before the first hole, between holes, after the last
    holes: tuple[str, ...]  # the name in each hole, in order (a name may appear more than once)

    def fill(self, values: Mapping[str, str]) -> str:
        out = [self.pieces[0]]
        for name, piece in zip(self.holes, self.pieces[1:]):
            out.append(values[name])
            out.append(piece)
        return "".join(out)


def template(node: Node, excel: bool) -> Template:
    """``to_excel`` (``excel=True``) or ``with_values`` (``excel=False``) with the names left open."""
    parts = _render(node, lambda n: f"\x00{n}\x00", {}, excel).split("\x00")
    return Template(tuple(parts[0::2]), tuple(parts[1::2]))


def _render(node: Node, ref: Callable[[str], str], _: dict[str, str], excel: bool, parent: int = 0) -> str:
    if isinstance(node, Num):
        return number_text(node.value)
    if isinstance(node, Bool):
        return "TRUE" if node.value else "FALSE"
    if isinstance(node, Name):
        return ref(node.id)
    if isinstance(node, Unary):
        inner = _render(node.arg, ref, _, excel, 5)
        return f"{node.op}{inner}" if node.op == "-" else inner
    if isinstance(node, Binary):
        prec = _PREC[node.op]
        left = _render(node.left, ref, _, excel, prec)
        right = _render(node.right, ref, _, excel, prec + 1)
        op = node.op
        if not excel:
            op = {"*": "×", "/": "÷", "-": " − ", "+": " + ", "<=": "≤", ">=": "≥", "<>": "≠"}.get(op, op)
        text = f"{left}{op}{right}"
        return f"({text})" if prec < parent else text
    assert isinstance(node, Call)
    if node.fn == "IFS" and excel:
        pairs = list(zip(node.args[0::2], node.args[1::2]))
        out = "NA()"
        for cond, val in reversed(pairs):
            out = f"IF({_render(cond, ref, _, excel)},{_render(val, ref, _, excel)},{out})"
        return out
    sep = "," if excel else ", "
    return f"{node.fn}({sep.join(_render(a, ref, _, excel) for a in node.args)})"
