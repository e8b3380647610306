"""Create and destroy of the demo's `preview` template (issue 15): the whole operation takes at
most 1.2x the sum, over its waves, of each wave's slowest step (the steps of a wave run in
parallel); destroy the same (waves reversed).

The demo's servers (moto, the Kubernetes emulator, the edge pool) run in a process of their own
(`python -m backends.sim.demo_world`), as `envdeck demo` runs them since session 7
(tui/cli/demo.py ServersProcess): in this process they shared the engine's GIL, so every step's
server work and the engine's own work slowed each other (`--in-process-servers` keeps the old
arrangement for comparison; `--quick` uses it too, without the seeded staging and prod). Each run creates `pr-bN` from `preview` through a
Session with the production provisioners and `wait=True` (what `envdeck env create --wait`
does), then destroys it the same way (`envdeck env destroy --yes --wait`).

A step's time is taken around the provisioner itself (its factory is wrapped; time.monotonic):
- create: the time inside the step's own calls from its first `find()` (the engine calls find,
  then create) to the return of its first `health()` answering healthy; the engine's health-poll
  sleeps between two health() calls count as the step's (a backend that becomes healthy between
  two polls is seen at the next one);
- destroy: the same from `delete()` to the return of the first `gone()` answering True.
The engine's own work between a step's calls is not the step's (session 9: until then a step
was timed from its first call's start to its last call's end, which counted the `waiting` row
a create writes between create() and its first health() in the step, the denominator);
`engine_inside_steps_s` (JSON) gives it per step. `polls` counts the step's own health()/gone()
calls up to that answer (1 = no poll sleep).
`cpu_s` (JSON; p50 printed): the CPU of this process during the operation (the engine, its store
thread, the AWS worker threads; not the servers' when they run in their own process): what to
compare on a loaded machine, where the wall ratio moves with the load.
`full GC s`: the pauses of the garbage collector's full (generation 2) collections during the
operation; each stops every thread of the process (the demo's servers hold most of its heap).
What falls outside these spans is the engine's own cost (rows, audit, timeline, lease, the
fresh health check of a dependency, the sweep of destroy) and what the ratio measures;
`chain_gaps` (JSON; p50 printed) places it along the chain of steps that ended last: before its
first step, on each link (a step's end to the next one's start), after its last step. The
engine's view (a step's `creating`/`deleting` to `healthy`/`deleted` seen by a subscriber of
the session, also monotonic) is recorded beside it.

The goal's ratio is whole / (sum over the waves of each wave's slowest step), unchanged. The
engine starts a step as soon as its own dependencies are done, so two informative figures are
printed beside it, never in place of it: `critical path s`, the longest chain of step spans
along the plan's edges (what the operation would take with no engine cost at all; for the demo
it equals the wave sum), and `slowest sweep s`, the longest backend `sweep()` of a destroy (a
backend call, part of destroy and of its whole, outside every step span; `sweep_s` in the JSON
gives each backend's start and seconds).

    python -m bench.lifecycle_bench [--runs 5] [--warmup 1] [--quick] [--settle-heap] [--in-process-servers]

--warmup N (default 1; 0 in --quick): N untimed creates + destroys first. A fresh moto answers the first
calls of an API slowly (its tagging API's first get_resources 0.19 s, then 0.011 s: moto's start-up, which
a real cloud does not have); before session 10 the first destroy of every run carried it.

--quick (the bench smoke test): one run, and the demo's servers without its seeded staging and
prod (the template uses neither; seeding them is most of the servers' start-up CPU).
"""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.registry import create_backends, create_provisioner
from backends.sim.demo_world import DemoWorld
from bench.report import load, parse_args, percentile, print_table, write_result
from tui.cli.demo import DEMO_AWS_ENV, ServersProcess, write_config
from tui.core.config import load_config
from tui.core.env_state import LifecycleChanged
from tui.core.heap import settle_heap
from tui.core.lifecycle.plan import build_plan
from tui.core.lifecycle.render import render
from tui.core.model import Origin
from tui.core.session import Session

NAME = "lifecycle_bench"
GOAL_RATIO = 1.2
TEMPLATE = "preview"
PARAMS = {"branch": "bench", "replicas": "2"}


