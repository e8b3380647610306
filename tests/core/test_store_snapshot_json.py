"""`snapshot_json` (orjson) stores what `json.dumps(r.to_json(), default=str)` stored,
including the cases orjson treats differently by default."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from tui.core.model import Drift, Finding, Health, Resource, Severity
from tui.core.store import Store, snapshot_json


@dataclasses.dataclass
class Opaque:
    x: int


def resource(**attributes) -> Resource:
    return Resource(id="kubernetes/Pod/web-1", backend="kubernetes", kind="Pod", name="web-1",
                    health=Health.DEGRADED, status="CrashLoopBackOff", drift=Drift.DRIFTED,
                    observed_at=datetime(2025, 3, 14, 3, 0, tzinfo=UTC),
                    findings=[Finding("k8s.privileged", Severity.HIGH, "privileged", "kubernetes/Pod/web-1")],
                    attributes=attributes)


def test_same_document_as_json_dumps():
    r = resource(labels={"app": "web"}, ports={80: "http", 443: "https"},  # non-str keys
                 started=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),  # json used str(), not isoformat
                 owner=Opaque(3), ratio=0.5, images=("nginx:1", "side:2"), name="\x1b[31mred")
    assert json.loads(snapshot_json(r)) == json.loads(json.dumps(r.to_json(), default=str))


def test_integers_beyond_64_bits_fall_back_to_json():
    r = resource(huge=2**70)
    assert json.loads(snapshot_json(r))["attributes"]["huge"] == 2**70


async def test_snapshot_round_trip_through_the_store(tmp_path):
    store = await Store.open(tmp_path)
    try:
        r = resource(ports={80: "http"}, huge=2**70)
        await store.sync_snapshot("e", "kubernetes", [r], [], full=True)
        (back,) = (await store.load_snapshot("e"))["kubernetes"]
        assert back.to_json() == json.loads(json.dumps(r.to_json(), default=str))
        assert back.health is Health.DEGRADED and back.findings[0].rule == "k8s.privileged"
    finally:
        await store.close()
