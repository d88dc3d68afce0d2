"""`huizong programme …`: writing and checking a township's own assessment programme."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from . import api
from .cli import JsonOpt, _fail, app, err, out
from .problems import HuizongError, Problem

programme_app = typer.Typer(help="考核方案：检查方案文件（以及用 Excel 方案设计表编写方案）。", no_args_is_help=True)
app.add_typer(programme_app, name="programme")


@programme_app.command("check")
def check(
    programme: Annotated[str, typer.Argument(help="方案文件（.yaml）或内置方案名（qianfen、monthly-b、fruitfly-c）")],
    workspace: Annotated[Path | None, typer.Option("--workspace", "-w", help="用这个工作目录的村名册模拟（默认用示例镇）")] = None,
    year: Annotated[int | None, typer.Option("--year", help="模拟哪一个考核年度（默认今年）")] = None,
    as_json: JsonOpt = False,
) -> None:
    """检查考核方案：公式、名称、任务比例、字段类型一次全部检查；无误时用生成的数据模拟一年，显示各项得分的分布。"""
    try:
        prog, problems, sim = api.check_programme(programme, workspace, year)
    except HuizongError as exc:
        if as_json:
            out.print_json(json.dumps({"ok": False, "problems": [p.to_dict() for p in exc.problems]}, ensure_ascii=False))
        _fail(exc)
        return
    if as_json:
        out.print_json(json.dumps({"ok": not problems, "problems": [p.to_dict() for p in problems],
                                   "simulation": sim.to_dict() if sim else None}, ensure_ascii=False))
    if problems:
        if not as_json:
            _fail(HuizongError(problems))
        raise typer.Exit(2)
    if as_json or sim is None:
        return
    out.print(f"方案“{prog.name}”检查通过：公式、名称、任务比例、字段类型都没有问题。", markup=False)
    table = Table(title=f"模拟 {sim.villages} 个村一年（至 {sim.period.chinese}）的得分分布（镇考核登记按无扣分计）")
    for col in ("项目", "满分", "加分上限", "最低", "中位", "最高", "得满分的村", "加分中位"):
        table.add_column(col, justify="left" if col == "项目" else "right")
    for i in sim.items:
        name = f"{i.code} {i.name}" + ("（只看登记表）" if i.register_only else "")
        table.add_row(name, f"{i.max:g}", f"{i.bonus_cap:g}" if i.bonus_cap else "—", f"{i.low:.1f}", f"{i.median:.1f}",
                      f"{i.high:.1f}", f"{i.at_max:.0%}", f"{i.bonus_median:.1f}")
    out.print(table)
    out.print(f"总分：最低 {sim.total_low:.1f}，中位 {sim.total_median:.1f}，最高 {sim.total_high:.1f}；满分 {sim.attainable:g}"
              + (f"，加分最多 {sim.bonus_attainable:g}" if sim.bonus_attainable else "") + f"；加分占总分 {sim.bonus_share:.1%}。", markup=False)
    for w in sim.warnings:
        err.print(f"[提示] {w}", markup=False)


@programme_app.command("new")
def new(
    workbook: Annotated[Path, typer.Argument(help="要写的方案设计表，如 方案设计表.xlsx")] = Path("方案设计表.xlsx"),
    source: Annotated[str | None, typer.Option("--from", help="从内置方案（qianfen、monthly-b、fruitfly-c）或方案文件开始")] = None,
) -> None:
    """写一份方案设计表（Excel）：默认是一个可以直接运行的小示例，或用 --from 从已有方案开始改。"""
    from .authoring import new_design

    try:
        if workbook.exists():
            raise HuizongError(Problem("X019", detail=str(workbook)))
        path = new_design(workbook, source)
    except HuizongError as exc:
        _fail(exc)
        return
    out.print(f"已写出方案设计表：{path}\n改好后运行：huizong programme convert {path}", markup=False)


@programme_app.command("convert")
def convert(
    src: Annotated[Path, typer.Argument(help="方案设计表（.xlsx）或方案文件（.yaml）")],
    dest: Annotated[Path | None, typer.Option("--out", "-o", help="写到哪里（默认同一文件夹的 programme.yaml 或 方案设计表.xlsx）")] = None,
) -> None:
    """方案设计表 → 方案文件（并检查：每个问题指明工作表和单元格），或方案文件 → 方案设计表。"""
    from .authoring import convert as run

    try:
        path, problems = run(src, dest)
    except HuizongError as exc:
        _fail(exc)
        return
    if problems:
        _fail(HuizongError(problems))
        return
    out.print(f"已生成：{path}", markup=False)
    if path.suffix.lower() in (".yaml", ".yml"):
        out.print(f"下一步：huizong programme check {path}（模拟一年，看得分分布），再 huizong init 目录 --programme {path}", markup=False)