@dataclass
class Spans:
    """Per step id: (start, end) monotonic seconds; health/gone polls counted. With `calls`
    (the provider's view) a step's seconds are the time inside its own provisioner calls plus
    the poll waits between its health()/gone() calls, not the engine's work between its calls
    (the `waiting` row a create writes between create() and its first health())."""

    start: dict[str, float] = field(default_factory=dict)
    end: dict[str, float] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    calls: bool = False
    #: per step: seconds inside its calls (and poll waits) up to its end; where the last call ended
    busy: dict[str, float] = field(default_factory=dict)
    _call_end: dict[str, float] = field(default_factory=dict)

    def begin(self, step: str) -> None:
        self.start.setdefault(step, time.monotonic())

    def finish(self, step: str) -> None:
        if step in self.start:
            self.end.setdefault(step, time.monotonic())

    def poll(self, step: str) -> None:
        """A health()/gone() call of the step's own wait (not a dependent's fresh check, made after)."""
        if step not in self.end:
            self.polls[step] = self.polls.get(step, 0) + 1

    def call(self, step: str, began: float, ended: float, *, polled: bool = False) -> None:
        """One provisioner call of the step's own (find/create/health, delete/gone), until its end;
        `polled`: a health()/gone() call, whose wait since the step's previous health()/gone()
        call is the engine's poll sleep and counts as the step's."""
        if step not in self.start or step in self.end and began >= self.end[step]:
            return   # not the step's own (a dependent's fresh check of it, made after its end)
        wait = began - self._call_end[step] if polled and step in self._call_end and self.polls.get(step, 0) > 1 \
            else 0.0
        self.busy[step] = self.busy.get(step, 0.0) + (ended - began) + max(0.0, wait)
        self._call_end[step] = ended

    def seconds(self, step: str) -> float | None:
        if step in self.start and step in self.end:
            if self.calls:
                return self.busy.get(step, 0.0)
            return self.end[step] - self.start[step]
        return None

    def engine_inside(self, step: str) -> float | None:
        """The engine's time between the step's own calls, inside its start-to-end span (not counted)."""
        seconds = self.seconds(step)
        if seconds is None or not self.calls:
            return None
        return max(0.0, self.end[step] - self.start[step] - seconds)


class TimedProvisioner:
    """The production provisioner, its step calls timed into the current operation's Spans."""

    def __init__(self, inner: Any, clock: Clock):
        self._inner = inner
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def find(self, step):
        if self._clock.op == "create":
            self._clock.provider.begin(step.id)
        began = time.monotonic()
        try:
            return await self._inner.find(step)
        finally:
            if self._clock.op == "create":
                self._clock.provider.call(step.id, began, time.monotonic())

    async def create(self, step, token):
        began = time.monotonic()
        try:
            return await self._inner.create(step, token)
        finally:
            if self._clock.op == "create":
                self._clock.provider.call(step.id, began, time.monotonic())

    async def health(self, step, native_id):
        began = time.monotonic()
        result = await self._inner.health(step, native_id)
        if self._clock.op == "create":
            self._clock.provider.poll(step.id)
            if result.healthy:
                self._clock.provider.finish(step.id)
            self._clock.provider.call(step.id, began, time.monotonic(), polled=True)
        return result

    async def delete(self, step, native_id):
        if self._clock.op == "destroy":
            self._clock.provider.begin(step.id)
        began = time.monotonic()
        try:
            return await self._inner.delete(step, native_id)
        finally:
            if self._clock.op == "destroy":
                self._clock.provider.call(step.id, began, time.monotonic())

    async def sweep(self):
        start = time.monotonic()
        try:
            return await self._inner.sweep()
        finally:
            if self._clock.op == "destroy":
                self._clock.sweeps[self._inner.name] = (start - self._clock.t0, time.monotonic() - start)

    async def gone(self, step, native_id):
        began = time.monotonic()
        result = await self._inner.gone(step, native_id)
        if self._clock.op == "destroy":
            self._clock.provider.poll(step.id)
            if result:
                self._clock.provider.finish(step.id)
            self._clock.provider.call(step.id, began, time.monotonic(), polled=True)
        return result


