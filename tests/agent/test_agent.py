"""`envdeck agent` as a real process against the Kubernetes API emulator (in a thread):
it repairs drift in an `auto` environment (the repair counted on the emulator), leaves an
`observe` one alone, answers /healthz and /metrics (the numbers move with the passes), logs
one JSON object per line with no secret in it, reloads its config on SIGHUP and exits 0
on SIGTERM. Usage errors (a non-loopback --listen, a glob matching nothing) exit 2."""

from __future__ import annotations

import json
import signal

import pytest

from tests.agent.support import Agent, KubeEnv, kube_config
from tests.helpers import envdeck, envdeck_inproc
from tests.kubernetes_emulator.support import wait_for

STAGING = KubeEnv("staging", "auto", {"web": 3})
QUIET = KubeEnv("quiet", "observe", {"api": 2})


def config_text(kubeconfig, interval: str = "30s", **envs: KubeEnv) -> str:
    """staging (auto) and quiet (observe), or the environments given."""
    return kube_config(kubeconfig, envs or {"staging": STAGING, "quiet": QUIET}, defaults={"interval": interval})

def _writes(emu, namespace: str, name: str) -> list[tuple[str, str]]:
    """The mutating requests the emulator served on one Deployment (and its scale)."""
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    return [(m, p) for m, p in list(emu.request_log)
            if m in ("PATCH", "PUT", "POST") and p.split("?")[0] in (path, path + "/scale")]


@pytest.fixture
def world(k8s_emulator, tmp_path):
    thread, kubeconfig, token = k8s_emulator
    emu = thread.emu
    emu.add_namespace("quiet")
    emu.create_deployment("staging", "web", replicas=1)
    emu.create_deployment("quiet", "api", replicas=1)
    config = tmp_path / "envdeck.yaml"
    config.write_text(config_text(kubeconfig))
    return emu, kubeconfig, token, config, tmp_path / "state"


def test_agent_repairs_serves_health_and_metrics_and_exits_0_on_sigterm(world):
    emu, kubeconfig, token, config, state = world
    agent = Agent(config, state, "--env", "st*", "--env", "quiet")
    try:
        agent.wait_listening()
        repaired = agent.wait_record(lambda r: r["msg"] == "repair succeeded", "the first repair")
        assert repaired["env"] == "staging" and repaired["backend"] == "kubernetes"
        assert repaired["resource"] == "kubernetes/Deployment/web" and repaired["field"] == "replicas"
        assert repaired["origin"] == "reconciler"

        # on the server: scaled to the desired 3, and as many writes as the agent reports repairs
        assert emu.get("deployments", "staging", "web")["spec"]["replicas"] == 3
        writes = _writes(emu, "staging", "web")
        assert len(writes) >= 1
        assert agent.metric("envdeck_repairs_total", env="staging", backend="kubernetes",
                            result="succeeded") == len(writes)
        # `observe`: the drift is seen, never repaired
        wait_for(lambda: agent.metric("envdeck_drifts", env="quiet", backend="kubernetes") == 1, what="quiet drift")
        assert _writes(emu, "quiet", "api") == []
        assert emu.get("deployments", "quiet", "api")["spec"]["replicas"] == 1

        status, health = agent.health()
        assert status == 200 and health["status"] == "ok"
        assert health["envs"] == ["staging", "quiet"] and health["down"] == []
        assert health["last_pass_age_s"] is not None
        assert agent.metric("envdeck_backend_up", env="staging", backend="kubernetes") == 1
        passes = agent.metric("envdeck_reconcile_passes_total", env="staging", backend="kubernetes", result="ok")
        assert passes is not None and passes >= 1

        # drift again: another pass, another repair, and the numbers follow
        emu.patch("deployments", "staging", "web", {"spec": {"replicas": 1}})
        wait_for(lambda: (agent.metric("envdeck_repairs_total", env="staging", backend="kubernetes",
                                       result="succeeded") or 0) >= 2, what="the second repair")
        wait_for(lambda: emu.get("deployments", "staging", "web")["spec"]["replicas"] == 3, what="web back to 3")
        assert agent.metric("envdeck_reconcile_passes_total", env="staging", backend="kubernetes",
                            result="ok") > passes
        # one more write by the agent per repair it reports (the test's own patch is not in the log)
        assert agent.metric("envdeck_repairs_total", env="staging", backend="kubernetes",
                            result="succeeded") == len(_writes(emu, "staging", "web"))
    finally:
        code = agent.stop(signal.SIGTERM)
    assert code == 0, agent.stderr
    records = agent.records()  # every line is one JSON object
    assert records and all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    assert records[-1]["msg"] == "stopping"
    everything = "\n".join(agent.lines) + agent.stderr
    assert token not in everything and "Traceback" not in everything

    # the repairs are in the audit trail, by the reconciler
    out = envdeck_inproc("audit", "--json", "--env", "staging", "--config", str(config), "--state-dir", str(state))
    assert out.returncode == 0, out.stderr
    rows = [e for e in json.loads(out.stdout)["entries"] if e["action"] == "scale"]
    assert rows and {e["origin"] for e in rows} == {"reconciler"}
    assert {e["result"] for e in rows} == {"succeeded"}


