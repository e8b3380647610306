"""`envdeck audit` as text: the newest N rows oldest first, so that at 24 rows the newest is at
the bottom of the terminal (on-call finding, session 8: newest first scrolled it off the top);
`--reverse` gives newest first; `--json` keeps newest first; `--limit` and `--env` still pick
the rows. The real CLI (in-process) on a SQLite store the test fills."""

from __future__ import annotations

import asyncio
import json

from tests.helpers import envdeck_inproc
from tui.core.store import Store


def _fill(state_dir, n: int) -> None:
    async def fill() -> None:
        store = await Store.open(state_dir)
        try:
            for i in range(n):
                env = "dev" if i % 5 else "ops"
                await store.audit_record(user="ann", env=env, target=env, action=f"note-{i:02d}", params={},
                                         origin="cli", result="succeeded", message=f"row {i}")
        finally:
            await store.close()

    asyncio.run(fill())


def _actions(stdout: str) -> list[str]:
    return [line.split()[6] for line in stdout.splitlines()]


def test_audit_text_puts_the_newest_at_the_bottom(tmp_path):
    state = tmp_path / "state"
    _fill(state, 30)
    config = tmp_path / "envdeck.yaml"
    config.write_text("environments:\n  dev: {}\n  ops: {}\n")
    common = ("--config", str(config), "--state-dir", str(state))

    text = envdeck_inproc("audit", "--limit", "24", *common)
    assert text.returncode == 0, text.stderr
    assert _actions(text.stdout) == [f"note-{i:02d}" for i in range(6, 30)], "the newest 24, oldest first"

    reverse = envdeck_inproc("audit", "--limit", "24", "--reverse", *common)
    assert _actions(reverse.stdout) == [f"note-{i:02d}" for i in range(29, 5, -1)], "newest first"

    only = envdeck_inproc("audit", "--env", "ops", "--limit", "3", *common)
    assert _actions(only.stdout) == ["note-15", "note-20", "note-25"], only.stdout

    as_json = envdeck_inproc("audit", "--json", "--limit", "3", *common)
    assert [e["action"] for e in json.loads(as_json.stdout)["entries"]] == ["note-29", "note-28", "note-27"]
