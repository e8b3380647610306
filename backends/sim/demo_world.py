"""The servers behind `envdeck demo`, all in this process and on 127.0.0.1:

- a moto server (AWS) seeded with tagged `staging` and `prod` environments and a
  log group that keeps receiving lines (`backends/sim/aws_demo_seed.py`);
- the project's Kubernetes API emulator with deployments, a CrashLoopBackOff and an
  OOMKilled pod, events, streaming logs and pod metrics (`backends/sim/k8s_emulator`);
- simulated edge nodes served by an in-process asyncssh server that never runs a
  command on this machine (`backends/sim/edge/simulator.py`), plus a pool of three more
  (`demo-pool`, nginx stopped) that the `preview` template claims from.

They run on their own event loop in a daemon thread, so the TUI's loop only runs
envdeck; the backends reach them over real sockets, exactly as they reach real
systems. `envdeck demo` runs them in a process of their own (`serve_process`, started by
`tui.cli.demo.ServersProcess`): in the TUI's process they shared its GIL and answered late
while the TUI's first passes ran. `config()` returns the envdeck config (a dict) pointing at them, with
the desired state that makes drift visible, and a `preview` template (issue 15): a
bucket, a security group and an instance on moto, a namespace with a Deployment on the
emulator, one node of the pool; it creates in seconds. Everyone may create from it and
becomes admin of what they created.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import logging.handlers
import math
import os
import secrets
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENVS = ("staging", "prod")
READY_TIMEOUT_S = 180.0
READY_S_PER_SCALE = 1.5  # moto's seeding grows with --scale: a loaded machine took ~1m45s at scale 100


def ready_timeout_s(scale: int) -> float:
    """How long the demo waits for its servers: 180 s, more at a large --scale."""
    return READY_TIMEOUT_S + READY_S_PER_SCALE * max(0, int(scale) - 1)


Progress = Callable[[str, str], None]  # (piece: aws, kubernetes or edge; how far it got)
POOL = "demo-pool"
POOL_NODES = ("pool-01", "pool-02", "pool-03")
PREVIEW_MANIFEST = """\
# The preview template's Kubernetes objects ({env}, {branch}, {replicas} are filled in).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: "{replicas}"
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "registry.example/preview-web:{branch}"
          ports:
            - containerPort: 8080
"""
DEMO_AMI = {"ami_id": "ami-0e4d3c2b1a0demo01", "name": "envdeck-demo-linux", "state": "available", "public": True,
            "owner_id": "137112412989", "description": "a stand-in machine image for the envdeck demo",
            "virtualization_type": "hvm", "architecture": "x86_64", "platform": None, "image_type": "machine",
            "hypervisor": "xen", "root_device_name": "/dev/xvda", "root_device_type": "ebs", "sriov": "simple",
            "image_location": "amazon/envdeck-demo"}


MOTO_LOG = "moto.log"
MOTO_LOGGERS = ("werkzeug", "moto")
MOTO_LOG_BYTES = 1_000_000


class MotoLog:
    """moto's request log and its tracebacks (werkzeug's "Error on request", e.g. an operation
    moto has not implemented) go to a file of the demo directory, not to the terminal the TUI
    draws on. werkzeug adds a stderr handler of its own when its logger has none, so the file
    handler must be in place before moto answers its first request; `close()` restores the
    loggers as they were."""

    def __init__(self, handler: logging.Handler, previous: dict[str, tuple[list[logging.Handler], bool, int]]):
        self.handler = handler
        self._previous = previous

    @classmethod
    def open(cls, path: Path) -> MotoLog:
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=MOTO_LOG_BYTES, backupCount=1,
                                                       encoding="utf-8", delay=True)
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        previous = {}
        for name in MOTO_LOGGERS:
            logger = logging.getLogger(name)
            previous[name] = (list(logger.handlers), logger.propagate, logger.level)
            for old in list(logger.handlers):  # e.g. werkzeug's own stderr handler
                logger.removeHandler(old)
            logger.addHandler(handler)
            logger.propagate = False
            logger.setLevel(logging.INFO)
        return cls(handler, previous)

    def close(self) -> None:
        for name, (handlers, propagate, level) in self._previous.items():
            logger = logging.getLogger(name)
            logger.removeHandler(self.handler)
            for old in handlers:
                logger.addHandler(old)
            logger.propagate = propagate
            logger.setLevel(level)
        self.handler.close()


def pod_log_interval_s(interval_s: float, scale: int) -> float:
    """How often every running pod gets a log line: `interval_s` up to scale 4, then slower as the
    square root of the scale (5 s at scale 100). The emulator's generator goes over every pod each
    time: at scale 300 it took a fifth of the servers' CPU while they were still seeding moto."""
    return interval_s * max(1.0, math.sqrt(max(1, int(scale)) / 4))