def test_healthz_503_when_no_pass_succeeds(world, tmp_path):
    emu, kubeconfig, token, config, state = world
    # a kubeconfig whose server refuses the token: every pass fails
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text(kubeconfig.read_text().replace(token, "not-the-token"))
    config.write_text(config_text(bad, interval="1s"))
    agent = Agent(config, state, "--env", "staging", log_format="text")
    try:
        wait_for(lambda: any("listening" in line for line in agent.lines), what="the listening line")
        line = next(line for line in agent.lines if "listening" in line)
        agent.port = int(line.rsplit("port=", 1)[1].split()[0])
        wait_for(lambda: agent.health()[0] == 503, what="/healthz 503")
        status, health = agent.health()
        assert health["status"].startswith("no pass has succeeded") and health["down"] == ["staging/kubernetes"]
        assert agent.metric("envdeck_backend_up", env="staging", backend="kubernetes") == 0
        assert agent.metric("envdeck_reconcile_passes_total", env="staging", backend="kubernetes",
                            result="failed") >= 1
        assert agent.metric("envdeck_reconcile_backoff_seconds", env="staging", backend="kubernetes") > 0
        assert agent.metric("envdeck_reconcile_passes_total", env="staging", backend="kubernetes",
                            result="ok") is None
    finally:
        code = agent.stop(signal.SIGINT)
    assert code == 0, agent.stderr
    assert any("backend unreachable" in line and "env=staging" in line for line in agent.lines)
    assert not any(line.startswith("{") for line in agent.lines)  # --log-format text
    assert "not-the-token" not in "\n".join(agent.lines) and "Traceback" not in agent.stderr


def test_sighup_reloads_the_config_and_refuses_a_broken_one(world):
    emu, kubeconfig, token, config, state = world
    agent = Agent(config, state)
    try:
        agent.wait_listening()
        wait_for(lambda: agent.health()[1]["envs"] == ["staging", "quiet"], what="two environments")
        config.write_text(config_text(kubeconfig, staging=STAGING, quiet=QUIET, later=KubeEnv("staging", "observe")))
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_record(lambda r: r["msg"] == "config reloaded", "the reload")
        wait_for(lambda: agent.health()[1]["envs"] == ["staging", "quiet", "later"], what="three environments")

        config.write_text("environments: [not, a, mapping]\n")
        agent.proc.send_signal(signal.SIGHUP)
        refused = agent.wait_record(lambda r: r["msg"].startswith("config reload refused"), "the refusal")
        assert refused["level"] == "error" and refused["problems"]
        assert agent.proc.poll() is None
        assert agent.health()[1]["envs"] == ["staging", "quiet", "later"]
    finally:
        code = agent.stop()
    assert code == 0, agent.stderr


