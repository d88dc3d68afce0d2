"""Where the shipped programmes (templates/) and JSON Schemas (schemas/) live.

In a source checkout or an editable install they are the top-level folders; in a wheel they are
copied into ``pipeline/_data`` (see pyproject.toml).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PKG = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(name)


def templates_dir() -> Path:
    return _data_dir("templates")


def schemas_dir() -> Path:
    return _data_dir("schemas")


@cache
def schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in schemas/, by file stem (e.g. ``programme``)."""
    return json.loads((schemas_dir() / f"{name}.schema.json").read_text(encoding="utf-8"))


def shipped_programmes() -> dict[str, Path]:
    """Programme id → its programme.yaml, for every programme shipped in templates/."""
    return {p.parent.name: p for p in sorted(templates_dir().glob("*/programme.yaml"))}
