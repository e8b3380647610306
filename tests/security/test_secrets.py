"""Secrets are never shown, logged or stored. Known values are planted — an AWS secret
key in the environment and one in a profile file, a Kubernetes Secret's data (and a
last-applied annotation repeating it), the kubeconfig bearer token, tokens and
secret parameters and command lines (an action refuses parameters it does not take,
so those are written through the store itself, and a fleet command runs on a real sshd)
— then envdeck observes, reconciles, acts and reports (real moto server, real Kubernetes
API emulator); none of the values appears in the SQLite file and its WAL, envdeck's own
log, the timeline, or any CLI output (JSON or text).
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

from backends.registry import create_backends
from tests.aws.arrange import instance
from tests.helpers import envdeck
from tests.security.access_setup import write_config
from tui.core.config import parse_config
from tui.core.model import now_utc
from tui.core.session import Session


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
    secrets = {label: planted(label) for label in ("aws-env", "aws-profile", "k8s-secret", "k8s-annotation")}
    cfg = arrange(aws, moto_url, k8s_emulator, isolated_home, tmp_path, secrets)
    state = tmp_path / "state"
    env = {"AWS_SECRET_ACCESS_KEY": secrets["aws-env"], "AWS_ACCESS_KEY_ID": "AKIDENV"}
    common = ["--config", str(cfg), "--state-dir", str(state)]
    iid = aws("ec2").describe_instances()["Reservations"][0]["Instances"][0]["InstanceId"]

    runs = {
        "status": envdeck("status", "--json", *common, **env),
        "status-text": envdeck("status", *common, **env),
        "reconcile": envdeck("reconcile", "--once", "--repair", "--json", *common, **env),
        # dev repairs automatically and wants the instance stopped: hold its repair for the start
        "act": envdeck("act", "dev", f"aws/ec2-instance/{iid}", "start", "--yes", "--json", "--hold-repair", "30m",
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
    assert act["result"] == "succeeded"
    canary = iid  # stored in the audit trail and the snapshots: proves the search sees what is stored

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
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secrets["aws-env"])
    cfg = parse_config(cfg_path.read_text())
    state = tmp_path / "state"
    session = await Session.open(cfg, state, backends_factory=create_backends)
    try:
        await session.reconciler.run_once(repair=True)
        iid = aws("ec2").describe_instances()["Reservations"][0]["Instances"][0]["InstanceId"]
        await session.act("dev", f"aws/ec2-instance/{iid}", "reboot" if session.reconciler.envs["dev"].resource(
            f"aws/ec2-instance/{iid}").attributes.get("state") == "running" else "start")
        canary = planted("not-a-secret")
        await session.store.audit_record(  # parameters as an action that takes them would store them
            user="ops", env="dev", target=f"aws/ec2-instance/{iid}", action="configure", origin="cli",
            params={"token": secrets["param-token"], "password": secrets["param-password"], "note": canary},
            result="succeeded")
        files = state_files(state)
        assert "envdeck.db-wal" in files
        assert leaks(files["envdeck.db-wal"], {"canary": canary}), "the search sees the WAL"
        assert session.reconciler.envs["dev"].resource("kubernetes/Secret/db-creds") is not None
        for name, data in files.items():
            assert leaks(data, secrets) == [], name
    finally:
        await session.close()


# --- command lines and parameters (issue 14.8) -------------------------------------------

FLEET_SECRETS = {
    "mysql-password": "Hunter2-" + uuid.uuid4().hex[:12],
    "bearer": "sk-live-" + uuid.uuid4().hex,
    "url-token": uuid.uuid4().hex,
    "aws-key-id": "AKIA" + uuid.uuid4().hex[:16].upper(),
    "operator-pattern": "internal-" + uuid.uuid4().hex[:8],
}


def test_secrets_in_a_fleet_command_stay_out_of_the_audit_trail(edge_lab, tmp_path):
    """The command of `envdeck run` is stored for every node: its secret-looking parts
    (a MySQL password, a bearer token, a token in a URL, an AWS key id, and what the
    operator's own `audit.redact` pattern matches) are hidden in the store, the WAL,
    envdeck.log and `audit --json`, on a real sshd."""
    import yaml

    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    node = {"name": "n0", "host": server.address, "port": server.port, "user": edge_lab.user,
            "identity_file": str(edge_lab.client_key)}
    edge = {"known_hosts": str(edge_lab.known_hosts), "ssh_config": str(edge_lab.ssh_config), "nodes": [node]}
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text(yaml.safe_dump({"audit": {"redact": [r"internal-[0-9a-f]{8}"]},
                                   "environments": {"lab": {"edge": edge}}}))
    canary = planted("not-a-secret")
    s = FLEET_SECRETS
    command = (f"echo {canary} || mysql --password={s['mysql-password']} -h db; "
               f"true || curl -H 'Authorization: Bearer {s['bearer']}' 'https://api.example/v1?token={s['url-token']}'; "
               f"true || aws configure set aws_access_key_id {s['aws-key-id']}; true || echo {s['operator-pattern']}")
    state = tmp_path / "state"
    common = ["--config", str(cfg), "--state-dir", str(state)]
    run = envdeck("run", "lab", "--json", *common, "--", command)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["results"][0]["stdout"].strip() == canary, "the command ran as typed"
    audit = envdeck("audit", "--json", *common)
    [entry] = [e for e in json.loads(audit.stdout)["entries"] if e["action"] == "run"]
    stored = entry["params"]["command"]
    assert canary in stored and "mysql --password=*** -h db" in stored and "Authorization: ***" in stored
    assert "token=***" in stored and "internal-" not in stored
    assert leaks(audit.stdout.encode(), s) == []
    files = state_files(state)
    assert any(leaks(data, {"canary": canary}) for data in files.values()), "the search sees what is stored"
    for name, data in files.items():
        assert leaks(data, s) == [], name


async def test_secret_looking_parameters_are_not_stored(tmp_path):
    """`pwd`, `db_pass`, `client_key` escaped the old name pattern and were stored verbatim;
    free-text values holding a secret are redacted too."""
    from tui.core.store import Store

    secrets = {name: planted(name) for name in ("pwd", "db_pass", "client_key", "apiKey", "auth_header")}
    canary = planted("not-a-secret")
    store = await Store.open(tmp_path)
    try:
        await store.audit_record(user="ops", env="dev", target="aws/app/web", action="configure", origin="cli",
                                 params={**secrets, "note": canary}, result="succeeded")
        audit_id = await store.audit_begin(user="ops", env="dev", target="aws/app/web", action="configure",
                                           origin="cli", params={"note": f"Authorization: Bearer {secrets['pwd']}"})
        await store.audit_finish(audit_id, "failed", f"mysql -p{secrets['db_pass']} failed: access denied")
        await store.add_timeline("dev", [(now_utc(), "aws/app/web", "event", "info", "Configured",
                                          f"with token={secrets['client_key']}", 1)])
        files = state_files(tmp_path)
        assert any(leaks(data, {"canary": canary}) for data in files.values()), "the search sees the files"
        for name, data in files.items():
            assert leaks(data, secrets) == [], name
        entries = await store.audit_entries()
        assert entries[1]["params"] == {**{k: "***" for k in secrets}, "note": canary}
        assert entries[0]["message"] == "mysql -p*** failed: access denied"
        [event] = await store.timeline("dev")
        assert event["message"] == "with token=***"
    finally:
        await store.close()


def test_rows_stored_before_the_rules_are_redacted_when_shown(tmp_path):
    """A row an older envdeck wrote verbatim is redacted by `audit --json` all the same."""
    import sqlite3

    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text("environments:\n  dev: {}\n")
    state = tmp_path / "state"
    first = envdeck("audit", "--json", "--config", str(cfg), "--state-dir", str(state))
    assert first.returncode == 0, first.stderr
    secret = planted("old")
    with sqlite3.connect(state / "envdeck.db") as db:
        db.execute("INSERT INTO audit (at, user, env, target, action, params, origin, result, message) "
                   "VALUES ('2026-01-01T00:00:00Z', 'ops', 'dev', 'edge/node/n0', 'run', ?, 'cli', 'succeeded', ?)",
                   (json.dumps({"command": f"mysql -p{secret}", "pwd": secret}), f"Bearer {secret}"))
    audit = envdeck("audit", "--json", "--config", str(cfg), "--state-dir", str(state))
    assert audit.returncode == 0, audit.stderr
    [entry] = json.loads(audit.stdout)["entries"]
    assert entry["params"] == {"command": "mysql -p***", "pwd": "***"} and entry["message"] == "Bearer ***"
    assert secret not in audit.stdout


def test_envdecks_log_is_redacted(tmp_path):
    """Whatever a logger writes (a backend's error quoting a command, a traceback) passes
    the same rules on its way to envdeck.log."""
    import logging

    from tui.core.logsetup import setup_logging

    secret = planted("log")
    path = setup_logging(tmp_path)
    try:
        log = logging.getLogger("envdeck.test")
        log.warning("command failed: %s", f"PGPASSWORD={secret} psql -h db")
        try:
            raise RuntimeError(f"Authorization: Bearer {secret}")
        except RuntimeError:
            log.exception("call failed")
        for handler in logging.getLogger("envdeck").handlers:
            handler.flush()
        text = path.read_text()
        assert "command failed: PGPASSWORD=*** psql -h db" in text and "RuntimeError: Authorization: ***" in text
        assert secret not in text
    finally:
        setup_logging(tmp_path / "other")


def test_a_bad_redact_pattern_is_a_config_error(tmp_path):
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text("audit:\n  redact:\n    - 'internal-[0-9a-f]{8}'\n    - 'bad[('\nenvironments:\n  dev: {}\n")
    check = envdeck("check", "--config", str(cfg))
    assert check.returncode == 2
    assert check.stderr.startswith(f"{cfg}:") and "audit.redact" in check.stderr and "'bad[('" in check.stderr
    assert "Traceback" not in check.stderr


async def test_timeline_entries_are_redacted_in_the_store_and_on_screen(tmp_path, k8s_emulator):
    """A Kubernetes event quoting a credential (real API emulator): the stored timeline
    row and the entry published to the screens both show it redacted."""
    from tui.core.env_state import TimelineAdded

    thread, kubeconfig, _token = k8s_emulator
    secret = planted("event")
    thread.emu.create_deployment("staging", "web", replicas=1)
    thread.emu.add_event("staging", "Deployment", "web", "FailedPull",
                         f"pull failed: registry login with --password={secret} refused")
    cfg = parse_config(yaml_config({"dev": {"kubernetes": {"kubeconfig": str(kubeconfig), "context": "emulator",
                                                           "namespace": "staging"}}}))
    session = await Session.open(cfg, tmp_path / "state", backends_factory=create_backends)
    published: list = []
    session.reconciler.subscribe(lambda change: published.append(change))
    try:
        await session.reconciler.run_once(repair=False)
        stored = [e for e in await session.store.timeline("dev") if e["reason"] == "FailedPull"]
        shown = [e for c in published if isinstance(c, TimelineAdded) for e in c.entries
                 if e["reason"] == "FailedPull"]
        assert stored and shown, (stored, published)
        for entry in stored + shown:
            assert entry["message"] == "pull failed: registry login with --password=*** refused"
    finally:
        await session.close()
    assert leaks(b"".join(state_files(tmp_path / "state").values()), {"event": secret}) == []


def yaml_config(envs: dict) -> str:
    import yaml

    return yaml.safe_dump({"environments": envs})


def test_secret_looking_parameter_names_stay_out_of_a_denied_row(tmp_path, aws, moto_url):
    """A viewer's `act --param AKIA…=1 --param sk_live_…=1` is denied and audited with
    its parameters: the names were stored raw. They are hidden like values now, in the
    store, its WAL, envdeck.log and `audit --json`."""
    from tests.security.access_setup import access, audit_rows
    from tests.security.test_access_matrix import aws_block

    iid = instance(aws, "dev", "web-1")
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"access": access("viewer"), "aws": aws_block(moto_url)}})
    names = {"aws-key-id": "AKIA" + uuid.uuid4().hex[:16].upper(), "stripe": "sk_live_" + uuid.uuid4().hex}
    state = tmp_path / "state"
    common = ["--config", str(cfg), "--state-dir", str(state)]
    proc = envdeck("act", "dev", f"aws/ec2-instance/{iid}", "stop", "--yes",
                   "--param", f"{names['aws-key-id']}=1", "--param", f"{names['stripe']}=1", *common)
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    [row] = audit_rows(state)
    assert row["result"] == "denied" and json.loads(row["params"]) == {"***": "***", "***#2": "***"}
    audit = envdeck("audit", "--json", *common)
    assert audit.returncode == 0, audit.stderr
    assert leaks(audit.stdout.encode(), names) == []
    for name, data in state_files(state).items():
        assert leaks(data, names) == [], name
