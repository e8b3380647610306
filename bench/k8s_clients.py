"""The clients of the Kubernetes scale benchmark, each run as its own process so
that its peak RSS is its own: `python -m bench.k8s_clients MODE KUBECONFIG URL NAMESPACE[,NAMESPACE...]`.

- envdeck: KubernetesBackend.observe() (the first full inventory: every kind,
  paginated raw JSON, converted to Resources) — prints its in-process time; with several
  namespaces, one backend per namespace (one environment each, as the TUI has them), all
  observing at once in one process;
- floor: http.client GET of the whole pod list + json.loads (nothing kept); with several
  namespaces, one after the other on one connection.
Prints one JSON line: {"mode", "seconds", "pods", "rss_mib"}.
"""

from __future__ import annotations

import http.client
import json
import resource
import sys
import time
from urllib.parse import urlsplit


def rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def floor(url: str, namespaces: list[str]) -> tuple[float, int]:
    parts = urlsplit(url)
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    pods = 0
    for namespace in namespaces:
        conn.request("GET", f"/api/v1/namespaces/{namespace}/pods", headers={"Accept": "application/json"})
        body = conn.getresponse().read()
        pods += len(json.loads(body)["items"])
        del body
    return time.perf_counter() - t0, pods


def envdeck(kubeconfig: str, namespaces: list[str]) -> tuple[float, int, dict]:
    import asyncio

    from backends.kubernetes import KubernetesBackend
    from tui.core.config import Defaults, KubernetesConfig

    async def run() -> tuple[float, int, dict]:
        backends = [KubernetesBackend(ns if len(namespaces) > 1 else "bench",
                                      KubernetesConfig(kubeconfig=kubeconfig, namespace=ns), Defaults(timeout=120))
                    for ns in namespaces]
        try:
            t0 = time.perf_counter()
            observations = await asyncio.gather(*(b.observe() for b in backends))
            seconds = time.perf_counter() - t0
            pods = sum(1 for obs in observations for r in obs.resources if r.kind == "Pod")
            extra = {"resources": sum(len(obs.resources) for obs in observations),
                     "requests": sum(b.api.requests for b in backends if b.api),
                     "kinds": sum(len(b.inventory.informers) for b in backends if b.inventory)}
            return seconds, pods, extra
        finally:
            await asyncio.gather(*(b.close() for b in backends))

    return asyncio.run(run())


def main() -> None:
    mode, kubeconfig, url, namespace = sys.argv[1:5]
    namespaces = namespace.split(",")
    extra: dict = {}
    if mode == "floor":
        seconds, pods = floor(url, namespaces)
    elif mode == "envdeck":
        seconds, pods, extra = envdeck(kubeconfig, namespaces)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps({"mode": mode, "seconds": round(seconds, 3), "pods": pods, "rss_mib": rss_mib(), **extra}),
          flush=True)
    if mode == "envdeck":  # as the envdeck command does at its end (tui/cli: run)
        from tui.core.heap import skip_final_collection

        skip_final_collection()


if __name__ == "__main__":
    main()
