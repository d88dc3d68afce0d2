"""Write the blank templates of the shipped programmes into templates/<programme>/.

Run after changing a programme or the template generator:  python scripts/refresh_templates.py
(tests/test_templates.py fails while the committed files differ from what the generator makes).
"""

from __future__ import annotations

from pipeline.api import blank_template_bytes, shipped_blank_template_path
from pipeline.programme.config import load_programme
from pipeline.resources import shipped_programmes

if __name__ == "__main__":
    for pid in shipped_programmes():
        programme = load_programme(pid)
        path = shipped_blank_template_path(programme)
        path.write_bytes(blank_template_bytes(programme))
        print(f"{path}")
    from pathlib import Path

    from pipeline.problems import catalogue_markdown

    docs = Path(__file__).resolve().parent.parent / "docs" / "问题代码.md"
    docs.write_text(catalogue_markdown(), encoding="utf-8")
    print(docs)
