"""What the 100,000-pod fixes of issue 19 rely on (pure functions, no server):

- the GC pause of overlapping LISTs (five environments listing at once) ends with the last one;
- pods parsed from separate JSON documents share their repeated values (conditions, labels,
  images, container names, phase, node, creation time) and still convert to what they said;
- parse_quantity caches by string and still refuses garbage with the quantity named."""

from __future__ import annotations

import gc
import json

import pytest

from backends.kubernetes import convert, sharing
from backends.kubernetes.api import paused_gc
from backends.kubernetes.metrics import parse_quantity


def _pod(name: str, *, app: str = "web", ready: str = "True") -> dict:
    text = json.dumps({
        "metadata": {"name": name, "namespace": "bench", "labels": {"app": app},
                     "creationTimestamp": "2026-12-07T03:00:00Z", "resourceVersion": "1"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "nginx:1.27"}]},
        "status": {"phase": "Running", "podIP": "10.0.0.1",
                   "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": "2026-12-07T03:00:01Z"},
                                  {"type": "PodScheduled", "status": "True"}],
                   "containerStatuses": [{"name": "web", "ready": ready == "True", "restartCount": 0,
                                          "state": {"running": {}}}]}})
    return json.loads(text)  # every string a fresh object, as a page parser makes them


def test_overlapping_gc_pauses_end_with_the_last():
    assert gc.isenabled()
    first, second = paused_gc(), paused_gc()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled()
    first.__exit__(None, None, None)  # the first LIST ends while the second still runs
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_pods_share_repeated_values_and_keep_their_own():
    a, b = convert.pod(_pod("a")).resource, convert.pod(_pod("b")).resource
    for key in ("conditions", "labels", "images", "containers", "phase", "node", "namespace"):
        assert a.attributes[key] is b.attributes[key], key
    assert a.created_at is b.created_at and a.status is b.status
    assert a.attributes["conditions"] == [
        {"type": "Ready", "status": "True", "since": "2026-12-07T03:00:01Z"},
        {"type": "PodScheduled", "status": "True"}]
    assert a.attributes["labels"] == {"app": "web"} and a.attributes["images"] == {"web": "nginx:1.27"}
    # a pod that differs keeps its own values
    c = convert.pod(_pod("c", app="api", ready="False")).resource
    assert c.attributes["labels"] == {"app": "api"} and c.attributes["labels"] is not a.attributes["labels"]
    assert c.attributes["conditions"][0]["status"] == "False"
    assert a.attributes["conditions"][0]["status"] == "True"


def test_the_shared_table_is_bounded(monkeypatch):
    monkeypatch.setattr(sharing, "MAX_KEPT", 3)
    monkeypatch.setattr(sharing, "_kept", {})
    kept = [sharing.mapping({"app": f"a{i}"}) for i in range(10)]
    assert len(sharing._kept) <= 3
    assert [k["app"] for k in kept] == [f"a{i}" for i in range(10)]


def test_unhashable_values_are_not_shared_but_kept():
    value = {"odd": ["list"]}
    assert sharing.mapping(value) is value


def test_parse_quantity_cached_and_strict():
    assert parse_quantity("250m") == parse_quantity("250m") == 250 / 1000
    assert parse_quantity("1Gi") == 2**30
    assert parse_quantity(2) == 2.0
    with pytest.raises(ValueError, match="not a quantity: 'lots'"):
        parse_quantity("lots")
