"""The clients of the Kubernetes scale benchmark, each run as its own process so
that its peak RSS is its own: `python -m bench.k8s_clients MODE KUBECONFIG URL NAMESPACE`.

- envdeck: KubernetesBackend.observe() (the first full inventory: every kind,
  paginated raw JSON, converted to Resources) — prints its in-process time;
- floor: http.client GET of the whole pod list + json.loads (nothing kept).
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


def floor(url: str, namespace: str) -> tuple[float, int]:
    parts = urlsplit(url)
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    conn.request("GET", f"/api/v1/namespaces/{namespace}/pods", headers={"Accept": "application/json"})
    body = conn.getresponse().read()
    pods = len(json.loads(body)["items"])
    return time.perf_counter() - t0, pods


def envdeck(kubeconfig: str, namespace: str) -> tuple[float, int, dict]:
    import asyncio

    from backends.kubernetes import KubernetesBackend
    from tui.core.config import Defaults, KubernetesConfig

    async def run() -> tuple[float, int, dict]:
        backend = KubernetesBackend("bench", KubernetesConfig(kubeconfig=kubeconfig, namespace=namespace),
                                    Defaults(timeout=120))
        try:
            t0 = time.perf_counter()
            obs = await backend.observe()
            seconds = time.perf_counter() - t0
            pods = sum(1 for r in obs.resources if r.kind == "Pod")
            extra = {"resources": len(obs.resources), "requests": backend.api.requests if backend.api else None,
                     "kinds": len(backend.inventory.informers) if backend.inventory else None}
            return seconds, pods, extra
        finally:
            await backend.close()

    return asyncio.run(run())


def main() -> None:
    mode, kubeconfig, url, namespace = sys.argv[1:5]
    extra: dict = {}
    if mode == "floor":
        seconds, pods = floor(url, namespace)
    elif mode == "envdeck":
        seconds, pods, extra = envdeck(kubeconfig, namespace)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps({"mode": mode, "seconds": round(seconds, 3), "pods": pods, "rss_mib": rss_mib(), **extra}),
          flush=True)
    if mode == "envdeck":  # as the envdeck command does at its end (tui/cli: run)
        from tui.core.heap import skip_final_collection

        skip_final_collection()


if __name__ == "__main__":
    main()
