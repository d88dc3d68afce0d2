"""The village registry (村名册) as data: who the villages are and how to recognise them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from .programme.periods import Month


def name_key(text: str) -> str:
    """How names are compared: NFKC, no spaces or invisible characters, no trailing 村委会/居委会."""
    t = unicodedata.normalize("NFKC", str(text))
    t = re.sub(r"[\s\u200b-\u200f\u2060\ufeff\u202a-\u202e]+", "", t)
    for suffix in ("村民委员会", "居民委员会", "村委会", "居委会"):
        if t.endswith(suffix) and len(t) > len(suffix):
            t = t[: -len(suffix)] + ("社区" if "居" in suffix else "村")
            break
    return t


@dataclass(frozen=True)
class Village:
    code: str
    name: str
    aliases: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    population: int = 0
    tasks: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    start: Month | None = None  # 起始月份: the first month it takes part (a village that joins mid-year)
    end: Month | None = None  # 停止月份: from this month on it no longer takes part (merged, dissolved)
    checked: bool = field(default=False, compare=False)  # 已核实: the township has checked this row's numbers (no 待核实 mark)
    # an assessment year's own tasks (columns “2027年…年度任务”): year → task id → value, over ``tasks`` for that year
    year_tasks: dict[int, dict[str, float]] = field(default_factory=dict, hash=False, compare=False)

    def for_year(self, year: int) -> Village:
        """The village with the tasks of assessment year ``year``: its own column where the 村名册 has one."""
        own = self.year_tasks.get(year)
        return replace(self, tasks={**self.tasks, **own}) if own else self

    def taking_part(self, month: Month) -> str:
        """Why the village does not take part in ``month`` (自2027年6月起参加考核), or "" when it does."""
        if self.active(month):
            return ""
        if self.start is not None and month < self.start:
            return f"自{self.start.chinese}起参加考核"
        return f"自{self.end.chinese}起不再参加考核" if self.end is not None else ""

    def sends_from(self, address: str | None) -> bool:
        """Is ``address`` one the 村名册 registers for this village (case aside)? One address may serve two villages."""
        return bool(address) and str(address).lower() in {e.lower() for e in self.emails}

    def active(self, month: Month) -> bool:
        """Takes part in ``month``: neither before its 起始月份 nor from its 停止月份 on."""
        return (self.start is None or month >= self.start) and (self.end is None or month < self.end)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "aliases": list(self.aliases),
            "emails": list(self.emails),
            "population": self.population,
            "tasks": dict(self.tasks),
            "start": str(self.start) if self.start else None,
            "end": str(self.end) if self.end else None,
        }


@dataclass(frozen=True)
class Registry:
    villages: tuple[Village, ...]
    source: str = ""
    left_out: tuple[tuple[str, str], ...] = ()  # (code, name) of rows left out for an error in them

    def left_out_row(self, code: str, name: str) -> tuple[str, str] | None:
        """The row left out of the registry (for an error in it) that a file's code or name points to."""
        key = name_key(name) if name else ""
        for row_code, row_name in self.left_out:
            if (code and row_code == code) or (key and name_key(row_name) == key):
                return row_code, row_name
        return None

    def by_code(self, code: str) -> Village | None:
        return self._codes.get(str(code).strip())

    @cached_property
    def _names(self) -> dict[str, Village]:
        index: dict[str, Village] = {}
        for v in self.villages:
            for n in (v.name, *v.aliases):
                index.setdefault(name_key(n), v)
        return index

    @cached_property
    def _codes(self) -> dict[str, Village]:
        return {v.code: v for v in self.villages}

    def by_name(self, text: str) -> Village | None:
        """A village by its name or any alias, compared loosely (spaces, 村委会, full-width)."""
        key = name_key(text)
        if not key:
            return None
        if key in self._names:
            return self._names[key]
        # '青龙' for '青龙村': a unique prefix match on the registered name
        hits = [v for v in self.villages if name_key(v.name).rstrip("村") == key.rstrip("村") or name_key(v.name) == key + "社区"]
        return hits[0] if len(hits) == 1 else None

    @cached_property
    def _emails(self) -> dict[str, Village]:
        index: dict[str, Village] = {}
        for v in self.villages:
            for e in v.emails:
                index.setdefault(e.lower(), v)  # the first village registered with an address owns it
        return index

    def by_email(self, address: str) -> Village | None:
        return self._emails.get(address.strip().lower())

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.villages]

    def active(self, month: Month) -> tuple[Village, ...]:
        """The villages that take part in ``month`` (see Village.active)."""
        return tuple(v for v in self.villages if v.active(month))

    @cached_property
    def task_years(self) -> frozenset[int]:
        """The assessment years the 村名册 gives tasks of their own (columns “2027年…”)."""
        return frozenset(y for v in self.villages for y in v.year_tasks)

    def for_year(self, year: int) -> Registry:
        """The registry as assessment year ``year`` is scored: each village with that year's tasks. Next year's
        tasks typed over this year's rescored every month of this year with them (a 通报 made again in January)."""
        if year not in self.task_years:
            return self
        return replace(self, villages=tuple(v.for_year(year) for v in self.villages))


