"""The real envdeck TUI (`create_app`, the factory the CLI uses) on whatever terminal
this process has, with the in-memory backend of the core tests as its collaborator:
its resources are named by the hostile corpus of tests/security/test_hostile_text.py.

    python -m tests.security.tui_on_terminal STATE_DIR
"""

from __future__ import annotations

import sys

from tests.memory_backend import World, memory_factory
from tui.app import AppOptions, create_app
from tui.core.config import parse_config

NAMES = [
    "[b]BOLD[/b]",
    "[link=http://phish.example]CLICK[/link]",
    "unbal [ [/]",
    "\x1b[31mRED\x1b[0m",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b]0;PWNED\x07",
    "abc\u202edcba",
    "nul\x00byte",
    "c1\u009b31mX",
    "zz-sentinel-ok",
]
CONFIG = "environments:\n  staging:\n    aws: {region: us-east-1, tags: {env: staging}}\n"


def main(state_dir: str) -> None:
    world = World()
    world.replicas = {name: 1 for name in NAMES}
    world.desired = {}
    options = AppOptions(backends_factory=memory_factory(world), start_reconciler=False, start_env="staging",
                         start_view="resources", testing=True)
    create_app(parse_config(CONFIG), state_dir, options=options).run()


if __name__ == "__main__":
    main(sys.argv[1])
