"""Starting worker processes the same way everywhere (the checks at intake, a county's summary)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def bare_main() -> Iterator[None]:
    """Start workers without the program that started them.

    A spawned worker runs the parent's main script again before anything else (multiprocessing's
    ``_fixup_main_from_path``): under the ``huizong`` command that is its console script, which imports
    the whole command line (typer, rich, every command) — about 0.2 s of each worker's start, for
    nothing a worker uses. While workers start, ``__main__`` shows neither a file nor a module spec, so
    they import only what they use. Every worker huizong starts is started inside this: the checks' pool at
    intake (``Checker._start``) and the summary's helper (``summary.elsewhere.start``).
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved: dict[str, Any] = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    if "__spec__" in saved:
        main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.update(saved)
