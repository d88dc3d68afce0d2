"""A month made again with other numbers says what changed and why (a 村名册 edited since, a register, the
reports), and the earlier file is kept, never overwritten.

A month is made again for good reasons (a late report, a correction) and for bad ones: next year's tasks
entered in the 村名册 rewrite last December's ranking; a 起始月份 typed into the wrong row moves a village
from 4th to 19th. The clerk sees which villages moved, and from which inputs, before sending it on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ledger.editions import Edition
from .score.outcomes import TIE


@dataclass(frozen=True)
class Revision:
    """What a month made again changes against the last time it was made with other numbers."""

    before: Edition
    changed: list[str]  # 桃园村：第 5 名 990.61 → 第 19 名 884.26
    causes: list[str]  # 村名册 / 镇考核登记 / 加分扣分登记 / 报表: those that differ
    kept_as: str = field(default="")  # the earlier file, kept (workspace-relative), once it is moved

    @property
    def unrecorded(self) -> bool:
        """The earlier file was made by a version that kept no record of its ranks (nothing to compare)."""
        return not self.before.standings

    def line(self) -> str:
        """One line for a button's status cell."""
        kept = "，此前那份已另存、没有覆盖" if self.kept_as else ""
        if self.unrecorded:
            return f"注意：本月的汇总表此前已做过（{self.before.made_at[:16].replace('T', ' ')}，较早的版本，没有记下各村名次）{kept}"
        return (f"注意：与 {self.before.made_at[:16].replace('T', ' ')} 做的那份相比，{len(self.changed)} 个村的名次或总分不同"
                f"（{'、'.join(self.causes) or '计算方法'}有变动）{kept}")

    def lines(self) -> list[str]:
        when = self.before.made_at[:16].replace("T", " ")
        if self.unrecorded:
            out = [f"本月的汇总表此前已于 {when} 做过（由较早的版本生成，没有记下各村名次，无法逐村比较），请核对这次的结果。"]
            return out + ([f"  此前那份汇总表已另存为 {self.kept_as}，没有覆盖。"] if self.kept_as else [])
        said = "、".join(self.causes) if self.causes else "计算方法（程序或考核方案）"
        out = [f"本月的汇总表此前已于 {when} 做过；这次有 {len(self.changed)} 个村的名次或总分不同（{said}在那之后有变动）："]
        out += [f"  {line}" for line in self.changed[:30]]
        if len(self.changed) > 30:
            out.append(f"  ……共 {len(self.changed)} 个村")
        if self.kept_as:
            out.append(f"  此前那份汇总表已另存为 {self.kept_as}，没有覆盖。")
        return out


def _standing(rank: int, total: float) -> str:
    return f"第 {rank} 名 {total:.2f}" if rank > 0 else "一票否决" if rank < 0 else "不参评"


def compare(before: Edition, now: Edition) -> Revision | None:
    """None when every village has the same rank and total (within the tolerance)."""
    changed = []
    for code in sorted(set(before.standings) | set(now.standings)):
        old, new = before.standings.get(code), now.standings.get(code)
        if old is not None and new is not None and old[1] == new[1] and abs(old[2] - new[2]) <= TIE:
            continue
        name = new[0] if new is not None else old[0] if old is not None else code
        was = _standing(old[1], old[2]) if old is not None else "不在表中"
        is_ = _standing(new[1], new[2]) if new is not None else "不在表中"
        changed.append(f"{name}：{was} → {is_}")
    if not changed:
        return None
    causes = [what for what in now.inputs if before.inputs.get(what) != now.inputs[what]]
    return Revision(before, changed, causes)


