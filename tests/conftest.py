"""Shared fixtures: the shipped programme, a workspace, templates and filled reports built for real."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline import api
from pipeline.example import example_values
from pipeline.programme.config import Programme, load_programme
from pipeline.programme.periods import Month
from pipeline.workbook.fill import fill_template

PERIOD = Month(2026, 10)


@pytest.fixture(scope="session")
def programme() -> Programme:
    return load_programme("qianfen")


@pytest.fixture(scope="session")
def _workspace_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("master") / "ws"
    api.init_workspace(root)
    ctx = api.load_context(root)
    api.make_templates(ctx, PERIOD)
    return root


@pytest.fixture
def workspace(_workspace_master: Path, tmp_path: Path) -> Path:
    """A fresh copy of an initialised workspace with 2026-10 templates for the 19 example villages."""
    root = tmp_path / "ws"
    shutil.copytree(_workspace_master, root)
    return root


@pytest.fixture
def ctx(workspace: Path) -> api.Context:
    return api.load_context(workspace)


def template_for(ctx: api.Context, index: int = 0, period: Month = PERIOD) -> bytes:
    v = ctx.registry.villages[index]
    path = ctx.workspace.templates / str(period) / api.template_name(ctx.programme, v, period)
    if not path.exists():
        api.make_templates(ctx, period)
    return path.read_bytes()


_FILLED: dict[tuple[str, int, str, str], bytes] = {}


def filled(ctx: api.Context, index: int = 0, period: Month = PERIOD, **overrides: Any) -> bytes:
    """A valid filled report of village ``index``; keyword overrides replace single values.

    ``register=[...]`` replaces the birth register rows (dicts keyed by column id).
    The same report asked for twice (in one workspace) is the same bytes: a workbook saved by openpyxl
    carries its save time, so building it again a second later would make another file.
    """
    key = (str(ctx.workspace.root), index, str(period), repr(sorted(overrides.items())))
    if key not in _FILLED:
        v = ctx.registry.villages[index]
        values, register = example_values(ctx.programme, v, period)  # programme A's own generator for A
        register = overrides.pop("register", register)
        values.update(overrides)
        cols = [c.id for c in ctx.programme.register.columns] if ctx.programme.register else []
        _FILLED[key] = fill_template(template_for(ctx, index, period), values, register, register_columns=cols)
    return _FILLED[key]