class Clock:
    """What the wrapped provisioners and the subscriber record into (one operation at a time)."""

    def __init__(self) -> None:
        self.op = ""
        self.build_s = 0.0
        self.t0 = 0.0
        self.cpu0 = 0.0
        self.provider = Spans(calls=True)
        self.engine = Spans()
        #: the full (generation 2) collections of the garbage collector during the operation:
        #: (start from t0 s, pause s). One stops every thread of the process (GIL held).
        self.full_gc: list[tuple[float, float]] = []
        self._gc_start = 0.0
        #: destroy: per backend, (start from t0 s, seconds) of its provisioner's sweep()
        self.sweeps: dict[str, tuple[float, float]] = {}

    def reset(self, op: str) -> None:
        self.op, self.provider, self.engine = op, Spans(calls=True), Spans()
        self.sweeps = {}
        self.build_s = 0.0
        self.full_gc = []
        self.cpu0 = time.process_time()
        self.t0 = time.monotonic()

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._gc_start = time.monotonic()
        elif self.op and self._gc_start >= self.t0:
            self.full_gc.append((self._gc_start - self.t0, time.monotonic() - self._gc_start))

    def factory(self, backend: str, env: str, config: Any, defaults: Any, template: str) -> Any:
        start = time.monotonic()
        try:
            return TimedProvisioner(create_provisioner(backend, env, config, defaults, template), self)
        finally:  # built on the event loop by the engine: its time is the engine's, outside the steps
            self.build_s += time.monotonic() - start

    def on_change(self, change: Any) -> None:
        if not isinstance(change, LifecycleChanged):
            return
        begin, end = ("creating", "healthy") if self.op == "create" else ("deleting", "deleted")
        for step in change.managed.steps:
            state = str(step.state)
            if state == begin:
                self.engine.begin(step.id)
            elif state == end:
                self.engine.finish(step.id)


def wave_sum(spans: Spans, waves: list[list[str]]) -> tuple[list[float], float] | None:
    """Each wave's slowest step and their sum; None when a step's span is missing."""
    slowest = []
    for wave in waves:
        times = [spans.seconds(s) for s in wave]
        timed = [t for t in times if t is not None]
        if not timed:
            return None
        slowest.append(max(timed))
    return slowest, sum(slowest)


def critical_path(spans: Spans, waits_for: dict[str, list[str]]) -> float | None:
    """The longest chain of step spans along the plan's edges (`waits_for`: a step -> the steps
    it waits for; create: its dependencies, destroy: its dependents): what the operation takes
    when each step starts the moment its own chain allows. Never more than the wave sum."""
    longest: dict[str, float] = {}

    def chain(step: str) -> float:
        if step not in longest:
            own = spans.seconds(step) or 0.0
            longest[step] = own + max((chain(d) for d in waits_for.get(step, ())), default=0.0)
        return longest[step]

    if any(spans.seconds(s) is None for s in waits_for):
        return None
    return max((chain(s) for s in waits_for), default=None)


def gaps(spans: dict[str, list[float]], waves: list[list[str]], whole: float) -> dict[str, float] | None:
    """The time outside every step span: before the first step, between waves, after the last."""
    if any(st not in spans for wave in waves for st in wave):
        return None
    starts = [min(spans[st][0] for st in wave) for wave in waves]
    ends = [max(spans[st][1] for st in wave) for wave in waves]
    between = sum(max(0.0, starts[i + 1] - ends[i]) for i in range(len(waves) - 1))
    return {"before_first_s": round(starts[0], 3), "between_waves_s": round(between, 3),
            "after_last_s": round(whole - ends[-1], 3)}


def chain_gaps(spans: dict[str, list[float]], waits_for: dict[str, list[str]],
               whole: float) -> dict[str, Any] | None:
    """The time outside the steps along the chain that ended last, as it ran: from the step that
    ended last back through, each time, the step it waited for that ended last. `links_s`: per
    link, from that step's end to the next one's start (rows, reports, a dependency's fresh
    health check); `before_s` to the chain's first step, `after_s` from its last step's end."""
    if not spans or any(st not in spans for st in waits_for):
        return None
    step = max(spans, key=lambda st: spans[st][1])
    chain, links = [step], []
    while waits_for.get(step):
        dep = max(waits_for[step], key=lambda d: spans[d][1])
        links.append(round(spans[step][0] - spans[dep][1], 3))
        chain.append(dep)
        step = dep
    chain.reverse()
    links.reverse()
    return {"chain": chain, "before_s": round(spans[chain[0]][0], 3), "links_s": links,
            "after_s": round(whole - spans[chain[-1]][1], 3)}


