"""Sends label patches to pods at a fixed rate, in its own process (so that its CPU and
GIL are not the measured client's), and prints one JSON line: when each was sent.

    python -m bench.pod_patcher URL NAMESPACE[,NAMESPACE...] PODS CHANGES RATE [CONNECTIONS]

With several namespaces the changes go to them in turn (`plan_across`); with CONNECTIONS > 1
that many threads send, each on its own connection, change k from thread k % CONNECTIONS at
its planned time (one connection waits for each answer, which caps it below ~1,000/s).

The plan (which pod gets which value) is `plan()`: the measuring side computes the same
plan, so that it can recognise every change the moment it appears, whatever the order.
Times are `time.monotonic()`, which is one clock for every process on the machine."""

from __future__ import annotations

import http.client
import json
import random
import sys
import time
from urllib.parse import urlsplit

LABEL = "bench-seq"


def plan(pods: int, changes: int, seed: int = 7) -> list[tuple[str, str]]:
    """(pod name, label value) for each change, in sending order; pod names are the
    emulator's (`pod-00000` ...), values unique, so a change cannot match before it is sent."""
    names = random.Random(seed).sample([f"pod-{i:05d}" for i in range(pods)], changes)
    return [(name, str(k)) for k, name in enumerate(names)]


def plan_across(namespaces: list[str], pods: int, changes: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """(namespace, pod name, label value) for each change: change k goes to namespace k % n;
    `pods` is the number of pods in each namespace."""
    n = len(namespaces)
    per_ns = [plan(pods, -(-changes // n), seed + i) for i in range(n)]
    return [(namespaces[k % n], per_ns[k % n][k // n][0], str(k)) for k in range(changes)]


def send_across(url: str, steps: list[tuple[str, str, str]], rate: float, connections: int) -> list[float]:
    """Send every step at its planned time (start + k / rate) from `connections` threads."""
    import threading

    sent = [0.0] * len(steps)
    start = time.monotonic() + 0.05
    errors: list[str] = []

    def worker(i: int) -> None:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        for k in range(i, len(steps), connections):
            namespace, name, value = steps[k]
            delay = start + k / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            body = json.dumps({"metadata": {"labels": {LABEL: value}}})
            sent[k] = time.monotonic()
            conn.request("PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}", body=body,
                         headers={"Content-Type": "application/merge-patch+json"})
            resp = conn.getresponse()
            answer = resp.read()
            if resp.status >= 400:
                errors.append(f"PATCH {namespace}/{name}: HTTP {resp.status} {answer[:200]!r}")
                return
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(errors[0])
    return sent


def send(url: str, namespace: str, steps: list[tuple[str, str]], rate: float) -> list[float]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    sent: list[float] = []
    start = time.monotonic()
    for k, (name, value) in enumerate(steps):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        body = json.dumps({"metadata": {"labels": {LABEL: value}}})
        sent.append(time.monotonic())
        conn.request("PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}", body=body,
                     headers={"Content-Type": "application/merge-patch+json"})
        resp = conn.getresponse()
        answer = resp.read()
        if resp.status >= 400:
            raise SystemExit(f"PATCH {name}: HTTP {resp.status} {answer[:200]!r}")
    conn.close()
    return sent


def main() -> None:
    url, namespace, pods, changes, rate = sys.argv[1:6]
    connections = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    if "," in namespace or connections > 1:
        steps = plan_across(namespace.split(","), int(pods), int(changes))
        sent = send_across(url, steps, float(rate), connections)
    else:
        sent = send(url, namespace, plan(int(pods), int(changes)), float(rate))
    print(json.dumps({"sent": sent}), flush=True)


if __name__ == "__main__":
    main()
