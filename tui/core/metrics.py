"""The reconciler's numbers in the Prometheus text exposition format (version 0.0.4), for
`envdeck agent`'s `/metrics`.

No client library: the format is a few lines of text, envdeck exposes a handful of
families, and `prometheus_client` would add a dependency with a process-global registry
(and its own process/GC collectors) for what `render` does in forty lines. Label values
are escaped as the format requires (backslash, double quote, newline).

`ReconcileMetrics` is fed the session's typed changes (`observe`, a plain subscriber that
never blocks) and keeps the counters: passes by result, repairs by result, lifecycle
operations by result. Gauges (consecutive failures, backoff, up, drifts, last pass time)
are read from the live states when a scrape renders them, so they are never stale.

A pass is counted when a backend's `last_pass` changes: the reconciler sets it once per
observation applied (a poll, or an observation of a watch) and once per failed attempt,
and publishes `BackendStatusChanged` after it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tui.core.env_state import (
    BackendStatusChanged,
    Change,
    EnvironmentsChanged,
    EnvState,
    LifecycleChanged,
    RepairPerformed,
)

#: The content type of the text exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


@dataclass
class Family:
    """One metric family: its samples by label set."""

    name: str
    kind: str  # "counter" or "gauge"
    help: str
    samples: dict[Labels, float] = field(default_factory=dict)

    def set(self, value: float, **labels: str) -> None:
        self.samples[tuple(sorted(labels.items()))] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.samples[key] = self.samples.get(key, 0.0) + amount

    def get(self, **labels: str) -> float:
        return self.samples.get(tuple(sorted(labels.items())), 0.0)


def render(families: Iterable[Family]) -> str:
    """The text exposition of `families` (a family without samples still has its HELP/TYPE)."""
    lines: list[str] = []
    for fam in families:
        lines.append(f"# HELP {fam.name} {fam.help.replace(chr(92), chr(92) * 2).replace(chr(10), chr(92) + 'n')}")
        lines.append(f"# TYPE {fam.name} {fam.kind}")
        for labels, value in sorted(fam.samples.items()):
            shown = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels)
            lines.append(f"{fam.name}{{{shown}}} {format_value(value)}" if shown
                         else f"{fam.name} {format_value(value)}")
    return "\n".join(lines) + "\n"


def _backend_of(resource_id: str) -> str:
    return resource_id.partition("/")[0]


class ReconcileMetrics:
    """Counters fed by the session's changes, kept across config reloads (a new session)."""

    def __init__(self) -> None:
        self.passes = Family("envdeck_reconcile_passes_total", "counter",
                             "Observe passes per environment and backend, by result (ok, failed).")
        self.repairs = Family("envdeck_repairs_total", "counter",
                              "Drift repairs per environment and backend, by result "
                              "(succeeded, failed, denied, interrupted).")
        self.lifecycle = Family("envdeck_lifecycle_operations_total", "counter",
                                "Lifecycle operations of created environments seen to end, by operation "
                                "and result (succeeded, failed).")
        #: the last `last_pass` seen per (env, backend): a new object is a new pass
        self._seen_pass: dict[tuple[str, str], Any] = {}
        #: monotonic time of the last successful pass per (env, backend)
        self.last_ok: dict[tuple[str, str], float] = {}
        self._operations: dict[str, str | None] = {}

    def observe(self, change: Change) -> None:
        if isinstance(change, BackendStatusChanged):
            state = change.state
            key = (change.env, change.backend)
            if state.last_pass is not None and state.last_pass is not self._seen_pass.get(key):
                self._seen_pass[key] = state.last_pass
                ok = state.reachable is True
                self.passes.inc(env=change.env, backend=change.backend, result="ok" if ok else "failed")
                if ok:
                    self.last_ok[key] = time.monotonic()
        elif isinstance(change, RepairPerformed):
            self.repairs.inc(env=change.env, backend=_backend_of(change.record.resource),
                             result=str(change.record.result))
        elif isinstance(change, LifecycleChanged):
            managed = change.managed
            operation = str(managed.operation) if managed.operation is not None else None
            before = self._operations.get(change.env)
            self._operations[change.env] = operation
            if before is not None and operation != before:
                result = "failed" if str(managed.state) == "failed" else "succeeded"
                self.lifecycle.inc(env=change.env, operation=before, result=result)
        elif isinstance(change, EnvironmentsChanged):
            for env in change.removed:
                for key in [k for k in self.last_ok if k[0] == env]:
                    self.last_ok.pop(key, None)

    def families(self, states: Mapping[str, EnvState], *, version: str = "") -> list[Family]:
        """Every family: the counters, and gauges read from `states` now."""
        up = Family("envdeck_backend_up", "gauge", "1 when the backend's last pass succeeded, else 0.")
        failures = Family("envdeck_reconcile_consecutive_failures", "gauge",
                          "Failed passes in a row per environment and backend (0 after a success).")
        backoff = Family("envdeck_reconcile_backoff_seconds", "gauge",
                         "The current backoff before the next attempt (0 when the last pass succeeded).")
        drifts = Family("envdeck_drifts", "gauge", "Current drift items per environment and backend.")
        last = Family("envdeck_last_successful_pass_timestamp_seconds", "gauge",
                      "Unix time of the last successful pass per environment and backend.")
        paused = Family("envdeck_environment_paused", "gauge", "1 when the environment's repairs are paused.")
        epoch = Family("envdeck_lease_epoch", "gauge",
                       "The fencing epoch of the environment's lease as last seen (0: never taken).")
        held = Family("envdeck_lease_held", "gauge", "1 when this process leads (holds the lease of) the environment.")
        info = Family("envdeck_agent_info", "gauge", "Always 1; the envdeck version as a label.")
        info.set(1, version=version)
        now_wall, now_mono = time.time(), time.monotonic()
        for env, state in states.items():
            paused.set(1 if state.paused else 0, env=env)
            epoch.set(state.lease_epoch, env=env)
            held.set(1 if state.leader == "you" else 0, env=env)
            for bname, bstate in state.backends.items():
                up.set(1 if bstate.reachable is True else 0, env=env, backend=bname)
                failures.set(bstate.failures, env=env, backend=bname)
                backoff.set(bstate.backoff_s if bstate.failures else 0.0, env=env, backend=bname)
                drifts.set(len(state.drifts.get(bname, [])), env=env, backend=bname)
                seen = self.last_ok.get((env, bname))
                if seen is not None:
                    last.set(round(now_wall - (now_mono - seen), 3), env=env, backend=bname)
        return [info, self.passes, self.repairs, self.lifecycle, up, failures, backoff, drifts, last, paused,
                epoch, held]

    def exposition(self, states: Mapping[str, EnvState], *, version: str = "") -> str:
        return render(self.families(states, version=version))
