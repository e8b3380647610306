"""What the TUI keeps of pods that are gone: N cycles of creating and deleting K pods.

The project's emulator (its own process, so its memory is not the client's); the real app
(`create_app`, the real KubernetesBackend, reconciler and store, Textual headless) on the
`resources` view. Each cycle creates K pods through the API, waits until the table shows
them, deletes them, waits until the table no longer does, then records the app's RSS, the
traced Python memory and the top growth by line since the previous cycle (tracemalloc).
Memory that keeps growing from cycle to cycle with the same number of pods left is kept
per resource that has gone.

    python -m bench.churn_memory [--quick] [--cycles 4] [--pods 500]
"""

from __future__ import annotations

import asyncio
import gc
import http.client
import json
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.emulator_proc import EmulatorProcess
from bench.k8s_tui import rss_mib
from bench.report import parse_args, print_table, write_result
from bench.tui import shown_table, wait_for

NAME = "churn_memory"
NAMESPACE = "churn"
CONFIG = """
environments:
  churn:
    repair: observe
    kubernetes: {{kubeconfig: {kubeconfig}, namespace: {namespace}}}
defaults: {{interval: 1h, timeout: 120s}}
"""
CONNECTIONS = 4


def _send(url: str, requests: list[tuple[str, str, bytes | None]]) -> None:
    """Each (method, path, body) on one of CONNECTIONS connections (threads)."""
    parts = urlsplit(url)
    errors: list[str] = []

    def worker(share: list[tuple[str, str, bytes | None]]) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        for method, path, body in share:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            answer = conn.getresponse()
            answer.read()
            if answer.status >= 300:
                errors.append(f"{method} {path}: {answer.status}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(requests[i::CONNECTIONS],)) for i in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} request(s) failed, e.g. {errors[0]}")


def _pod(name: str) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "churn"}},
                       "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}).encode()


async def run(emu: EmulatorProcess, cycles: int, pods: int, top: int, who_holds: bool = False) -> dict[str, Any]:
    from tui.app import AppOptions, create_app
    from tui.core.config import parse_config

    config = parse_config(CONFIG.format(kubeconfig=json.dumps(str(emu.kubeconfig)), namespace=NAMESPACE))
    base = f"/api/v1/namespaces/{NAMESPACE}/pods"
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="envdeck-bench-churn-") as state:
        app = create_app(config, Path(state), options=AppOptions(start_env="churn", testing=True, user="bench"))
        async with app.run_test(size=(200, 50)) as pilot:
            await wait_for(pilot, lambda: shown_table(app) is not None, 120, interval=0.05)
            await pilot.pause(2.0)
            base_pods = _pods_shown(app)
            tracemalloc.start(12)
            gc.collect()
            before = tracemalloc.take_snapshot()
            rss0 = rss_mib()
            rows.append({"cycle": 0, "rss_mib": round(rss0, 1), "kept": kept_per_resource(app),
                         "emulator_rss_mib": _rss_of(emu.proc.pid if emu.proc else None),
                         "traced_mib": round(tracemalloc.get_traced_memory()[0] / 2**20, 1), "top": []})
            for cycle in range(1, cycles + 1):
                names = [f"churn-{cycle}-{i:05d}" for i in range(pods)]
                t0 = time.process_time()
                await asyncio.to_thread(_send, emu.url, [("POST", base, _pod(n)) for n in names])
                await wait_for(pilot, lambda: _pods_shown(app) >= base_pods + pods, 300, interval=0.05)
                await pilot.pause(1.0)  # a few metric samples of them
                await asyncio.to_thread(_send, emu.url, [("DELETE", f"{base}/{n}", None) for n in names])
                await wait_for(pilot, lambda: _pods_shown(app) <= base_pods, 300, interval=0.05)
                await pilot.pause(1.0)
                cpu = time.process_time() - t0
                gc.collect()
                after = tracemalloc.take_snapshot()
                growth = after.compare_to(before, "lineno")
                rows.append({
                    "cycle": cycle, "rss_mib": round(rss_mib(), 1), "kept": kept_per_resource(app),
                    "emulator_rss_mib": _rss_of(emu.proc.pid if emu.proc else None),
                    "traced_mib": round(tracemalloc.get_traced_memory()[0] / 2**20, 1),
                    "app_cpu_s": round(cpu, 2),
                    "top": [{"where": str(s.traceback[0]), "kib": round(s.size_diff / 1024, 1), "count": s.count_diff}
                            for s in growth[:top]]})
                before = after
            tracemalloc.stop()
            held = holders_of_gone(app, "churn-1-") if who_holds else {}
    return {"cycles": rows, "holders_of_gone": held}


def _rss_of(pid: int | None) -> float | None:
    """Another process's RSS (the emulator's: reported, not the app's)."""
    import resource as _resource

    try:
        with open(f"/proc/{pid}/statm") as fh:
            return round(int(fh.read().split()[1]) * _resource.getpagesize() / 2**20, 1)
    except (OSError, TypeError):
        return None


