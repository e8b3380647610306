"""On-call findings on `envdeck env` (session 8), with the real CLI against the lifecycle world
(moto, the Kubernetes emulator, simulated edge nodes); prompts and Ctrl-C on a pseudo-terminal.

- `env destroy NAME` of an environment destroyed already asked to type its name (piped: exit 2
  "pass --yes") before saying "already destroyed": now said first, exit 0, nothing asked.
- Ctrl-C during `env create --wait` said only where it stopped in general terms, and one more
  step line came after the ^C: now nothing is printed after the interrupt line, which says what
  was created (the steps done, those under way) and how to carry on or destroy; a Ctrl-C while
  the verb is still being imported says nothing was done.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import repo_root
from tests.lifecycle.conftest import World
from tests.terminal import TerminalSession

INTERRUPTED = "envdeck: interrupted (Ctrl-C)"


def _pty(world: World, *args: str) -> TerminalSession:
    return TerminalSession(world.argv(*args), env=world.cli_env(), cwd=repo_root())


def test_destroy_of_a_destroyed_environment_says_so_before_asking(world: World):
    made = world.envdeck("env", "create", "n1", "--template", "note", "--param", "note=hi", "--wait")
    assert made.returncode == 0, made.stderr
    gone = world.envdeck("env", "destroy", "n1", "--yes", "--wait")
    assert gone.returncode == 0, gone.stderr
    assert world.namespaces("n1") == []
    # piped (stdin not a terminal), no --yes: said, exit 0, not "pass --yes"
    piped = world.envdeck("env", "destroy", "n1")
    assert piped.returncode == 0, piped.stderr
    assert re.search(r"n1 is already destroyed \(at [^)]+\); nothing was done", piped.stderr), piped.stderr
    assert "--yes" not in piped.stderr, piped.stderr
    # on a terminal: said at once, nothing asked
    with _pty(world, "env", "destroy", "n1") as term:
        code = term.wait_exit(timeout=90)
    out = term.out.decode(errors="replace")
    assert code == 0 and "n1 is already destroyed" in out and "Type its name" not in out, out
    # a live environment is still asked about (and not confirmed: nothing done)
    assert world.envdeck("env", "create", "n2", "--template", "note", "--param", "note=x", "--wait").returncode == 0
    refused = world.envdeck("env", "destroy", "n2")
    assert refused.returncode == 2 and "pass --yes" in refused.stderr, refused.stderr
    assert world.namespaces("n2") == ["n2"], "not destroyed"


def test_ctrl_c_during_create_says_what_was_created_and_nothing_after_it(world: World):
    config = world.config()
    config["templates"]["stuck"]["kubernetes"]["timeout"] = "10m"   # never healthy: still waiting at the ^C
    world.write_config(config)
    with _pty(world, "env", "create", "s1", "--template", "stuck", "--param", "branch=main", "--wait") as term:
        term.expect_text("s1: Deployment/web waiting")
        term.send(b"\x03")
        code = term.wait_exit(timeout=90)
    out = term.out.decode(errors="replace").replace("\r\n", "\n")
    assert code == 130, out
    after = out[out.index("^C"):].removeprefix("^C").strip().splitlines()
    assert len(after) == 1 and after[0].startswith(INTERRUPTED), f"nothing after the interrupt line: {after}"
    line = after[0]
    assert "s1's create stopped with 1 of 2 step(s) done (namespace), 1 under way (Deployment/web)" in line, line
    assert "the same command" in line and "envdeck env destroy s1" in line, line
    assert world.namespaces("s1") == ["s1"], "what the line says was created is there (emulator side)"
    assert world.stored_state("s1") not in (None, "ready")


_INTERRUPTED_IMPORT = """
import os, signal, sys

class Interrupting:
    def find_spec(self, name, path=None, target=None):
        if name == "tui.cli.env_cmd":
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, Interrupting())
from tui.cli import run
sys.argv = ["envdeck", *sys.argv[1:]]
run()
"""


def test_ctrl_c_before_create_started_says_nothing_was_done(world: World):
    proc = subprocess.run([sys.executable, "-c", _INTERRUPTED_IMPORT, "env", "create", "e1", "--template", "note",
                           "--param", "note=x", "--wait"], capture_output=True, text=True, cwd=repo_root(),
                          env=world.cli_env(),
                          stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.splitlines() == [f"{INTERRUPTED} before the command started: nothing was done"], proc.stderr
    assert world.namespaces("e1") == [] and world.stored_state("e1") is None, "nothing was created or recorded"
