"""A dependent step starts on a fresh answer of the server about each step it depends on, as
moto saw the requests (its request recorder, in the order it served them), not as envdeck's
store says: in one create, the dependency's own last read (its health(), which said Healthy)
comes after its last write and before the dependent's first call, with no second read of the
dependency in between. (A dependency found healthy in the store by a resumed create is read
again: tests/lifecycle/test_engine.py
`test_a_dependency_found_healthy_in_the_store_is_checked_fresh_when_the_step_starts`.)"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from moto.moto_api import recorder

from tests.lifecycle.conftest import World


@contextmanager
def recorded(path: Path) -> Iterator[list[str]]:
    """moto's own record of the requests it served meanwhile, one short name each
    ("ec2:DescribeSecurityGroups", "s3:GET /BUCKET?tagging", ...), filled in at the end."""
    calls: list[str] = []
    recorder._location = str(path)   # the server runs in this process (tests/moto_server.py)
    recorder.reset_recording()
    recorder.start_recording()
    try:
        yield calls
    finally:
        recorder.stop_recording()
        calls.extend(_named(json.loads(line)) for line in path.read_text().splitlines() if line.strip())


def _named(entry: dict) -> str:
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    action = parse_qs(body).get("Action")
    if action:
        return f"ec2:{action[0]}"
    target = (entry.get("headers") or {}).get("X-Amz-Target")
    if target:
        return f"json:{target.split('.')[-1]}"
    url = urlsplit(entry["url"])
    return f"s3:{entry['method']} {url.path}?{url.query}"


def _create(world: World, name: str):
    return world.envdeck("env", "create", name, "--template", "small", "--param", "branch=main", "--wait")


def test_the_instance_starts_after_a_fresh_read_of_its_group_and_bucket_asked_once(world: World, tmp_path):
    with recorded(tmp_path / "moto-requests") as calls:
        proc = _create(world, "pr-31")
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    first_of_web = min(i for i, c in enumerate(calls) if c in ("ec2:DescribeInstances", "ec2:RunInstances"))
    before = calls[:first_of_web]
    group_written = max(i for i, c in enumerate(before) if c == "ec2:AuthorizeSecurityGroupIngress")
    assert before[group_written:].count("ec2:DescribeSecurityGroups") == 1, before
    bucket_written = max(i for i, c in enumerate(before) if c.startswith("s3:PUT /pr-31-assets"))
    assert before[bucket_written:].count("s3:GET /pr-31-assets?tagging") == 1, before
