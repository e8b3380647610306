"""Turn what the backend knows about a node into Resources (and their faults).

`edge/node/NAME`: health from reachability and the last sample; an unreachable
node is Unknown with the age of its last good sample in `health_reason`, and
keeps that sample's values in its attributes (with `last_seen`).
`edge/service/NODE:SERVICE`: health from the exit code of the status template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from backends.edge.compliance import host_controls, host_findings
from backends.edge.probe import HostSample, ServiceStatus
from tui.core.config import EdgeNode, EdgeThresholds
from tui.core.model import Drift, Fault, Health, Resource, Severity, iso, resource_id

BACKEND = "edge"


def node_id(name: str) -> str:
    return resource_id(BACKEND, "node", name)


def service_id(node: str, service: str) -> str:
    return resource_id(BACKEND, "service", f"{node}:{service}")


@dataclass(slots=True)
class NodeState:
    """What the backend remembers about one node between passes."""

    sample: HostSample | None = None  # last good sample
    sampled_at: datetime | None = None
    fresh: bool = False  # the sample comes from the latest pass
    error: str | None = None  # why the latest pass got no sample
    cpu_percent: float | None = None
    clock_skew_s: float | None = None
    services: dict[str, ServiceStatus] = field(default_factory=dict)  # last known, by service name
    versions: dict[str, str] = field(default_factory=dict)  # the `version` command's first line, by service


@dataclass(slots=True)
class LinkView:
    """The connection facts a resource shows (from NodeLink)."""

    reachable: bool | None
    error: str | None
    last_seen: datetime | None
    host_key_status: str | None = None  # unknown | changed, when refused
    host_key_fingerprint: str | None = None
    connecting: bool = False  # a connect attempt is in progress (in the background)


def age(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def seen_text(last_seen: datetime | None, now: datetime) -> str:
    if last_seen is None:
        return "never seen"
    return f"last seen {age((now - last_seen).total_seconds())} ago ({iso(last_seen)})"


def node_resource(node: EdgeNode, link: LinkView, st: NodeState, thresholds: EdgeThresholds,
                  now: datetime) -> Resource:
    attrs: dict = {
        "host": node.host, "port": node.port, "user": node.user,
        "reachable": bool(link.reachable), "error": link.error, "last_seen": iso(link.last_seen),
        "services": list(node.services), "log_files": list(node.log_files),
    }
    if link.host_key_status:
        attrs["host_key"] = {"status": link.host_key_status, "fingerprint": link.host_key_fingerprint}
    res = Resource(id=node_id(node.name), backend=BACKEND, kind="node", name=node.name, observed_at=now,
                   attributes=attrs)
    s = st.sample
    if s is not None:
        attrs.update({
            "sampled_at": iso(st.sampled_at), "hostname": s.hostname, "kernel": s.kernel,
            "uptime_s": s.uptime_s, "load1": s.load1, "load5": s.load5, "load15": s.load15,
            "cpu_percent": st.cpu_percent, "memory_percent": s.memory_percent,
            "memory_total_kb": s.memory_total_kb, "disks": dict(s.disks),
            "clock_skew_s": st.clock_skew_s, "reboot_required": s.reboot_required,
            "sshd": dict(s.sshd), "sshd_source": s.sshd_source,
        })
        res.metrics = {k: v for k, v in (("cpu", st.cpu_percent), ("memory", s.memory_percent),
                                         ("load1", s.load1),
                                         ("disk", max(s.disks.values()) if s.disks else None))
                       if v is not None}
        res.findings = host_findings(res.id, s, st.clock_skew_s)
        res.assessed = True
        res.controls = host_controls(s, st.clock_skew_s)
    if not (link.reachable and st.fresh and s is not None):
        res.health = Health.UNKNOWN
        res.status = ("host key refused" if link.host_key_status else
                      "connecting" if link.connecting else "offline")
        res.health_reason = f"{link.error or 'not reached yet'}; {seen_text(link.last_seen, now)}"
        attrs["conditions"] = [{"type": "Reachable", "status": "False", "reason": res.status,
                                "message": res.health_reason}]
        return res
    res.status = "online"
    # What `kubectl describe node` would list: reachable, each probe that failed, pressure.
    conditions = [{"type": "Reachable", "status": "True", "reason": "online"}]
    conditions += [{"type": "Probe", "status": "False", "reason": p.split(":")[0], "message": p}
                   for p in s.problems]
    conditions += [{"type": "Service", "status": "False", "reason": name,
                    "message": status.first_line or f"exit {status.exit_code}"}
                   for name, status in sorted(st.services.items())
                   if status.exit_code is not None and not status.active]
    attrs["conditions"] = conditions
    core_problems = [p for p in s.problems if p.split(":")[0] in ("loadavg", "meminfo")]
    if core_problems:
        res.health, res.health_reason = Health.UNKNOWN, "metrics unreadable: " + "; ".join(core_problems)
        return res
    reasons = [f"disk {m} {u:.0f}% > {thresholds.disk_percent:.0f}%"
               for m, u in sorted(s.disks.items()) if u > thresholds.disk_percent]
    if s.memory_percent is not None and s.memory_percent > thresholds.memory_percent:
        reasons.append(f"memory {s.memory_percent:.0f}% > {thresholds.memory_percent:.0f}%")
    res.health = Health.DEGRADED if reasons else Health.HEALTHY
    res.health_reason = "; ".join(reasons)
    conditions.extend({"type": "Pressure", "status": "False", "reason": r.split(" ")[0], "message": r}
                      for r in reasons)
    return res


def service_resource(node: EdgeNode, service: str, link: LinkView, st: NodeState,
                     now: datetime) -> Resource:
    status = st.services.get(service)
    attrs: dict = {"node": node.name, "service": service, "reachable": bool(link.reachable),
                   "last_seen": iso(link.last_seen), "active": None, "exit_code": None, "output": ""}
    res = Resource(id=service_id(node.name, service), backend=BACKEND, kind="service",
                   name=f"{node.name}:{service}", observed_at=now, attributes=attrs)
    if service in st.versions:
        attrs["version"] = st.versions[service]
    if status is not None:
        attrs["output"] = status.output[:4000]
        attrs["exit_code"] = status.exit_code
    if not (link.reachable and st.fresh) or status is None or status.exit_code is None:
        res.health, res.drift = Health.UNKNOWN, Drift.UNKNOWN
        res.status = "unknown"
        if not (link.reachable and st.fresh):
            res.health_reason = f"node {node.name} unreachable; {seen_text(link.last_seen, now)}"
            if status is not None:
                res.status = f"unknown (was {status.first_line or 'exit ' + str(status.exit_code)})"
        else:
            res.health_reason = "the status command gave no exit code"
        return res
    attrs["active"] = status.active
    if status.active:
        res.health, res.drift, res.status = Health.HEALTHY, Drift.IN_SYNC, status.first_line or "active"
    else:
        res.health, res.drift = Health.DEGRADED, Drift.DRIFTED
        res.status = status.first_line or f"exit {status.exit_code}"
        res.health_reason = f"status command exited {status.exit_code}: {res.status}"
    attrs["conditions"] = [{"type": "Active", "status": "True" if status.active else "False",
                            "reason": f"exit {status.exit_code}", "message": res.status}]
    return res


def faults_for(resources: list[Resource], st_since: dict[str, datetime], now: datetime) -> list[Fault]:
    """One fault per resource that is not Healthy; `since` kept across passes in st_since."""
    faults: list[Fault] = []
    current: set[str] = set()
    for r in resources:
        if r.health == Health.HEALTHY:
            continue
        if r.kind == "node" and r.health == Health.UNKNOWN:
            reason, severity = ("HostKeyRefused", Severity.HIGH) if r.status == "host key refused" \
                else ("NodeUnreachable", Severity.HIGH)
        elif r.kind == "node":
            reason, severity = "NodePressure", Severity.MEDIUM
        elif r.health == Health.DEGRADED:
            reason, severity = "ServiceInactive", Severity.MEDIUM
        else:
            continue  # a service of an unreachable node: the node's fault says it
        key = f"{r.id}|{reason}"
        current.add(key)
        since = st_since.setdefault(key, now)
        faults.append(Fault(r.id, severity, reason, r.health_reason or r.status, since=since, last_seen=now))
    for key in [k for k in st_since if k not in current]:
        del st_since[key]
    return faults