def one_operation(clock: Clock, waves: list[list[str]], whole: float,
                  waits_for: dict[str, list[str]]) -> dict[str, Any]:
    result: dict[str, Any] = {"whole_s": round(whole, 3), "provisioners_built_s": round(clock.build_s, 3),
                              # CPU of this process (engine, store thread, AWS workers; not the servers')
                              "cpu_s": round(time.process_time() - clock.cpu0, 3),
                              # [start from the operation's start s, pause s] of each full collection
                              "full_gc_s": [[round(a, 3), round(d, 3)] for a, d in clock.full_gc if a <= whole],
                              # destroy: each backend's sweep() [start from the operation's start s, s]
                              "sweep_s": {b: [round(a, 3), round(d, 3)] for b, (a, d) in sorted(clock.sweeps.items())}}
    for view, spans in (("provider", clock.provider), ("engine", clock.engine)):
        found = wave_sum(spans, waves)
        if found is None:
            result[view] = None
            continue
        slowest, total = found
        result[view] = {"wave_slowest_s": [round(s, 3) for s in slowest], "sum_s": round(total, 3),
                        "ratio": round(whole / total, 3) if total else None,
                        "steps_s": {s: round(spans.seconds(s), 3) for s in spans.start if spans.seconds(s) is not None},
                        "polls": dict(spans.polls),
                        # each step's span from the start of the whole operation: where the gaps are
                        "spans_from_start_s": {s: [round(spans.start[s] - clock.t0, 3),
                                                   round(spans.end[s] - clock.t0, 3)]
                                               for s in spans.start if s in spans.end}}
        result[view]["gaps"] = gaps(result[view]["spans_from_start_s"], waves, whole)
        result[view]["chain_gaps"] = chain_gaps(result[view]["spans_from_start_s"], waits_for, whole)
        if spans.calls:   # the engine's work between a step's own calls, not counted in its seconds
            result[view]["engine_inside_steps_s"] = {s: round(spans.engine_inside(s), 4)
                                                     for s in spans.start if spans.engine_inside(s) is not None}
        path = critical_path(spans, waits_for)
        # informative only (the goal's ratio is whole / sum): whole over the longest chain of steps
        result[view]["critical_path_s"] = round(path, 3) if path is not None else None
        result[view]["ratio_to_critical_path"] = round(whole / path, 3) if path else None
    return result


async def bench(world: Any, workdir: Path, runs: int, settle: bool = False,
                warmup: int = 1) -> tuple[dict[str, Any], list[list[str]]]:
    config_path = write_config(world, workdir)
    cfg = load_config(config_path)
    plan = build_plan(render(cfg, TEMPLATE, "pr-b0", "bench", dict(PARAMS)))
    waves = [list(w) for w in plan.waves]
    dependencies = {st.id: list(st.depends_on) for st in plan.steps}
    dependents: dict[str, list[str]] = {st.id: [] for st in plan.steps}
    for st in plan.steps:
        for dep in st.depends_on:
            dependents[dep].append(st.id)
    clock = Clock()
    session = await Session.open(cfg, workdir / "state", origin=Origin.CLI, backends_factory=create_backends,
                                 provisioners=clock.factory)
    unsubscribe = session.subscribe(clock.on_change)
    # the TUI's (so `envdeck demo`'s) and the agent's heap: a slow full collection freezes what survived it
    heap = settle_heap() if settle else None
    gc.callbacks.append(clock.on_gc)
    out: dict[str, Any] = {"create": [], "destroy": []}
    try:
        # untimed: the servers' first answers of an API are their own start-up (moto's first tagging-API
        # get_resources takes ~0.19 s, then ~0.011 s), not envdeck's, and a real cloud has none
        for run in range(warmup):
            await session.env_create(f"pr-w{run}", TEMPLATE, dict(PARAMS), wait=True)
            await session.env_destroy(f"pr-w{run}", wait=True)
        for run in range(runs):
            name = f"pr-b{run}"
            clock.reset("create")
            start = clock.t0
            managed = await session.env_create(name, TEMPLATE, dict(PARAMS), wait=True)
            whole = time.monotonic() - start
            if str(managed.state) != "ready":
                raise SystemExit(f"create of {name} ended {managed.state}: {managed.step} {managed.reason}")
            out["create"].append(one_operation(clock, waves, whole, dependencies))
            clock.reset("destroy")
            start = clock.t0
            managed = await session.env_destroy(name, wait=True)
            whole = time.monotonic() - start
            if str(managed.state) != "destroyed" or managed.orphans:
                raise SystemExit(f"destroy of {name} ended {managed.state}, orphans {managed.orphans}")
            out["destroy"].append(one_operation(clock, list(reversed(waves)), whole, dependents))
    finally:
        gc.callbacks.remove(clock.on_gc)
        if heap is not None:
            heap.unsettle()
        unsubscribe()
        await session.close()
    return out, waves


