"""What the team benches share (bench/fencing_trials.py, bench/team_bench.py): `envdeck agent`
processes (tests/agent/support.py's Agent: stdout JSON lines, /metrics) leading one environment
on the Kubernetes API emulator, and a PostgreSQL server of their own (tests/postgres_server.py)
when the store is to be PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tests.agent.support import Agent

T = TypeVar("T")

TTL_S = 3.0   # the lease ttl of the trials ($ENVDECK_LEASE_TTL; its minimum)
CONFIG = """defaults:
  interval: 1s
environments:
  staging:
    repair: auto
    kubernetes:
      kubeconfig: {kubeconfig}
      context: emulator
      namespace: staging
      desired:
        - {{kind: Deployment, name: web, replicas: 3}}
"""


def wait(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


def held(agent: Agent, env: str = "staging") -> bool:
    return agent.metric("envdeck_lease_held", env=env) == 1


def replicas(emu: Any) -> int:
    return emu.get("deployments", "staging", "web")["spec"]["replicas"]


def agent_env(url: str | None, ttl_s: float | None = TTL_S) -> dict[str, str]:
    env = {"ENVDECK_STATE_URL": url} if url else {}
    if ttl_s is not None:
        env["ENVDECK_LEASE_TTL"] = f"{ttl_s:g}"
    return env


def start_agents(config: Path, state: Path, n: int, env: dict[str, str]) -> list[Agent]:
    """`n` agents, one after the other, each listening before the next starts."""
    agents = []
    for _ in range(n):
        agents.append(Agent(config, state, env=env))
        agents[-1].wait_listening()
    return agents


def stop_agents(agents: list[Agent]) -> None:
    import signal

    for agent in agents:
        if agent.proc.poll() is None:
            agent.proc.send_signal(signal.SIGCONT)
        agent.stop()


@contextlib.contextmanager
def pg_store(engine: str, directory: Path, database: str = "team") -> Iterator[str | None]:
    """For "postgres": a server of its own and the URL of a fresh database (PGPASSFILE set in this
    process's environment, inherited by the agents); for "sqlite": None."""
    if engine != "postgres":
        yield None
        return
    from tests.postgres_server import PG_PASSWORD, PostgresServer, _bin_dir

    bindir = _bin_dir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb)")
    server = PostgresServer(bindir)
    try:
        server.start()
        server.psql(f"CREATE ROLE envdeck LOGIN PASSWORD '{PG_PASSWORD}'")
        server.psql(f"CREATE DATABASE {database} OWNER envdeck")
        passfile = directory / "pgpass"
        passfile.write_text(f"127.0.0.1:{server.port}:*:envdeck:{PG_PASSWORD}\n")
        passfile.chmod(0o600)
        os.environ["PGPASSFILE"] = str(passfile)
        os.environ.pop("PGPASSWORD", None)
        yield server.url(database)
    finally:
        server.cleanup()
