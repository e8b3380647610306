"""`envdeck demo [--scale N] [--state-dir DIR]`: see envdeck work with no cloud account.

Starts the demo servers in a process of their own (`DemoWorld`, see `ServersProcess`), writes a generated
envdeck.yaml pointing at them into a temporary directory, and opens the TUI on
it: the same backend code paths as against real systems. State goes to a
temporary directory unless --state-dir is given; there, the environments an earlier demo run
created (their servers gone with it) are named and marked destroyed at start (demo_earlier.py).
With the hidden --headless flag,
one observe pass is printed instead of opening the TUI (used by tests and CI).

The config's path and the exact command that runs the CLI against the running demo
(its dummy `testing` AWS credentials included) are printed, written to `demo.env` next to
the config, and `CLI: . demo.env` stays in the overview's title while the TUI runs (its
screen hides what was printed before it; a line says it again when it ends). The temporary directory (config,
kubeconfigs, SSH keys, state) is removed when the demo ends: on quit, on an error,
and on SIGTERM or SIGHUP (the TUI is asked to exit, so the terminal is restored too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from backends.sim.child import end_child
from backends.sim.demo_world import ENVS, edge_nodes, ready_timeout_s
from tui.cli.demo_earlier import DEMO_DIR_PREFIX, retire_earlier, retired_line
from tui.cli.output import mark_pending, say
from tui.core.compliance_score import format_score
from tui.core.config import EnvdeckConfig, load_config
from tui.core.errors import EnvdeckError
from tui.core.logsetup import setup_logging
from tui.core.sanitize import clean
from tui.core.xray import pending_reason

# The demo's AWS is moto: it takes any credentials, so these dummy ones are safe to print.
DEMO_AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_EC2_METADATA_DISABLED": "true"}


def cli_environment(config_path: Path, state_dir: Path | None = None) -> dict[str, str]:
    """What a shell needs to run `envdeck` against the running demo: its config, the TUI's
    own state directory (default: `state` next to the config, as the demo's), so that the
    CLI and the TUI share overlays, holds, pauses and the audit trail (several processes on
    one store are fine), and the dummy AWS credentials."""
    state = state_dir if state_dir is not None else config_path.parent / "state"
    return {"ENVDECK_CONFIG": str(config_path), "ENVDECK_STATE_DIR": str(state), **DEMO_AWS_ENV}


def cli_command(config_path: Path, command: str = "status", state_dir: Path | None = None) -> str:
    """The exact command line that runs the CLI against the running demo."""
    env = " ".join(f"{key}={shlex.quote(value)}" for key, value in cli_environment(config_path, state_dir).items())
    return f"{env} envdeck {command}"


def write_env_file(config_path: Path, state_dir: Path | None = None, kubeconfig: Path | None = None) -> Path:
    """`demo.env` next to the config: `. demo.env` in another shell, then any envdeck command
    (and `kubectl`, when `kubeconfig` is given: the emulator, namespace staging; `-n prod` for the other)."""
    path = config_path.parent / "demo.env"
    variables = cli_environment(config_path, state_dir)
    if kubeconfig is not None:
        variables["KUBECONFIG"] = str(kubeconfig)
    path.write_text("".join(f"export {key}={shlex.quote(value)}\n" for key, value in variables.items()),
                    encoding="utf-8")
    path.chmod(0o600)
    return path


START_TOAST_S = 12.0
START_TOAST_WIDTH = 66  # one line of a toast at 80 columns (90% of the width, less padding and border)


CLI_HINT = "cli_hint"  # AppOptions.extra key: the overview's title keeps `CLI: . demo.env` in view


def cli_hint(env_file: Path) -> str:
    return clean(f"CLI: . {env_file}")


def start_toast(env_file: Path, width: int = START_TOAST_WIDTH) -> str:
    """The demo's first toast: one line naming demo.env (the full command is printed on the
    terminal before the TUI starts and after it ends, written in demo.env, and the overview's
    title keeps the hint while the TUI runs)."""
    line = clean(f"CLI: . {env_file} (also in the title)")
    if len(line) > width:
        line = clean(f"CLI: . {env_file}")
    if len(line) > width:
        line = "CLI: . " + "…" + clean(str(env_file))[-(width - 8):]
    return line


def ended_line(env_file: Path) -> str:
    """Printed when the TUI ended, once its servers have stopped and its directory is removed
    (the TUI's screen hid the lines printed before it)."""
    return clean(f"envdeck demo: while it ran, `. {env_file}` in another shell ran the CLI against it; "
                 "the demo has ended, its servers are stopped and that directory is removed")


@dataclass
class DemoServers:
    """What the servers' process handed over: the config pointing at them, the kubeconfig
    of each environment, the pieces that could not start."""

    handoff: dict[str, Any]
    kubeconfigs: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def config(self) -> dict[str, Any]:
        return self.handoff


SERVERS_LOG = "servers.log"
SERVERS_STOP_S = 30.0


def servers_environment() -> dict[str, str]:
    """The servers' process environment: this one's, the dummy AWS credentials, and the
    directory this envdeck is imported from first on PYTHONPATH (whatever the current directory)."""
    import backends

    root = str(Path(backends.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, **DEMO_AWS_ENV, "PYTHONPATH": path}


PIECES = ("aws", "kubernetes", "edge")


def not_started_message(code: int | None, timeout_s: float, progress: dict[str, str], log: Path,
                        scale: int) -> str:
    """Why the demo's servers did not start: how they ended (or that they were not ready in
    time), how far each piece got, the end of their log, and a smaller --scale to try."""
    how = f"their process ended with exit {code}" if code is not None else f"not ready within {timeout_s:.0f}s"
    got = "; ".join(f"{piece}: {progress.get(piece, 'not started')}" for piece in PIECES)
    parts = [f"the demo's servers did not start ({how}); {got}"]
    with contextlib.suppress(OSError):
        tail = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        if tail:
            parts.append("their log ends: " + " | ".join(tail[-5:]))
    if scale > 1:
        parts.append(f"try a smaller --scale (e.g. --scale {max(1, scale // 3)}), or the same on a less busy machine")
    else:
        parts.append("try again on a less busy machine")
    return clean(". ".join(parts))


class ServersProcess:
    """The demo's servers (moto, the Kubernetes emulator, the simulated edge nodes) in a
    process of their own (`python -m backends.sim.demo_world`). In the TUI's process they
    shared its GIL: while the TUI started and ran the first passes of every environment at
    once (a few CPU-seconds of work on both sides of every request), they answered no sooner
    than that work let them, and on a loaded machine a command run against them from another
    terminal (the printed `envdeck status`) waited past its timeout. On their own they answer
    as the machine allows (the edge nodes in a process of theirs again: `backends.sim.edge.process`).
    While starting they report how far each piece got (`progress`), which a failure to start
    names. Their output goes to `servers.log` in their directory, never to the TUI's terminal;
    closing their stdin (also when this process dies) stops them at once."""

    def __init__(self, workdir: Path, scale: int) -> None:
        self.workdir = workdir
        self.scale = scale
        self.proc: subprocess.Popen[str] | None = None
        self.progress: dict[str, str] = {}  # piece -> the last state it reported while starting

    def start(self) -> DemoServers:
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        log = self.workdir / SERVERS_LOG
        with open(log, "w", encoding="utf-8") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "backends.sim.demo_world", str(self.workdir), "--scale", str(self.scale)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, close_fds=True,
                env=servers_environment())
        timeout_s = ready_timeout_s(self.scale)
        handoff = self._handoff(self.progress, timeout_s)
        if handoff is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            raise EnvdeckError(not_started_message(self.proc.poll(), timeout_s, self.progress, log, self.scale))
        return DemoServers(handoff["config"], {k: Path(v) for k, v in handoff["kubeconfigs"].items()},
                           list(handoff["problems"]))

    def _handoff(self, progress: dict[str, str], timeout_s: float) -> dict[str, Any] | None:
        """Reads the servers' lines until the one with their config (None: they ended, or were not
        ready within `timeout_s`); `progress` keeps the last state each piece reported."""
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if not sel.select(timeout=left):
                    continue
                line = self.proc.stdout.readline()
                if not line:
                    return None  # the process ended
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if "config" in record:
                        return record
                    progress[str(record.get("progress"))] = str(record.get("state"))
        return None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        end_child(proc, SERVERS_STOP_S)

    def kill(self) -> None:
        """At once (a signal while starting): nothing of theirs may outlive the directory."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            with contextlib.suppress(Exception):
                proc.wait(timeout=10)

    def __enter__(self) -> DemoServers:
        try:
            return self.start()
        except BaseException:
            self.kill()
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_config(world: Any, directory: Path, state_dir: Path | None = None) -> Path:
    path = directory / "envdeck.yaml"
    header = ("# Generated by `envdeck demo`: every endpoint is a server of the demo (its servers' process).\n"
              "# Copy it as a starting point for your own config. While the demo runs, the CLI\n"
              "# works against it from another terminal:\n"
              f"#   {cli_command(path, state_dir=state_dir)}\n"
              "# This file and its directory are removed when the demo ends.\n")
    path.write_text(header + yaml.safe_dump(world.config(), sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


async def observe_once(config: EnvdeckConfig, state_dir: Path) -> list[dict]:
    from backends.registry import create_backends
    from tui.core.model import Origin
    from tui.core.session import Session

    session = await Session.open(config, state_dir, origin=Origin.CLI, backends_factory=create_backends)
    try:
        await session.reconcile_once(repair=False)
        # another live process (the demo's TUI on the same --state-dir) leads: wait for its first
        # pass, bounded, as `envdeck status` does; what is still not observed is pending
        pending = await session.await_leaders_first_pass(config.defaults.timeout)
        envs = [session.state(name).to_json(include_resources=True) for name in session.environments()]
    finally:
        await session.close()
    mark_pending(envs, pending)
    return envs


def backend_summary(name: str, b: dict, leader: str | None) -> str:
    """`aws ok`, `aws UNREACHABLE why`, or `aws pending (first pass by LEADER running)` for a backend
    nobody has observed yet (`envdeck status` says the same): never unreachable then."""
    if b.get("pending") or b["reachable"] is None:
        return pending_reason(name, leader or "its leader")
    return f"{name} {'ok' if b['reachable'] else 'UNREACHABLE ' + clean(b['error'] or '')}"


def print_summary(envs: list[dict]) -> bool:
    """One line per environment; True when every backend was observed and reachable."""
    all_reachable = True
    for env in envs:
        backends = []
        for name, b in env["backends"].items():
            all_reachable &= b["reachable"] is True
            backends.append(backend_summary(name, b, env.get("leader")))
        print(clean(f"{env['name']}: {env['health']}, drift {env['drift']}, {len(env['resources'])} resources, "
                    f"{len(env['faults'])} faults, {len(env['drifts'])} drifted fields, compliance "
                    f"{format_score(env['compliance_score'])}; " + ", ".join(backends)))
    return all_reachable


class _Ending:
    """SIGTERM and SIGHUP end the demo the way quitting does, so that its temporary
    directory is removed (the default action would kill the process on the spot, leaving
    kubeconfigs and keys behind and the terminal in raw mode). While the TUI runs it is
    asked to exit; otherwise (starting, headless) the temporary directory is removed and the
    process exits at once (its servers' process is killed first; its edge nodes' process dies with it).
    A second signal during the clean-up is ignored: SIGKILL remains for a stuck demo."""

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.app: Any = None
        self.signum: int | None = None
        self.tmpdir: Path | None = None  # removed at once by a signal that comes before the TUI runs
        self.servers: ServersProcess | None = None  # killed first, so that nothing writes there again

    def handle(self, signum: int, _frame: object) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        app = self.app
        if app is not None and app.is_running:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon_threadsafe(app.exit, 128 + signum)
                return
        # Starting (or headless): the servers' process is killed and the terminal is not the TUI's
        # yet, so only the temporary directory needs undoing. Unwinding with SystemExit
        # could wait on a server thread caught half-started (a test saw the demo never exit).
        if self.servers is not None:
            self.servers.kill()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(128 + signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Ending]:
        previous = {sig: signal.signal(sig, self.handle) for sig in self.SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def main_demo(args: argparse.Namespace) -> int:
    scale = max(1, int(getattr(args, "scale", 1) or 1))
    ending = _Ending()
    say_stopping = False
    with ending.installed(), tempfile.TemporaryDirectory(prefix=DEMO_DIR_PREFIX, ignore_cleanup_errors=True) as tmp:
        tmpdir = Path(tmp)
        ending.tmpdir = tmpdir
        state_dir = (Path(args.state_dir).expanduser().resolve() if getattr(args, "state_dir", None)
                     else tmpdir / "state")
        setup_logging(state_dir)
        nodes = sum(edge_nodes(i, scale) for i in range(len(ENVS)))
        say(f"envdeck demo: starting moto, the Kubernetes emulator and {nodes} simulated edge nodes "
            f"(scale {scale}), and a pool of 3 nodes for the preview template…")
        for key, value in DEMO_AWS_ENV.items():  # this process's backends talk to moto
            os.environ.setdefault(key, value)
        ending.servers = ServersProcess(tmpdir / "servers", scale)
        with ending.servers as world:
            for problem in world.problems:
                say(f"envdeck demo: running without {problem}")
            config_path = write_config(world, tmpdir, state_dir)
            env_file = write_env_file(config_path, state_dir, world.kubeconfigs.get("staging"))
            config = load_config(config_path)
            # environments an earlier demo created in this state dir: their servers are gone
            retired = asyncio.run(retire_earlier(config, state_dir, tmpdir))
            if retired:
                say(retired_line(state_dir, retired))
            say(f"envdeck demo: config {config_path} (copy it as a starting point; removed when the demo ends)")
            say(f"envdeck demo: from another terminal while the demo runs: {cli_command(config_path, state_dir=state_dir)}")
            say(f"envdeck demo: or `. {env_file}` there, then any envdeck command")
            if config.templates:
                say("envdeck demo: try `envdeck env create pr-1 --template preview --param branch=main --wait` "
                    "there, or `n` in the TUI")
            if getattr(args, "headless", False):
                print(clean(f"config: {config_path}"))
                return 0 if print_summary(asyncio.run(observe_once(config, state_dir))) else 1
            from tui.app import AppOptions, create_app

            app = create_app(config, state_dir, read_only=bool(getattr(args, "read_only", False)),
                             options=AppOptions(title="envdeck demo", extra={CLI_HINT: cli_hint(env_file),
                                                                              "removed_on_exit": str(tmpdir)}))
            # queued now, shown when the TUI starts: the demo's terminal is taken by the TUI
            app.notify(start_toast(env_file), timeout=START_TOAST_S, markup=False)
            ending.app = app
            say_stopping = True
            app.run()
            ending.app = None
            say("envdeck demo: stopping its servers and removing its directory…")
    # said once the servers' process has ended and the directory is gone (the `with` blocks above)
    if say_stopping:
        say(ended_line(env_file))
    if ending.signum is not None:
        return 128 + ending.signum
    return int(app.return_code or 0)