def summary(ops: list[dict[str, Any]], view: str) -> dict[str, Any]:
    ratios = [o[view]["ratio"] for o in ops if o.get(view) and o[view]["ratio"] is not None]
    wholes = [o["whole_s"] for o in ops]
    sums = [o[view]["sum_s"] for o in ops if o.get(view)]
    gap = {key: percentile([o[view]["gaps"][key] for o in ops if o.get(view) and o[view]["gaps"]], 50)
           for key in ("before_first_s", "between_waves_s", "after_last_s")}
    extra = [o["whole_s"] - o[view]["sum_s"] for o in ops if o.get(view)]
    to_path = [o[view]["ratio_to_critical_path"] for o in ops if o.get(view) and o[view]["ratio_to_critical_path"]]
    sweeps = [max(d for _, d in o["sweep_s"].values()) for o in ops if o.get("sweep_s")]
    chains = [o[view]["chain_gaps"] for o in ops if o.get(view) and o[view].get("chain_gaps")]
    inside = [sum(o[view]["engine_inside_steps_s"].values()) for o in ops
              if o.get(view) and o[view].get("engine_inside_steps_s") is not None]
    return {"ratio_p50": percentile(ratios, 50), "ratio_max": max(ratios) if ratios else None,
            "chain_gaps_p50_s": {"before_s": percentile([c["before_s"] for c in chains], 50),
                                 "links_s": percentile([sum(c["links_s"]) for c in chains], 50),
                                 "after_s": percentile([c["after_s"] for c in chains], 50)} if chains else None,
            "engine_inside_steps_p50_s": round(percentile(inside, 50), 4) if inside else None,
            "ratio_to_critical_path_p50": percentile(to_path, 50),
            "slowest_sweep_p50_s": percentile(sweeps, 50) if sweeps else None,
            "extra_p50_s": round(percentile(extra, 50), 3) if extra else None,
            "gaps_p50_s": gap,
            "whole_p50_s": percentile(wholes, 50), "whole_max_s": max(wholes) if wholes else None,
            "cpu_p50_s": percentile([o["cpu_s"] for o in ops], 50),
            "sum_p50_s": percentile(sums, 50)}


