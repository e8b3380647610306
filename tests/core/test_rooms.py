"""The rooms of the tree (docs/architecture.md) beyond what import-linter sees: the UI and the
CLI ask `Session` for state and passes instead of reaching through it into the reconciler."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REACH_IN = re.compile(r"session\.reconciler\b|\.reconciler\.(envs|backends)\b")


def test_ui_and_cli_never_reach_into_the_reconciler():
    outside_core = [p for folder in ("tui", "screens") for p in (ROOT / folder).rglob("*.py")
                    if (ROOT / "tui" / "core") not in p.parents]
    assert len(outside_core) > 20, "the UI and CLI modules are found"
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in outside_core
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if REACH_IN.search(line)]
    assert not found, "ask Session (state, states, subscribe, reconcile_once, ...):\n" + "\n".join(found)