def edge_nodes(index: int, scale: int) -> int:
    """The simulated edge nodes of the demo's `index`-th environment: 3 per scale unit in the first, 2 after."""
    return (3 if index == 0 else 2) * max(1, int(scale))


class DemoWorld:
    def __init__(self, workdir: Path, *, scale: int = 1, envs: tuple[str, ...] = ENVS,
                 log_interval_s: float = 1.0, progress: Progress | None = None, edge_process: bool = False):
        self.workdir = Path(workdir)
        self.progress: Progress = progress or (lambda _piece, _text: None)
        self.scale = max(1, int(scale))
        self.envs = envs
        self.log_interval_s = log_interval_s
        self.loop: asyncio.AbstractEventLoop | None = None
        self.moto = None
        self.emulator = None
        self.simulators: dict[str, Any] = {}
        self.pool: Any = None  # the EdgeSimulator of the preview template's pool
        # edge_process: the nodes run in a process of their own (EdgeProcess; `envdeck demo`), and
        # only their config blocks are here (`simulators` and `pool` stay empty)
        self.edge_process = edge_process
        self._edge_proc: Any = None
        self.edge_configs: dict[str, dict[str, Any]] = {}  # env (or POOL) -> its `edge:` block
        self.aws: dict[str, Any] | None = None
        self.kubernetes: dict[str, Any] | None = None
        self.kubeconfigs: dict[str, Path] = {}
        self.problems: list[str] = []  # pieces that could not start (the demo runs without them)
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._moto_log: MotoLog | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> DemoWorld:
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_EC2_METADATA_DISABLED": "true"}.items():
            os.environ.setdefault(key, value)
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="envdeck-demo-servers", daemon=True)
        self._thread.start()  # the emulator and the edge nodes start while moto is seeded here
        try:
            try:
                self._start_moto()
            finally:
                ready.result(timeout=ready_timeout_s(self.scale))
            self._start_log_feeds_threadsafe()
        except BaseException:
            # `with DemoWorld(...)` calls no __exit__ when __enter__ fails (an error, or SIGTERM
            # while starting): stop what did start, before its directory is removed
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop = self.loop
        if loop is not None and self._stop is not None and self._thread is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=30)
        if self.moto is not None:
            with contextlib.suppress(Exception):
                self.moto.stop()
            self.moto = None
        if self._moto_log is not None:
            self._moto_log.close()
            self._moto_log = None

    def __enter__(self) -> DemoWorld:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, coro_fn, *args: Any, timeout: float = 60.0) -> Any:
        """Run `coro_fn(*args)` on the servers' loop (e.g. to stop a server in a test)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro_fn(*args), self.loop).result(timeout=timeout)

    # -- AWS (moto runs its own thread) ----------------------------------------
    def _start_moto(self) -> None:
        # moto loads ~40 stock AMIs per region on first use (seconds of start-up); the demo needs one.
        if "moto" not in sys.modules:
            amis = self.workdir / "amis.json"
            amis.write_text(json.dumps([DEMO_AMI]), encoding="utf-8")
            os.environ.setdefault("MOTO_AMIS_PATH", str(amis))
        self._moto_log = MotoLog.open(self.workdir / MOTO_LOG)  # never on the TUI's terminal
        try:
            from moto.server import ThreadedMotoServer

            from backends.sim.aws_demo_seed import seed_demo
        except ImportError as exc:
            self.problems.append(f"aws: {exc}")
            return
        self.progress("aws", "starting moto")
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.aws = seed_demo(f"http://{host}:{port}", envs=self.envs, scale=self.scale,
                             progress=lambda text: self.progress("aws", text))
        self.progress("aws", "ready")

    # -- Kubernetes emulator and edge nodes (our loop) ---------------------------
    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        self._stop = asyncio.Event()
        try:
            await self._start_kubernetes()
            await self._start_edge()
        except BaseException as exc:
            ready.set_exception(exc)
            await self._close()
            return
        ready.set_result(None)
        try:
            await self._stop.wait()
        finally:
            await self._close()

    async def _start_kubernetes(self) -> None:
        try:
            from backends.sim.k8s_emulator import Emulator
            from backends.sim.k8s_emulator.demo_seed import seed_demo
        except ImportError as exc:
            self.problems.append(f"kubernetes: {exc}")
            return
        self.progress("kubernetes", "starting the emulator")
        # a token of this run only (in the kubeconfigs, 0600 in the 0700 work dir): another local user
        # who finds the port cannot write hostile objects into this demo's cluster; over HTTPS, as
        # kubectl sends a token to an HTTPS server only (the kubeconfigs carry the certificate)
        emu = Emulator(seed=0, token=secrets.token_urlsafe(24))
        await emu.start(host="127.0.0.1", port=0, tls=True)
        self.emulator = emu
        self.progress("kubernetes", "seeding")
        self.kubernetes = seed_demo(emu, namespaces=self.envs, scale=self.scale)
        self.progress("kubernetes", "ready")
        emu.start_log_generators(interval_s=pod_log_interval_s(self.log_interval_s, self.scale))
        for env in self.envs:
            self.kubeconfigs[env] = emu.write_kubeconfig(self.workdir / f"kubeconfig-{env}", namespace=env,
                                                         context=f"demo-{env}")
        self.kubeconfigs["preview"] = emu.write_kubeconfig(self.workdir / "kubeconfig-preview",
                                                           namespace="default", context="demo-preview")
        manifest = self.workdir / "templates" / "preview" / "k8s.yaml"
        manifest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        manifest.write_text(PREVIEW_MANIFEST, encoding="utf-8")

    def _edge_specs(self) -> list[dict[str, Any]]:
        specs = []
        for i, env in enumerate(self.envs):
            prefix = "gw" if i == 0 else f"{env[:4]}-gw"
            specs.append({"key": env, "nodes": [f"{prefix}-{n:02d}" for n in range(1, edge_nodes(i, self.scale) + 1)],
                          "seed": i, "scenario": "demo", "services": ["nginx", "mosquitto"],
                          "workdir": str(self.workdir / f"edge-{env}")})
        specs.append({"key": POOL, "nodes": list(POOL_NODES), "seed": len(self.envs) + 1, "scenario": "clean",
                      "services": ["nginx"], "stopped": ["nginx"],  # started when an environment claims the node
                      "workdir": str(self.workdir / "edge-pool")})
        return specs

    async def _start_edge(self) -> None:
        if self.edge_process:
            await self._start_edge_process()
            return
        try:
            from backends.sim.edge.simulator import EdgeSimulator
        except ImportError as exc:
            self.problems.append(f"edge: {exc}")
            return
        total = sum(edge_nodes(i, self.scale) for i in range(len(self.envs))) + len(POOL_NODES)
        listening = 0
        for i, env in enumerate(self.envs):
            count = edge_nodes(i, self.scale)
            prefix = "gw" if i == 0 else f"{env[:4]}-gw"
            names = [f"{prefix}-{n:02d}" for n in range(1, count + 1)]
            self.progress("edge", f"{listening} of {total} nodes listening")
            sim = EdgeSimulator(nodes=names, seed=i, scenario="demo", workdir=self.workdir / f"edge-{env}")
            await sim.start()
            self.simulators[env] = sim
            listening += count
        pool = EdgeSimulator(nodes=POOL_NODES, seed=len(self.envs) + 1, services=("nginx",), scenario="clean",
                             workdir=self.workdir / "edge-pool")
        for node in pool.nodes.values():
            node.services["nginx"] = False  # started when an environment claims the node
        await pool.start()
        self.pool = pool
        self.progress("edge", f"ready ({total} nodes listening)")

    async def _start_edge_process(self) -> None:
        """The nodes in a process of their own: in this one they shared the GIL with moto and the
        emulator, and an observe pass or a fleet command over hundreds of them (an SSH handshake
        each) made the emulator answer kubectl in seconds while moto's work made nodes miss their
        SSH deadline."""
        from backends.sim.edge.process import EdgeProcess

        specs = self._edge_specs()
        proc = EdgeProcess(specs, self.workdir / "edge.json", self.workdir / "edge.log")
        self.progress("edge", f"starting {proc.nodes} nodes in their own process")
        self._edge_proc = proc.start()
        self.edge_configs = await asyncio.to_thread(proc.ready, ready_timeout_s(self.scale))
        self.progress("edge", f"ready ({proc.nodes} nodes listening)")

    def end_edge_process(self) -> None:
        """Stops the edge nodes' process (closing its stdin ends it at once)."""
        proc, self._edge_proc = self._edge_proc, None
        if proc is not None:
            proc.stop()

    def _edge_config(self, key: str) -> dict[str, Any] | None:
        sim = self.pool if key == POOL else self.simulators.get(key)
        if sim is not None:
            return sim.edge_config_dict()
        block = self.edge_configs.get(key)
        return json.loads(json.dumps(block)) if block is not None else None  # a copy: callers change it

    def _start_log_feeds_threadsafe(self) -> None:
        """A log group per environment keeps receiving lines (run on the servers' loop)."""
        if not self.aws or self.loop is None:
            return
        from backends.sim.aws_demo_seed import feed_logs

        def start() -> None:
            for info in self.aws["environments"].values():
                self._tasks.append(asyncio.ensure_future(
                    feed_logs(self.aws["endpoint_url"], info["log_group"], self._stop,
                              interval_s=max(self.log_interval_s, 1.0))))

        self.loop.call_soon_threadsafe(start)

    async def _close(self) -> None:
        if self._stop is not None:
            self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, timeout=5)
        for sim in [*self.simulators.values(), *([self.pool] if self.pool is not None else [])]:
            with contextlib.suppress(Exception):
                await sim.close()
        if self.emulator is not None:
            with contextlib.suppress(Exception):
                await self.emulator.stop()
        await asyncio.to_thread(self.end_edge_process)

    # -- the generated config ------------------------------------------------------
    def config(self) -> dict[str, Any]:
        envs: dict[str, Any] = {}
        modes = {"staging": "propose", "prod": "auto"}
        for env in self.envs:
            block: dict[str, Any] = {
                "description": f"envdeck demo {env}: moto, Kubernetes emulator and simulated edge nodes",
                "repair": modes.get(env, "propose"),
            }
            if self.aws:
                info = self.aws["environments"][env]
                block["aws"] = {"region": self.aws["region"], "endpoint_url": self.aws["endpoint_url"],
                                "tags": info["tags"], "desired": info["desired"], "logs": info["logs"],
                                "interval": "10s"}
            if self.kubernetes:
                block["kubernetes"] = {"kubeconfig": str(self.kubeconfigs[env]), "context": f"demo-{env}",
                                       "namespace": env, "desired": self.kubernetes["desired"][env]}
            edge = self._edge_config(env)
            if edge is not None:
                edge["interval"] = "10s"
                block["edge"] = edge
            envs[env] = block
        # timeout: the demo's servers share the machine with the TUI (their own process since the
        # TUI's first passes made them answer late); a command run against them waits its turn
        config: dict[str, Any] = {"defaults": {"interval": "10s", "timeout": "15s", "max_backoff": "60s"},
                                  "environments": envs}
        preview = self.preview_template()
        if preview is not None:
            pool = self._edge_config(POOL)
            if pool is not None:
                for node in pool["nodes"]:
                    node["services"], node["log_files"] = [], []
                config["edge_pools"] = {POOL: pool}
            config["templates"] = {"preview": preview}
        return config

    def preview_template(self) -> dict[str, Any] | None:
        """The `preview` template: parameters branch and replicas; what the demo's servers
        create in seconds. None when neither moto nor the emulator started."""
        if not self.aws and not self.kubernetes:
            return None
        template: dict[str, Any] = {
            "description": "Preview environment of a branch: a bucket, a security group and an instance "
                           "(moto), a namespace with a Deployment (emulator), one edge node of the pool",
            "parameters": {"branch": {"type": "string", "pattern": "^[a-z0-9-]{1,30}$", "default": "main",
                                      "description": "the branch to preview"},
                           "replicas": {"type": "integer", "default": 1, "minimum": 0, "maximum": 10}},
            "creators": ["*"], "ttl": "4h", "max_ttl": "2d", "repair": "auto",
            "access": {"admin": ["{creator}"], "viewer": ["*"]},
        }
        if self.aws:
            template["aws"] = {"region": self.aws["region"], "endpoint_url": self.aws["endpoint_url"],
                               "timeout": "1m", "resources": [
                {"id": "assets", "kind": "s3-bucket", "name": "{env}-assets", "encryption": True,
                 "public_access_blocked": True},
                {"id": "web-sg", "kind": "security-group", "name": "{env}-web",
                 "ingress": [{"port": 443, "cidr": "10.0.0.0/8"}]},
                {"id": "web", "kind": "ec2-instance", "name": "{env}-web-1", "image_id": DEMO_AMI["ami_id"],
                 "instance_type": "t3.micro", "security_groups": ["{web-sg}"], "depends_on": ["assets"]}]}
        if self.kubernetes:
            template["kubernetes"] = {"kubeconfig": str(self.kubeconfigs["preview"]), "context": "demo-preview",
                                      "namespace": "{env}", "timeout": "1m",
                                      "manifests": [str(self.workdir / "templates" / "preview" / "k8s.yaml")]}
        if self._edge_config(POOL) is not None:
            template["edge"] = {"pool": POOL, "count": 1, "services": ["nginx"], "timeout": "1m"}
        return template


