"""`envdeck env list` (human): the STEP column's reason is whole when stdout is not a terminal
(piped, for grep and for people reading a log) and cut with "…" on a terminal (on-call
finding 14: it was cut at 60 characters either way, with nothing saying so).

The environment is created through the real session, store and lifecycle service (the
in-memory provisioner world of the engine's tests); its failure reason is set through the
lifecycle store, as the engine sets it; `_list` runs in-process on that state directory."""

from __future__ import annotations

import argparse
import sys

from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.stage import STAGE_CONFIG, Stage, stage_factory
from tests.tui.test_lifecycle_tui import TEMPLATES, memory_provisioners
from tui.cli.env_cmd import STEP_WIDTH, _list, step_cell
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

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert await _list(args) == 0
    shown = capsys.readouterr().out
    cut = f"web-sg {REASON}"[:STEP_WIDTH - 1] + "…"
    assert cut in shown and REASON not in shown, shown


def test_step_cell():
    step = {"id": "web-sg", "reason": REASON}
    assert step_cell(step, terminal=False) == f"web-sg {REASON}"
    assert len(step_cell(step, terminal=True)) == STEP_WIDTH and step_cell(step, terminal=True).endswith("…")
    assert step_cell({"id": "web", "reason": "short"}, terminal=True) == "web short"
    assert step_cell({}, terminal=True) == "-"
