"""Team mode, followers (issue 16): how soon a change the leader observed is visible in a follower,
and what the followers cost the cloud.

One leader Session (a running reconciler, as in `envdeck agent` or a TUI) and N follower Sessions
(running reconcilers, as in N TUIs) on one store, SQLite (a state directory) and PostgreSQL (a
server started here from Debian's package, as the tests do; skipped with the reason when absent).
The cloud is the Kubernetes API emulator. Each sample creates a Deployment on the leader's
emulator; the leader's watch observes it and publishes (tui/core/change_feed.py); a follower
shows it once it has loaded the publication (PostgreSQL: LISTEN/NOTIFY; SQLite: its 0.5 s poll).

- latency: from the leader's `ResourcesChanged` carrying the new Deployment to each follower's
  (time.monotonic, one process, one event loop: the followers are Sessions of this process, each
  with its own store connection, as a second envdeck would have);
- cloud calls of the followers: every request their emulator served (their kubeconfig names an
  emulator of their own, so the count is the server's and belongs to them alone); the leader's
  requests over the same time beside it.

    python -m bench.follow_bench [--followers 10] [--samples 40] [--quick]   (--quick: SQLite only)
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import parse_args, percentile, print_table, write_result
from tests.followers.support import ENV, NS, open_session, requests, start_emulator, until
from tui.core.env_state import ResourcesChanged

NAME = "follow_bench"
GOAL_S = 1.0


def _postgres() -> tuple[Any, str] | str:
    """A PostgreSQL server and the URL of a fresh database, or why not."""
    try:
        from tests.postgres_server import PG_PASSWORD, PostgresServer, _bin_dir
    except ImportError as exc:
        return f"not available ({exc})"
    bindir = _bin_dir()
    if bindir is None:
        return "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb)"
    server = PostgresServer(bindir)
    server.start()
    server.psql(f"CREATE ROLE envdeck LOGIN PASSWORD '{PG_PASSWORD}'")
    server.psql("CREATE DATABASE follow OWNER envdeck")
    os.environ["PGPASSWORD"] = PG_PASSWORD
    return server, server.url("follow")


async def _run(engine: str, directory: Path, followers_n: int, samples: int, url: str | None) -> dict[str, Any]:
    if url:
        os.environ["ENVDECK_STATE_URL"] = url
    else:
        os.environ.pop("ENVDECK_STATE_URL", None)
    os.environ["ENVDECK_LEASE_TTL"] = "15"
    state_dir = directory / engine
    leader_emu, leader_kc = start_emulator(directory, f"{engine}-leader")
    followers_emu, followers_kc = start_emulator(directory, f"{engine}-followers")
    leader_emu.emu.create_deployment(NS, "web", replicas=1)
    seen_at: dict[str, dict[int, float]] = {}
    sessions = []
    try:
        leader = await open_session(state_dir, leader_kc, "alice", "leader@bench:1")
        sessions.append(leader)
        await until(lambda: leader.state(ENV).resource("kubernetes/Deployment/web") is not None, "the first pass")

        def recorder(key: int):
            def record(change) -> None:
                if isinstance(change, ResourcesChanged) and change.env == ENV:
                    now = time.monotonic()
                    for r in change.changed:
                        seen_at.setdefault(r.id, {}).setdefault(key, now)
            return record

        leader.subscribe(recorder(0))
        followers = []
        for i in range(followers_n):
            f = await open_session(state_dir, followers_kc, "bob", f"follower@bench:{i + 2}")
            sessions.append(f)
            followers.append(f)
            f.subscribe(recorder(i + 1))
        await until(lambda: all(f.reconciler.follower.loads >= 1 for f in followers), "followers loaded", 60)
        leader_before = len(requests(leader_emu))
        started = time.monotonic()
        rng = random.Random(7)
        for n in range(samples):
            rid = f"kubernetes/Deployment/b{n}"
            leader_emu.emu.create_deployment(NS, f"b{n}", replicas=1)
            await until(lambda rid=rid: len(seen_at.get(rid, {})) == followers_n + 1, f"{rid} everywhere", 60)
            await asyncio.sleep(rng.uniform(0.05, 0.4))  # changes at every phase of a follower's poll
        elapsed = time.monotonic() - started
        lat = [at - marks[0] for rid, marks in seen_at.items() if rid.startswith("kubernetes/Deployment/b")
               for key, at in marks.items() if key]
        return {
            "followers": followers_n, "samples": samples, "changes_seen": len(lat),
            "latency_p50_ms": round(percentile(lat, 50) * 1000, 1), "latency_p99_ms": round(percentile(lat, 99) * 1000, 1),
            "latency_max_ms": round(max(lat) * 1000, 1),
            "follower_cloud_requests": len(requests(followers_emu)),
            "leader_cloud_requests": len(requests(leader_emu)) - leader_before,
            "window_s": round(elapsed, 1),
            "follower_loads": sum(f.reconciler.follower.loads for f in followers),
        }
    finally:
        for s in reversed(sessions):
            await s.close()
        leader_emu.stop()
        followers_emu.stop()


def main() -> None:
    args = parse_args(NAME, __doc__, [("--followers", {"type": int, "default": 10}),
                                      ("--samples", {"type": int, "default": 40})])
    if args.quick:
        args.followers, args.samples = 3, 4
    results: dict[str, Any] = {}
    notes = ["followers and leader are Sessions of one process on one event loop, each with its own store "
             "connection; the machine is shared with other work (see the load average)"]
    with tempfile.TemporaryDirectory(prefix="follow-bench-") as tmp:
        directory = Path(tmp)
        results["sqlite"] = asyncio.run(_run("sqlite", directory, args.followers, args.samples, None))
        pg = "not in --quick (starting a server takes most of its time)" if args.quick else _postgres()
        if isinstance(pg, str):
            notes.append(f"postgresql skipped: {pg}")
        else:
            server, url = pg
            try:
                results["postgresql"] = asyncio.run(_run("postgresql", directory, args.followers, args.samples, url))
            finally:
                server.cleanup()
    rows = [[engine, r["followers"], r["changes_seen"], r["latency_p50_ms"], r["latency_p99_ms"], r["latency_max_ms"],
             r["follower_cloud_requests"], r["leader_cloud_requests"]] for engine, r in results.items()]
    print_table(f"a change observed by the leader -> visible in {args.followers} followers, {args.samples} changes",
                ["store", "followers", "seen", "p50 ms", "p99 ms", "max ms", "follower requests", "leader requests"],
                rows)
    goals = {}
    for engine, r in results.items():
        goals[f"{engine}: leader -> follower p99 < 1 s"] = {"p99_ms": r["latency_p99_ms"],
                                                            "met": r["latency_p99_ms"] < GOAL_S * 1000}
        goals[f"{engine}: followers add zero cloud calls"] = {"requests": r["follower_cloud_requests"],
                                                              "met": r["follower_cloud_requests"] == 0}
    for goal, value in goals.items():
        print(f"goal: {goal}: {value} -> {'met' if value['met'] else 'NOT met'}")
    write_result(args.out, NAME, args.quick, {"followers": args.followers, "samples": args.samples}, results,
                 goals=goals, notes=notes)


if __name__ == "__main__":
    main()
