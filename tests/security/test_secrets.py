"""Secrets are never shown, logged or stored. Known values are planted — an AWS secret
key in the environment and one in a profile file, a Kubernetes Secret's data (and a
last-applied annotation repeating it), the kubeconfig bearer token, tokens and
passwords passed as action parameters — then envdeck observes, reconciles, acts and
reports (real moto server, real Kubernetes API emulator); none of the values appears
in the SQLite file and its WAL, envdeck's own log, or any CLI output (JSON or text).
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

from tests.aws.arrange import instance
from tests.security.access_setup import write_config
from tests.security.conftest import envdeck
from tui.config import parse_config
from tui.services import Session


def planted(label: str) -> str:
    return f"planted-{label}-{uuid.uuid4().hex}"


def forms(value: str) -> list[bytes]:
    """The value as it could appear in a file: raw, JSON-escaped, base64."""
    raw = value.encode()
    return [raw, json.dumps(value).encode()[1:-1], base64.b64encode(raw)]


def leaks(data: bytes, secrets: dict[str, str]) -> list[str]:
    return [label for label, value in secrets.items() if any(f in data for f in forms(value))]


def state_files(state: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(state.iterdir()) if p.is_file()}


def arrange(aws, moto_url, k8s_emulator, home: Path, tmp_path: Path, secrets: dict[str, str]) -> Path:
    thread, kubeconfig, token = k8s_emulator
    secrets["k8s-token"] = token
    instance(aws, "dev", "web-1")
    emu = thread.emu
    emu.create_secret("staging", "db-creds", {"password": secrets["k8s-secret"]})
    emu.create("secrets", {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "applied", "namespace": "staging", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                {"stringData": {"api-key": secrets["k8s-annotation"]}})}},
        "stringData": {"api-key": secrets["k8s-annotation"]}})
    emu.create_deployment("staging", "web", replicas=1)
    aws_dir = home / ".aws"
    aws_dir.mkdir(exist_ok=True)
    (aws_dir / "credentials").write_text(
        f"[staging]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = {secrets['aws-profile']}\n")
    (aws_dir / "config").write_text("[profile staging]\nregion = us-east-1\n")
    aws_block = {"region": "us-east-1", "endpoint_url": moto_url, "tags": {"env": "dev"},
                 "desired": [{"kind": "ec2-instance", "name": "web-1", "state": "stopped"}]}
    return write_config(tmp_path / "envdeck.yaml", {
        "dev": {"repair": "auto", "aws": aws_block,
                "kubernetes": {"kubeconfig": str(kubeconfig), "context": "emulator", "namespace": "staging",
                               "desired": [{"kind": "Deployment", "name": "web", "replicas": 2}]}},
        "prof": {"aws": {**aws_block, "profile": "staging", "desired": []}},
    })


def test_planted_secrets_appear_nowhere(tmp_path, aws, moto_url, k8s_emulator, isolated_home):
    secrets = {label: planted(label) for label in
               ("aws-env", "aws-profile", "k8s-secret", "k8s-annotation", "param-token", "param-password")}
    cfg = arrange(aws, moto_url, k8s_emulator, isolated_home, tmp_path, secrets)
    canary = planted("not-a-secret")  # proves the search sees what is stored
    state = tmp_path / "state"
    env = {"AWS_SECRET_ACCESS_KEY": secrets["aws-env"], "AWS_ACCESS_KEY_ID": "AKIDENV"}
    common = ["--config", str(cfg), "--state-dir", str(state)]
    iid = aws("ec2").describe_instances()["Reservations"][0]["Instances"][0]["InstanceId"]

    runs = {
        "status": envdeck("status", "--json", *common, **env),
        "status-text": envdeck("status", *common, **env),
        "reconcile": envdeck("reconcile", "--once", "--repair", "--json", *common, **env),
        "act": envdeck("act", "dev", f"aws/ec2-instance/{iid}", "start", "--yes", "--json",
                       "--param", f"token={secrets['param-token']}",
                       "--param", f"db_password={secrets['param-password']}", "--param", f"note={canary}",
                       *common, **env),
        "audit": envdeck("audit", "--json", *common, **env),
        "audit-text": envdeck("audit", *common, **env),
        "doctor": envdeck("doctor", *common, **env),
    }
    for name, proc in runs.items():
        assert "Traceback" not in proc.stderr, (name, proc.stderr)
        assert leaks(proc.stdout.encode() + proc.stderr.encode(), secrets) == [], name

    # the runs did observe, repair and act (so the secrets were in reach)
    [dev, prof] = json.loads(runs["status"].stdout)["environments"]
    assert dev["backends"]["kubernetes"]["reachable"] and dev["backends"]["aws"]["reachable"]
    assert prof["backends"]["aws"]["reachable"], "the profile's credentials were used"
    ids = {r["id"] for r in dev["resources"]}
    assert {"kubernetes/Secret/db-creds", "kubernetes/Secret/applied", f"aws/ec2-instance/{iid}"} <= ids
    entries = json.loads(runs["audit"].stdout)["entries"]
    [act] = [e for e in entries if e["action"] == "start" and e["origin"] == "cli"]
    assert act["params"] == {"token": "***", "db_password": "***", "note": canary} and act["result"] == "succeeded"

    files = state_files(state)
    assert "envdeck.db" in files and "envdeck.log" in files
    assert any(leaks(data, {"canary": canary}) for data in files.values())
    for name, data in files.items():
        assert leaks(data, secrets) == [], name


async def test_secrets_stay_out_of_the_wal_of_a_running_store(tmp_path, aws, moto_url, k8s_emulator,
                                                             isolated_home, monkeypatch):
    """While the store is open its recent writes live in envdeck.db-wal: look there too."""
    secrets = {label: planted(label) for label in ("aws-env", "aws-profile", "k8s-secret", "k8s-annotation",
                                                    "param-token", "param-password")}
    cfg_path = arrange(aws, moto_url, k8s_emulator, isolated_home, tmp_path, secrets)
    canary = planted("not-a-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secrets["aws-env"])
    cfg = parse_config(cfg_path.read_text())
    state = tmp_path / "state"
    session = await Session.open(cfg, state)
    try:
        await session.reconciler.run_once(repair=True)
        iid = aws("ec2").describe_instances()["Reservations"][0]["Instances"][0]["InstanceId"]
        await session.act("dev", f"aws/ec2-instance/{iid}", "reboot" if session.reconciler.envs["dev"].resource(
            f"aws/ec2-instance/{iid}").attributes.get("state") == "running" else "start",
            {"token": secrets["param-token"], "password": secrets["param-password"], "note": canary})
        files = state_files(state)
        assert "envdeck.db-wal" in files
        assert leaks(files["envdeck.db-wal"], {"canary": canary}), "the search sees the WAL"
        assert session.reconciler.envs["dev"].resource("kubernetes/Secret/db-creds") is not None
        for name, data in files.items():
            assert leaks(data, secrets) == [], name
    finally:
        await session.close()