@pytest.mark.parametrize("listen", ["0.0.0.0:9464", "192.0.2.10:9464", "[::]:9464"])
def test_non_loopback_listen_is_refused(world, listen):
    _emu, _kubeconfig, _token, config, state = world
    out = envdeck("agent", "--listen", listen, "--config", str(config), "--state-dir", str(state), timeout=60)
    assert out.returncode == 2
    assert "--listen" in out.stderr and "not a loopback address" in out.stderr and "--listen-any" in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_malformed_listen_is_a_usage_error(world):
    _emu, _kubeconfig, _token, config, state = world
    out = envdeck("agent", "--listen", "localhost", "--config", str(config), "--state-dir", str(state), timeout=60)
    assert out.returncode == 2 and "expected HOST:PORT" in out.stderr and "Traceback" not in out.stderr


def test_env_glob_matching_nothing_exits_2_naming_it(world):
    _emu, _kubeconfig, _token, config, state = world
    out = envdeck("agent", "--env", "stag*", "--env", "prod-*", "--listen", "127.0.0.1:0",
                  "--config", str(config), "--state-dir", str(state), timeout=60)
    assert out.returncode == 2
    assert "'prod-*'" in out.stderr and "matches no environment" in out.stderr
    assert "Traceback" not in out.stderr


def test_sighup_keeps_the_previous_config_when_a_glob_would_match_nothing(world):
    emu, kubeconfig, token, config, state = world
    agent = Agent(config, state, "--env", "st*")
    try:
        agent.wait_listening()
        wait_for(lambda: agent.health()[1]["envs"] == ["staging"], what="staging observed")
        # a valid config, but without any environment that `st*` matches
        config.write_text(config_text(kubeconfig, prod=STAGING, quiet=QUIET))
        agent.proc.send_signal(signal.SIGHUP)
        refused = agent.wait_record(lambda r: r["msg"].startswith("config reload refused"), "the refusal")
        assert any("'st*'" in problem for problem in refused["problems"])
        wait_for(lambda: [r["envs"] for r in agent.records() if r["msg"] == "reconciling"] == [["staging"]] * 2,
                 what="the previous config reconciled again")
        wait_for(lambda: agent.health()[1]["envs"] == ["staging"], what="staging observed again")
        # and it still repairs there
        emu.patch("deployments", "staging", "web", {"spec": {"replicas": 2}})
        wait_for(lambda: emu.get("deployments", "staging", "web")["spec"]["replicas"] == 3, what="repaired")
    finally:
        code = agent.stop()
    assert code == 0, agent.stderr


def test_agent_on_the_shared_postgresql_store(world, pg_url):
    """With $ENVDECK_STATE_URL the agent's repairs land in PostgreSQL (another process reads
    them there), no SQLite file is made, and the password (from PGPASSFILE) never shows."""
    from tests.postgres_server import PG_PASSWORD
    from tui.core.store import DB_NAME

    emu, kubeconfig, token, config, state = world
    agent = Agent(config, state, "--env", "staging", env={"ENVDECK_STATE_URL": pg_url})
    try:
        agent.wait_listening()
        agent.wait_record(lambda r: r["msg"] == "repair succeeded", "the repair")
        assert emu.get("deployments", "staging", "web")["spec"]["replicas"] == 3
    finally:
        code = agent.stop()
    assert code == 0, agent.stderr
    assert PG_PASSWORD not in "\n".join(agent.lines) + agent.stderr
    assert not (state / DB_NAME).exists()
    out = envdeck_inproc("audit", "--json", "--env", "staging", "--config", str(config), "--state-dir",
                  str(state.parent / "another-state"), ENVDECK_STATE_URL=pg_url)
    assert out.returncode == 0, out.stderr
    rows = [e for e in json.loads(out.stdout)["entries"] if e["action"] == "scale"]
    assert [(e["origin"], e["result"]) for e in rows] == [("reconciler", "succeeded")] * len(rows) and rows
