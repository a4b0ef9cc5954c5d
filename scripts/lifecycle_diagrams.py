"""Write docs/lifecycles.md from the life-cycle tables of ``fleetwise.core.lifecycle``.

Usage: ``.venv/bin/python scripts/lifecycle_diagrams.py`` (a test checks the file is
up to date, so a change to a table shows up in the docs).
"""

from __future__ import annotations

from pathlib import Path

from fleetwise.core.lifecycle import (
    COUPLING_RULES,
    ActionState,
    HostPowerState,
    PlanState,
    edges,
    is_terminal,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "lifecycles.md"

_TITLES = (
    ("Plans", PlanState, PlanState.RECOMMENDED, "or pending, in automatic mode"),
    ("Actions", ActionState, ActionState.PENDING, ""),
    ("Host power", HostPowerState, HostPowerState.ACTIVE, ""),
)


def _diagram(
    kind: type[PlanState] | type[ActionState] | type[HostPowerState], first: object
) -> str:
    lines = ["```mermaid", "stateDiagram-v2", f"    [*] --> {first}"]
    if kind is PlanState:
        lines.append(f"    [*] --> {PlanState.PENDING}")
    lines += [f"    {source} --> {target}" for source, target in edges(kind)]
    if kind is not HostPowerState:
        lines += [f"    {state} --> [*]" for state in kind if is_terminal(state)]  # type: ignore[arg-type]
    lines.append("```")
    return "\n".join(lines)


def render() -> str:
    """The whole page."""
    parts = [
        "# Life cycles",
        "",
        "Generated from the tables of `fleetwise.core.lifecycle` by "
        "`scripts/lifecycle_diagrams.py`; do not edit by hand.",
        "",
    ]
    for title, kind, first, note in _TITLES:
        parts += [f"## {title}", ""]
        if note:
            parts += [f"A new plan starts recommended (recommend mode) {note}.", ""]
        parts += [_diagram(kind, first), ""]
    parts += ["## How plans and actions move together", ""]
    parts += [f"{n}. {rule[0].upper()}{rule[1:]}." for n, rule in enumerate(COUPLING_RULES, 1)]
    parts += [
        "",
        "`settle` applies rules 1–3 until nothing changes; `move_plan` and `move_action` "
        "check rules 4–6 and return the plan's new status, whose difference the store "
        "writes with compare-and-set.",
        "",
    ]
    return "\n".join(parts)


def main() -> None:
    DOC.write_text(render(), encoding="utf-8")
    print(f"written {DOC}")


if __name__ == "__main__":
    main()
