"""`envdeck doctor`: is everything envdeck needs in place? One line per check."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from backends.registry import create_backends
from tui.cli.output import write_line
from tui.config import file_warnings
from tui.errors import EnvdeckError, StateError
from tui.identity import current_user
from tui.paths import config_path, state_dir
from tui.policy import Policy
from tui.store import Store


async def run_doctor(args: argparse.Namespace, load) -> int:
    problems = 0
    path = config_path(args.config)
    cfg = load(args)
    write_line(f"ok    config {path}: {len(cfg.environments)} environment(s)")
    for warning in file_warnings(path):
        problems += 1
        write_line(f"WARN  {warning}")
    sdir = state_dir(args.state_dir)
    try:
        store = await Store.open(sdir, recover=False)
        check = await store.integrity_check()
        mode = await store.journal_mode()
        await store.close()
        write_line(f"{'ok   ' if check == 'ok' else 'FAIL '} state {sdir}: integrity {check}, journal {mode}")
        problems += check != "ok"
    except StateError as exc:
        problems += 1
        write_line(f"FAIL  state: {exc}")
    policy = Policy(cfg, current_user(), read_only=args.read_only)
    names = [args.env] if args.env else policy.visible_environments()
    for name in names:
        env_cfg = cfg.environments.get(name)
        if env_cfg is None:
            write_line(f"FAIL  {name}: no such environment")
            problems += 1
            continue
        role = policy.role(name)
        write_line(f"ok    {name}: you are {current_user()} ({role.label if role else 'no role'})")
        if env_cfg.edge:
            problems += _known_hosts(name, env_cfg.edge)
        for bname, backend in create_backends(name, env_cfg, cfg).items():
            try:
                await backend.start()
                summary = await asyncio.wait_for(backend.check(), timeout=max(15.0, cfg.defaults.timeout * 2))
                write_line(f"ok    {name}/{bname}: {summary}")
            except (EnvdeckError, TimeoutError, OSError) as exc:
                problems += 1
                write_line(f"FAIL  {name}/{bname}: {exc or type(exc).__name__}")
            finally:
                await backend.close()
    return 1 if problems else 0


def _known_hosts(env: str, edge) -> int:
    path = Path(os.path.expanduser(edge.known_hosts or "~/.ssh/known_hosts"))
    try:
        text = path.read_text(errors="replace")
    except OSError:
        write_line(f"FAIL  {env}/edge: known_hosts {path} cannot be read; host keys cannot be verified")
        return 1
    missing = []
    for node in edge.nodes:
        names = {node.host, f"[{node.host}]:{node.port}" if node.port and node.port != 22 else node.host}
        if not any(n in text for n in names) and "|1|" not in text:
            missing.append(node.name)
    if missing:
        write_line(f"WARN  {env}/edge: no known_hosts entry for {', '.join(missing)} ({path})")
        return 1
    write_line(f"ok    {env}/edge: known_hosts {path} covers {len(edge.nodes)} node(s)")
    return 0