def kept_per_resource(app) -> dict[str, int]:
    """Entries of the structures kept per resource (or per version of one), by name."""
    from backends.kubernetes import sharing
    from tui.widgets import resource_filter

    out = {"k8s sharing._kept": len(sharing._kept), "resource_filter._HAYSTACKS": len(resource_filter._HAYSTACKS)}
    screen = app.screen
    history = getattr(screen, "history", None)
    if history is not None:
        out["screen history._seen"] = len(history._seen)
        out["screen history._values"] = len(history._values)
    table = shown_table(app)
    if table is not None:  # the resources table's per-row structures (gone rows' entries were kept)
        out["table selection._texts"] = len(table._selection._texts)
        out["table selection._text_objects"] = len(table._selection._text_objects)
        out["table _measured"] = len(table._measured)
        out["table _row_cache"] = len(table._row_cache)
        out["table _drawn"] = len(table._drawn)
    rec = app.session.reconciler if getattr(app, "session", None) is not None else None
    if rec is not None:
        out["reconciler._desired_changed"] = len(rec._desired_changed)
        out["reconciler._repair_failures"] = len(rec._repair_failures)
    return out


def holders_of_gone(app, prefix: str, sample: int = 20, depth: int = 12) -> dict[str, int]:
    """Who still refers to Resource objects of the first cycle's pods (all gone by now): for
    `sample` of them, the first named owner found going up the referrers (a module global, an
    object's attribute) within `depth` levels, counted. Slow (gc.get_referrers): only with --who-holds.

    The app's heap settler (tui/core/heap.py) moves what survives a slow full collection to the
    permanent generation (gc.freeze), and gc.get_referrers/get_objects do not look there: a frozen
    holder (the table's dicts, made before the churn) is invisible. The frozen objects are given
    back to the collector first (the app is about to exit)."""
    import sys

    from tui.core.model import Resource

    gc.unfreeze()
    gc.collect()
    scanned = gc.get_objects()
    gone = [o for o in scanned if type(o) is Resource and o.name.startswith(prefix)][:sample]
    owners: dict[int, str] = {}
    for name, module in list(sys.modules.items()):
        for k, v in list(vars(module).items()) if module is not None else ():
            if isinstance(v, (dict, list, set)):
                owners[id(v)] = f"{name}.{k}"
    for o in scanned:
        try:
            d = getattr(o, "__dict__", None)
        except Exception:  # noqa: BLE001 - e.g. pydantic's placeholder objects raise their own error
            continue
        if isinstance(d, dict) and not isinstance(o, type):
            for k, v in d.items():
                if isinstance(v, (dict, list, set, tuple)):
                    owners[id(v)] = f"{type(o).__module__}.{type(o).__name__}.{k}"
            owners[id(d)] = f"{type(o).__module__}.{type(o).__name__}.__dict__"
    skip = {id(scanned), id(gone)}
    counts: dict[str, int] = {}
    for r in gone:
        frontier, seen, found = [r], {id(r)}, "unknown"
        for _ in range(depth):
            nxt = []
            for obj in frontier:
                for ref in gc.get_referrers(obj):
                    if id(ref) in skip or id(ref) in seen or type(ref).__name__ == "frame":
                        continue
                    if id(ref) in owners:
                        found = owners[id(ref)]
                        break
                    seen.add(id(ref))
                    nxt.append(ref)
                if found != "unknown":
                    break
            if found != "unknown" or not nxt:
                break
            frontier = nxt[:2000]
        if found == "unknown":  # what refers to it directly, described
            refs = [x for x in gc.get_referrers(r) if id(x) not in skip and type(x).__name__ != "frame"]
            found = "unknown: " + "; ".join(_describe(x) for x in refs[:3])
        counts[found] = counts.get(found, 0) + 1
    return {"gone_resources_alive": len(gone), **counts}


def _describe(obj: object) -> str:
    if isinstance(obj, dict):
        return f"dict of {len(obj)} (keys like {str(next(iter(obj), ''))[:48]!r})"
    if isinstance(obj, (list, tuple, set)):
        return f"{type(obj).__name__} of {len(obj)} ({type(next(iter(obj), None)).__name__} items)"
    return type(obj).__qualname__


def _pods_shown(app) -> int:
    """The rows of the shown table (every kind: the baseline's other objects stay)."""
    table = shown_table(app)
    return -1 if table is None else table.total


def main() -> None:
    args = parse_args(NAME, __doc__.splitlines()[0], [
        ("--cycles", {"type": int, "default": 4}), ("--pods", {"type": int, "default": 500}),
        ("--top", {"type": int, "default": 8}),
        ("--who-holds", {"action": "store_true", "help": "who refers to the gone pods' objects at the end (slow)"})])
    cycles, pods = (2, 50) if args.quick else (args.cycles, args.pods)
    with EmulatorProcess(NAMESPACE, pods=0) as emu:
        results = asyncio.run(run(emu, cycles, pods, args.top, args.who_holds))
    print_table(f"{cycles} cycles of {pods} pods created and deleted", ["cycle", "RSS MiB", "traced MiB", "app CPU s", "emulator RSS MiB"],
                [[row["cycle"], row["rss_mib"], row["traced_mib"], row.get("app_cpu_s", ""), row["emulator_rss_mib"]]
                 for row in results["cycles"]])
    for row in results["cycles"]:
        print(f"cycle {row['cycle']}: entries kept {row['kept']}")
    for row in results["cycles"][1:]:
        print(f"cycle {row['cycle']}: top growth (tracemalloc, by line)")
        for t in row["top"]:
            print(f"  {t['kib']:>9} KiB {t['count']:>7}  {t['where']}")
    if results["holders_of_gone"]:
        print("holders of the gone pods' objects:", json.dumps(results["holders_of_gone"], indent=1))
    write_result(args.out, NAME, args.quick, {"cycles": cycles, "pods": pods}, results)


if __name__ == "__main__":
    main()
