"""`envdeck env list` (human): the STEP column's reason is whole when stdout is not a terminal
(piped, for grep and for people reading a log) and cut with "…" on a terminal (on-call
finding 14: it was cut at 60 characters either way, with nothing saying so). On a terminal the
table is sized to it and the STEP (which step failed and why) gets the room: EXPIRES is relative
(`in 44m`), TEMPLATE and OWNER are cut in the middle first, ORPHANS only when there are some.

The environment is created through the real session, store and lifecycle service (the
in-memory provisioner world of the engine's tests); its failure reason is set through the
lifecycle store, as the engine sets it; `_list` runs in-process on that state directory."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime

from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.stage import STAGE_CONFIG, Stage, stage_factory
from tests.tui.test_lifecycle_tui import TEMPLATES, memory_provisioners
from tui.cli.env_cmd import LIST_COLUMNS, STEP_KEEP, _list, expires_cell, step_cell
from tui.cli.table_fit import fit_table
from tui.core.config import load_config
from tui.core.identity import current_user
from tui.core.lifecycle.lifecycle_store import LifecycleStore
from tui.core.lifecycle.records import EnvLifecycleState
from tui.core.session import Session

REASON = ("1 more needed for the wave: security group pr-1-web is not yet visible to describe after "
          "3 attempts (InvalidGroup.NotFound)")


async def test_env_list_step_reason_whole_when_piped_cut_on_a_terminal(tmp_path, capsys, monkeypatch):
    path = tmp_path / "envdeck.yaml"
    path.write_text(STAGE_CONFIG + TEMPLATES, encoding="utf-8")
    path.chmod(0o600)
    state = tmp_path / "state"
    session = await Session.open(load_config(path), state, user=current_user(),
                                 backends_factory=stage_factory(Stage()),
                                 provisioners=memory_provisioners(MemoryWorld()))
    try:
        await session.env_create("pr-1", "preview", {"branch": "x"}, wait=False)
        await LifecycleStore(session.store).set_state("pr-1", EnvLifecycleState.FAILED, step="web-sg", reason=REASON)
    finally:
        await session.close()
    args = argparse.Namespace(config=str(path), state_dir=str(state), read_only=False, json=False)

    assert await _list(args) == 0
    piped = capsys.readouterr().out
    assert f"web-sg {REASON}" in piped and "…" not in piped, piped
    assert re.search(r"  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  +0$", piped.splitlines()[1]), piped  # ISO, ORPHANS

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    steps = {}
    for columns in (80, 120):
        monkeypatch.setenv("COLUMNS", str(columns))
        assert await _list(args) == 0
        shown = capsys.readouterr().out
        header, row = shown.splitlines()
        assert header.split() == ["NAME", "TEMPLATE", "OWNER", "STATE", "STEP", "EXPIRES"], shown  # no orphans
        at = header.index("STEP")
        step = header.index("EXPIRES") - 2 - at  # the STEP column's width
        # the reason cut at its end to what the terminal leaves: the row fills the terminal
        assert row[at:at + step] == f"web-sg {REASON}"[:step - 1] + "…" and REASON not in shown, shown
        assert len(header) == columns and len(row) <= columns, shown
        assert re.fullmatch(r"in \d+m", row[at + step + 2:].strip()), shown  # EXPIRES relative
        steps[columns] = step
    assert steps[80] >= STEP_KEEP and steps[120] == steps[80] + 40, steps


def test_step_cell():
    step = {"id": "web-sg", "reason": REASON}
    assert step_cell(step) == f"web-sg {REASON}"
    assert step_cell({"id": "web", "reason": "short"}) == "web short"
    assert step_cell({}) == "-"


def test_expires_cell():
    now = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
    assert expires_cell("2026-12-07T15:12:30Z", now) == "in 3h12m"
    assert expires_cell("2026-12-09T16:00:00Z", now) == "in 2d4h"
    assert expires_cell("2026-12-07T12:00:40Z", now) == "in 40s"
    assert expires_cell("2026-12-07T11:55:00Z", now) == "expired 5m ago"
    assert expires_cell(None, now) == "-"


def test_long_owner_and_template_give_way_to_the_step():
    """At 80 columns TEMPLATE and OWNER are cut in the middle (to 8) and ORPHANS is left out
    (each orphan has its own line below the table) before the STEP goes under STEP_KEEP; on a
    terminal wide enough for STEP_KEEP every other column is whole and the STEP gets what is left."""
    text = f"web-sg {REASON}"
    row = ["pr-1234", "preview-with-database", "alice.longname@example.com", "failed", text, "in 3h12m", "2"]
    header, line = fit_table(LIST_COLUMNS, [row], 80)
    assert header.split() == ["NAME", "TEMPLATE", "OWNER", "STATE", "STEP", "EXPIRES"], header
    assert line.split()[:4] == ["pr-1234", "pre…base", "ali….com", "failed"], line
    at = header.index("STEP")
    step = header.index("EXPIRES") - 2 - at
    assert step == 80 - len("pr-1234  pre…base  ali….com  failed  " + "  in 3h12m"), (header, line)
    assert line[at:at + step] == text[:step - 1] + "…" and line.endswith("  in 3h12m"), line

    header, line = fit_table(LIST_COLUMNS, [row], 140)
    assert header.split()[-1] == "ORPHANS" and len(line) == 140, (header, line)
    assert line.split()[:4] == row[:4] and line.endswith("  in 3h12m        2"), line
    at = header.index("STEP")
    step = header.index("EXPIRES") - 2 - at
    assert step == 140 - len("  ".join(row[:4] + ["", "in 3h12m", "ORPHANS"]))
    assert step > STEP_KEEP and line[at:at + step] == text[:step - 1] + "…", line