TASK_YEARS = range(2020, 2061)  # the years a 村名册 column “2027年儿童健康管理年度任务” is looked for


def year_task_columns(task_specs: tuple[Any, ...]) -> tuple[Any, ...]:
    """Optional 村名册 columns of one assessment year's tasks: “2027年” before the task's label."""
    from .programme.config import FieldSpec

    return tuple(FieldSpec(id=f"{t.id}@{y}", label=f"{y}年{t.label}", type="number", min=0, decimals=0, required=False, extra=True)
                 for y in TASK_YEARS for t in task_specs)


CHECKED_WORDS = frozenset(("是", "已核实", "核实", "√", "✓", "✔", "对"))
CHECKED_NOTE = "汇总表注明“待核实”的行，核对无误后在“已核实”一栏选“是”（只确认已标出的数：数改过须重新核实，复制行时不要带上“是”）。"  # said on each table's second line


def checked_column() -> Any:
    """The 已核实 column every township table ends with: a number the 通报 marks 待核实 (a task far from the
    village's population, many events on one day, a count far above the township's usual) stays marked until
    the township says it checked the row. Text with a 是/否 drop-down, so a table made before it reads as before."""
    from .programme.config import FieldSpec

    return FieldSpec(id="checked", label="已核实", type="text", values=("是", "否"), required=False, annotates=True,
                     hint="本行的数在汇总表中注明“待核实”、镇里核对过确实无误的，选“是”：通报不再注明（“数据质量”仍列出，写明已核实）。"
                          "没有核对的不要填。本行的数改过、或这一行是复制来的，原来的“是”不算数：清空后汇总一次，核对无误再选“是”。")


def is_checked(value: Any) -> bool:
    """A 已核实 cell that says yes (是, √ …); anything else, blank included, is not a confirmation."""
    return isinstance(value, str) and value.strip() in CHECKED_WORDS


def registry_columns(task_specs: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    """The columns of 村名册.xlsx: fixed ones, then the programme's annual tasks."""
    from .programme.config import FieldSpec

    return (
        FieldSpec(id="code", label="村代码", type="text", max_length=20, hint="统计用区划代码或镇里自编的代码，每村唯一，不要改动。"),
        FieldSpec(id="name", label="村（社区）名称", type="text", max_length=30),
        FieldSpec(id="aliases", label="别名", type="text", required=False, hint="村里可能写成的其他名称，用顿号“、”分隔，如：青龙、青龙村委会。"),
        FieldSpec(id="emails", label="上报邮箱", type="text", required=False, hint="本村报送月报所用的邮箱，多个用分号“;”分隔。"),
        FieldSpec(id="population", label="户籍人口", type="integer", min=1, unit="人",
                  hint="按户籍人口计算比率和上限，不能为 0。"),
        *(FieldSpec(id=t.id, label=t.label, type="number", min=0, decimals=0) for t in task_specs),
        FieldSpec(id="start_month", label="起始月份", type="text", max_length=10, required=False,
                  hint="年中新加入考核的村填第一个参加的月份，如 2026-06；之前的月份不算未报，任务按加入后的月份计。一直参加的不填。"),
        FieldSpec(id="end_month", label="停止月份", type="text", max_length=10, required=False,
                  hint="合并、撤销的村填从哪个月起不再参加考核，如 2026-09；之后不再催报、不参加排名。一直参加的不填。"),
        checked_column(),
    )


def register_columns(prog: Any, key: str) -> tuple[Any, ...]:
    """The columns of the township's own registers (镇考核登记, 加分扣分登记), from the programme (``Programme``)."""
    from .programme.config import FieldSpec

    head = (
        FieldSpec(id="village_code", label="村代码", type="text", max_length=20),
        FieldSpec(id="village_name", label="村（社区）名称", type="text", required=False),
    )
    return head + _register_body(prog, key) + (checked_column(),)


def _register_body(prog: Any, key: str) -> tuple[Any, ...]:
    from .programme.config import FieldSpec

    if key == "assessment_register":
        raw = prog.raw["assessment_register"]
        fields = tuple(FieldSpec.from_dict(f) for f in raw["fields"])
        if raw.get("granularity") == "month":
            return (FieldSpec(id="month", label="月份", type="text", max_length=10, hint="报告期，如 2026-10"),) + fields
        names = tuple(a.name for a in prog.assessment_periods)
        return (
            FieldSpec(id="year", label="年度", type="integer", min=2000, max=2100),
            FieldSpec(id="assessment_period", label="考核季", type="enum", values=names),
        ) + fields
    items = tuple(i["label"] for i in prog.raw["adjustments"]["items"])
    return (
        FieldSpec(id="date", label="日期", type="date"),
        FieldSpec(id="item", label="项目", type="enum", values=items),
        FieldSpec(id="count", label="次数", type="integer", min=1),
        FieldSpec(id="note", label="备注", type="text", required=False),
    )
