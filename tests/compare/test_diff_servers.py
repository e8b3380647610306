"""`envdeck diff` on the moto server and the Kubernetes API emulator: two environments with
known differences (tests/compare/world.py) give exactly those differences — names mapped,
ignored fields ignored, a differing secret reported without its value — through the
Session and through the CLI (exit codes, JSON, text)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from backends.registry import create_backends
from backends.sim.k8s_emulator import Emulator, EmulatorThread
from tests.compare import world
from tests.helpers import envdeck_inproc as envdeck  # the CLI's main() in this process
from tests.moto_server import arrange_clients, reset
from tests.security.access_setup import access
from tui.core.config import load_config
from tui.core.model import Origin
from tui.core.session import Session


@pytest.fixture(scope="module")
def servers(moto_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    reset(moto_server)
    thread = EmulatorThread(Emulator(token="compare-" + uuid.uuid4().hex))
    thread.start()
    try:
        kubeconfig = thread.emu.write_kubeconfig(tmp / "kubeconfig", namespace="staging", context="emulator")
        world.arrange(arrange_clients(moto_server), thread.emu)
        yield {"moto": moto_server, "kubeconfig": kubeconfig, "tmp": tmp, "emu": thread.emu}
    finally:
        thread.stop()


def summary(result: dict) -> tuple[dict, list, list]:
    differing = {p["role"]: [(f["field"], f["a"], f["b"]) for f in p["fields"]] for p in result["differing"]}
    return differing, [o["role"] for o in result["only_in_a"]], [o["role"] for o in result["only_in_b"]]


def test_session_compare_gives_exactly_the_known_differences(servers):
    cfg = world.write_config(servers["tmp"] / "session.json", servers["moto"], servers["kubeconfig"])

    async def run():
        session = await Session.open(load_config(cfg), servers["tmp"] / "state-session", origin=Origin.CLI,
                                     backends_factory=create_backends)
        try:
            return await session.compare("staging", "prod")
        finally:
            await session.close()

    result = asyncio.run(run())
    differing, only_a, only_b = summary(result.to_json())
    assert differing == world.EXPECTED_DIFFERING
    assert only_a == world.EXPECTED_ONLY_A
    assert only_b == world.EXPECTED_ONLY_B
    assert result.ignored == ["replicas"]
    secret = next(p for p in result.differing if p.role == "kubernetes/Secret/db").fields[0]
    assert secret.hidden
    # the mapped buckets and the alike ConfigMap are matched, not listed as missing
    assert result.matched >= 6


def test_cli_diff_json_text_exit_codes_and_no_secret(servers):
    tmp = servers["tmp"]
    cfg = world.write_config(tmp / "viewer.json", servers["moto"], servers["kubeconfig"], access=access("viewer"))
    opts = ["--config", str(cfg), "--state-dir", str(tmp / "state-cli")]
    proc = envdeck("diff", "staging", "prod", "--json", *opts)
    assert proc.returncode == 1, proc.stderr  # differences, like diff(1); a viewer suffices
    result = json.loads(proc.stdout)
    assert summary(result) == (world.EXPECTED_DIFFERING, world.EXPECTED_ONLY_A, world.EXPECTED_ONLY_B)

    text = envdeck("diff", "staging", "prod", *opts)
    assert text.returncode == 1
    lines = [" ".join(line.split()) for line in text.stdout.splitlines()]
    assert "secret[password] value differs (not shown)" in lines
    assert "image[web] staging: registry.example/web:1.5 prod: registry.example/web:1.4" in lines
    assert "- only in staging: aws/s3-bucket/scratch (aws/s3-bucket/staging-scratch)" in lines
    for leaked in (world.STAGING_PASSWORD, world.PROD_PASSWORD):
        assert leaked not in proc.stdout + proc.stderr + text.stdout + text.stderr

    # --ignore and --backend narrow it: only the secret's difference is left -> still 1
    narrowed = envdeck("diff", "staging", "prod", "--json", "--backend", "kubernetes",
                       "--ignore", "image", "--ignore", "env_keys", "--ignore", "requests", *opts)
    assert narrowed.returncode == 1, narrowed.stderr
    differing, only_a, only_b = summary(json.loads(narrowed.stdout))
    assert differing == {"kubernetes/Secret/db": [("secret[password]", "(hidden)", "(hidden)")]}
    assert (only_a, only_b) == ([], ["kubernetes/Deployment/worker"])

    # only the AWS buckets, with encryption ignored: alike except the scratch bucket; the
    # EC2 instance type ignored too -> the scratch bucket alone keeps it at 1
    aws_only = envdeck("diff", "staging", "prod", "--backend", "aws", "--ignore", "encryption",
                       "--ignore", "instance_type", "--json", *opts)
    assert aws_only.returncode == 1, aws_only.stderr
    assert summary(json.loads(aws_only.stdout)) == ({}, ["aws/s3-bucket/scratch"], [])
    none = envdeck("diff", "staging", "prod", "--backend", "edge", *opts)  # neither has edge nodes: alike
    assert none.returncode == 0 and none.stdout.startswith("staging vs prod: 0 role(s) in both, 0 differ"), none
    bad = envdeck("diff", "staging", "prod", "--ignore", "colour", *opts)
    assert bad.returncode == 2 and "unknown field" in bad.stderr and bad.stdout == ""
