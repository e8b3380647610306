"""`envdeck act` against the desired state of an `auto` environment (its main() in this
process; on a terminal, a subprocess with a pty) against the Kubernetes emulator: without a
terminal it needs --set-desired or --hold-repair (exit 2, nothing done); with one, `envdeck
reconcile` no longer undoes the action. `envdeck desired` lists and drops overlays. Effects
are counted on the server (PATCH requests, replicas)."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import sys

from tests.desired_web import WEB, desired_web_yaml, patches, replicas
from tests.helpers import envdeck_env, repo_root
from tests.kubernetes.support import NS
from tests.kubernetes.test_cli_reconcile import envdeck


def setup(emulator, kubeconfig, tmp_path) -> list[str]:
    emulator.create_deployment(NS, "web", replicas=3)
    config = tmp_path / "envdeck.yaml"
    config.write_text(desired_web_yaml(kubeconfig, NS, context=None))
    return ["--config", str(config), "--state-dir", str(tmp_path / "state")]


async def test_act_against_desired_state_without_a_terminal_needs_a_flag(emulator, kubeconfig, tmp_path):
    common = setup(emulator, kubeconfig, tmp_path)
    code, out, err = await envdeck("act", "prod", WEB, "scale", "--param", "replicas=5", "--yes", *common)
    assert code == 2, err
    assert "--set-desired" in err and "--hold-repair" in err and "replicas" in err
    assert "Traceback" not in err
    assert replicas(emulator, NS) == 3 and patches(emulator, NS) == 0
    # agreeing with the desired state needs nothing
    code, out, err = await envdeck("act", "prod", WEB, "scale", "--param", "replicas=3", "--yes", *common)
    assert code == 0, err
    # both flags at once: a usage error, nothing done
    code, out, err = await envdeck("act", "prod", WEB, "scale", "--param", "replicas=5", "--yes", "--set-desired",
                                   "--hold-repair", "30m", *common)
    assert code == 2 and "exclude each other" in err
    code, out, err = await envdeck("act", "prod", WEB, "scale", "--param", "replicas=5", "--yes",
                                   "--hold-repair", "soon", *common)
    assert code == 2 and "--hold-repair" in err and "Traceback" not in err
    assert replicas(emulator, NS) == 3


async def test_set_desired_survives_reconcile_and_can_be_dropped(emulator, kubeconfig, tmp_path):
    common = setup(emulator, kubeconfig, tmp_path)
    code, out, err = await envdeck("act", "prod", WEB, "scale", "--param", "replicas=5", "--yes", "--set-desired",
                                   "--json", *common)
    assert code == 0, err
    assert json.loads(out)["desired"] == "set-desired"
    assert replicas(emulator, NS) == 5 and patches(emulator, NS) == 1

    code, out, err = await envdeck("reconcile", "--once", "--json", *common)
    [env] = json.loads(out)["environments"]
    assert env["drifts"] == [] and env["repairs"] == []
    [overlay] = env["desired_overlays"]
    assert (overlay["resource"], overlay["field"], overlay["value"]) == (WEB, "replicas", 5)
    assert replicas(emulator, NS) == 5 and patches(emulator, NS) == 1

    code, out, err = await envdeck("status", "--json", *common)
    [env] = json.loads(out)["environments"]
    assert [(o["resource"], o["value"], o["reason"]) for o in env["desired_overlays"]] == [
        (WEB, 5, "scale replicas=5")]
    assert env["drifts"] == []

    code, out, err = await envdeck("desired", "prod", "--json", *common)
    assert code == 0, err
    assert [o["value"] for o in json.loads(out)["desired_overlays"]] == [5]
    code, out, err = await envdeck("audit", "--json", *common)
    actions = [e["action"] for e in json.loads(out)["entries"]]
    assert "set-desired" in actions

    code, out, err = await envdeck("desired", "prod", "--clear", WEB, *common)
    assert code == 0, err
    code, out, err = await envdeck("reconcile", "--once", "--json", *common)
    [env] = json.loads(out)["environments"]
    assert env["desired_overlays"] == []
    assert replicas(emulator, NS) == 3 and patches(emulator, NS) == 2  # the config's 3 is repaired again
    code, out, err = await envdeck("desired", "prod", "--clear", WEB, *common)
    assert code == 1 and "no desired-state overlay" in err


async def test_hold_repair_keeps_the_action_and_reports_the_drift(emulator, kubeconfig, tmp_path):
    common = setup(emulator, kubeconfig, tmp_path)
    code, out, err = await envdeck("act", "prod", WEB, "scale", "--param", "replicas=5", "--yes",
                                   "--hold-repair", "30m", *common)
    assert code == 0, err
    assert "held" in out
    code, out, err = await envdeck("reconcile", "--once", "--json", *common)
    [env] = json.loads(out)["environments"]
    assert [(d["resource"], d["desired"], d["actual"]) for d in env["drifts"]] == [(WEB, 3, 5)]
    assert env["repairs"] == []
    assert [h["resource"] for h in env["repair_holds"]] == [WEB]
    assert replicas(emulator, NS) == 5 and patches(emulator, NS) == 1


async def _act_on_a_terminal(common, answer: str) -> tuple[int, str, str]:
    master, slave = pty.openpty()
    try:
        os.write(master, answer.encode() + b"\n")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui.cli", "act", "prod", WEB, "scale", "--param", "replicas=5", "--yes", *common,
            cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root())), stdin=slave,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 180)
    finally:
        os.close(slave)
        os.close(master)
    return proc.returncode, out.decode(), err.decode()


async def test_act_on_a_terminal_asks(emulator, kubeconfig, tmp_path):
    common = setup(emulator, kubeconfig, tmp_path)
    code, out, err = await _act_on_a_terminal(common, "c")
    assert code == 1 and "contradicts the desired state" in err and "nothing was done" in err
    assert replicas(emulator, NS) == 3 and patches(emulator, NS) == 0
    code, out, err = await _act_on_a_terminal(common, "d")
    assert code == 0, err
    assert "kept as the desired state" in out
    assert replicas(emulator, NS) == 5 and patches(emulator, NS) == 1
