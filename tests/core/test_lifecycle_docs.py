"""docs/lifecycles.md is generated from the life-cycle tables and kept up to date."""

from __future__ import annotations

import runpy
from pathlib import Path

from fleetwise.core.lifecycle import ActionState, PlanState, edges

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "lifecycle_diagrams.py"


def test_the_life_cycle_page_matches_the_tables() -> None:
    generator = runpy.run_path(str(SCRIPT))
    page = generator["render"]()
    assert Path(generator["DOC"]).read_text(encoding="utf-8") == page, (
        "docs/lifecycles.md is out of date: run scripts/lifecycle_diagrams.py"
    )
    for kind in (PlanState, ActionState):
        for source, target in edges(kind):
            assert f"    {source} --> {target}\n" in page