# -- the servers in a process of their own (`envdeck demo`) ---------------------------
def serve_process(argv: list[str] | None = None) -> int:
    """`python -m backends.sim.demo_world WORKDIR [--scale N]`: the servers of `envdeck demo` in a
    process of their own. The TUI runs in the demo's process: with both in one process (one
    GIL) the servers answered no faster than the TUI's first passes let them, and on a loaded
    machine a command run against them then waited past its timeout. Prints JSON lines: how far
    each piece got while starting (`progress`, `state`), then one with `config`, `kubeconfigs`
    and `problems` once every server answers; then serves until its stdin ends: the demo ended,
    or died (nothing is left behind either way). Interrupts and
    hang-ups of the terminal are the demo's to handle: this process ignores them."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m backends.sim.demo_world")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    lock = threading.Lock()

    def line(record: dict[str, Any]) -> None:
        with lock:
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()

    world = DemoWorld(args.workdir, scale=args.scale, edge_process=True,
                      progress=lambda piece, text: line({"progress": piece, "state": text}))
    world.start()
    line({"config": world.config(), "problems": world.problems,
          "kubeconfigs": {name: str(path) for name, path in world.kubeconfigs.items()}})
    sys.stdin.read()  # EOF: the demo's process ended
    # Nothing of the servers outlives this process or needs a goodbye (their state is in memory,
    # their files in the demo's directory, which the demo removes once this process has exited):
    # ending at once spares the demo's quit the graceful stop, which took 11 s at scale 100 with
    # moto still answering the requests of clients that had given up.
    world.end_edge_process()  # its stdin closes: it ends at once too
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(serve_process())