def main() -> None:
    args = parse_args(NAME, __doc__, [("--runs", {"type": int, "default": 5}),
                                      ("--warmup", {"type": int, "default": 1,
                                                    "help": "untimed create + destroy before the runs (the "
                                                            "servers' first answers of an API are their start-up)"}),
                                      ("--settle-heap", {"action": "store_true",
                                                         "help": "settle the heap as the TUI (envdeck demo) and the "
                                                                 "agent do (tui/core/heap.py)"}),
                                      ("--in-process-servers", {"action": "store_true",
                                                                "help": "the demo's servers in this process "
                                                                        "(before session 7's envdeck demo)"})])
    if args.quick:
        args.runs, args.warmup = 1, 0
    load_start = load()
    with tempfile.TemporaryDirectory(prefix="envdeck-bench-lifecycle-") as tmp:
        workdir = Path(tmp)
        if args.quick or args.in_process_servers:
            seeded = {"envs": ()} if args.quick else {}  # quick: no staging/prod beside the template
            with DemoWorld(workdir / "servers", log_interval_s=5.0, **seeded) as world:
                if world.problems:
                    raise SystemExit(f"the demo's servers did not all start: {world.problems}")
                ops, waves = asyncio.run(bench(world, workdir, args.runs, args.settle_heap, args.warmup))
        else:
            servers = ServersProcess(workdir / "servers", scale=1)
            os.environ.update(DEMO_AWS_ENV)  # this process's backends talk to moto, as the demo's TUI does
            try:
                handed = servers.start()
                if handed.problems:
                    raise SystemExit(f"the demo's servers did not all start: {handed.problems}")
                ops, waves = asyncio.run(bench(handed, workdir, args.runs, args.settle_heap, args.warmup))
            finally:
                servers.stop()
    results: dict[str, Any] = {"waves": waves, **ops}
    goals: dict[str, Any] = {}
    for op in ("create", "destroy"):
        rows = []
        for i, o in enumerate(ops[op]):
            for view in ("provider", "engine"):
                v = o[view]
                rows.append([i + 1, view, " ".join(f"{s:.2f}" for s in v["wave_slowest_s"]) if v else "-",
                             v["sum_s"] if v else None, o["whole_s"], v["ratio"] if v else None,
                             v["critical_path_s"] if v else None,
                             round(max((d for _, d in o["sweep_s"].values()), default=0.0), 3),
                             round(sum(d for _, d in o["full_gc_s"]), 3)])
        print_table(f"{op} of `{TEMPLATE}` ({len(waves)} waves{', reversed' if op == 'destroy' else ''}), "
                    f"{args.runs} run(s)", ["run", "step timed by", "slowest per wave s", "sum s", "whole s",
                                            "ratio", "critical path s", "slowest sweep s", "full GC s"], rows)
        results[f"{op}_summary"] = {view: summary(ops[op], view) for view in ("provider", "engine")}
        s = results[f"{op}_summary"]["provider"]
        met = s["ratio_max"] is not None and s["ratio_max"] <= GOAL_RATIO
        print(f"{op}: ratio (provider spans) p50 {s['ratio_p50']} max {s['ratio_max']}; engine spans p50 "
              f"{results[f'{op}_summary']['engine']['ratio_p50']}; whole p50 {s['whole_p50_s']} s "
              f"max {s['whole_max_s']} s -> {'met' if met else 'NOT met'} (<= {GOAL_RATIO}x)")
        print(f"{op}: outside the step spans (whole - sum) p50 {s['extra_p50_s']} s; p50 before the first step "
              f"{s['gaps_p50_s']['before_first_s']} s, between waves {s['gaps_p50_s']['between_waves_s']} s, "
              f"after the last {s['gaps_p50_s']['after_last_s']} s")
        chain = s["chain_gaps_p50_s"]
        if chain:
            print(f"{op}: along the chain of steps that ended last, p50: before its first step {chain['before_s']} s, "
                  f"its links (a step's end to the next one's start) {chain['links_s']} s, after its last "
                  f"{chain['after_s']} s")
        if s["engine_inside_steps_p50_s"] is not None:
            print(f"{op}: the engine's work between a step's own calls (not counted in the step) p50 "
                  f"{s['engine_inside_steps_p50_s']} s summed over the steps")
        print(f"{op}: CPU of this process per operation p50 {s['cpu_p50_s']} s (engine, store, AWS clients; "
              "the servers run in their own process unless --in-process-servers or --quick)")
        print(f"{op}: (informative) whole / longest chain of steps p50 {s['ratio_to_critical_path_p50']}"
              + (f"; slowest backend sweep p50 {s['slowest_sweep_p50_s']} s (inside the whole)"
                 if s["slowest_sweep_p50_s"] is not None else ""))
        goals[f"{op} <= 1.2x sum of wave maxima"] = {"ratio_max": s["ratio_max"], "met": met}
    print(f"load average: {load_start} at start, {load()} at end")
    write_result(args.out, NAME, args.quick, {"runs": args.runs, "template": TEMPLATE, "parameters": PARAMS,
                                              "settle_heap": args.settle_heap, "warmup": args.warmup},
                 results, goals=goals, notes=[f"load average at start {load_start}",
                                              "servers: " + ("in this process" if args.quick or args.in_process_servers
                                                             else "a process of their own")])


if __name__ == "__main__":
    main()
