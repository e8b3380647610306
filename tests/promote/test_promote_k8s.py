"""envdeck promote on the Kubernetes API emulator: the real CLI in a subprocess, every effect
counted on the emulator (its objects and its request log), never through envdeck's store.

staging runs api:2.0 and web:2.0, prod api:1.0 and web:1.0: the plan is two waves (api, then
web, by role); prod declares web's image in its desired state and repairs `auto`, so a
promotion that was not kept as prod's desired state would be undone by `reconcile`."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.promote.conftest import Pair

PROD_DESIRED = """      desired:
        - {kind: Deployment, name: web, image: "web:1.0"}"""


def _seed(pair: Pair, *, staging_web: str = "web:2.0") -> None:
    for ns, api, web in ((pair.s, "api:2.0", staging_web), (pair.p, "api:1.0", "web:1.0")):
        pair.emu.create_deployment(ns, "api", replicas=2, image=api)
        pair.emu.create_deployment(ns, "web", replicas=2, image=web)
    pair.config(prod_desired=PROD_DESIRED)


def _patches(pair: Pair) -> dict[str, int]:
    out: dict[str, int] = {}
    for path in pair.requests("PATCH", pair.p):
        name = path.split("?")[0].rsplit("/", 1)[-1]
        out[name] = out.get(name, 0) + 1
    return out


def test_plan_lists_the_changes_in_waves_and_does_nothing(pair: Pair):
    _seed(pair)
    out = pair.envdeck("promote", "staging", "prod", "--plan", "--json")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert [(c["wave"], c["component"], c["from"], c["to"]) for c in plan["changes"]] == [
        (1, "kubernetes/Deployment/api", {"api": "api:1.0"}, {"api": "api:2.0"}),
        (2, "kubernetes/Deployment/web", {"web": "web:1.0"}, {"web": "web:2.0"})]
    text = pair.envdeck("promote", "staging", "prod", "--plan", "--component", "web")
    assert text.returncode == 0, text.stderr
    assert "wave 1: kubernetes/Deployment/web" in text.stdout and "api" not in text.stdout
    unknown = pair.envdeck("promote", "staging", "prod", "--plan", "--component", "nosuch")
    assert unknown.returncode == 2 and "--component nosuch" in unknown.stderr
    assert _patches(pair) == {} and pair.images(pair.p) == {"api": "api:1.0", "web": "web:1.0"}


def test_versions_matrix_marks_what_differs(pair: Pair):
    _seed(pair)
    pair.emu.create_deployment(pair.s, "same", replicas=1, image="same:1")
    pair.emu.create_deployment(pair.p, "same", replicas=1, image="same:1")
    out = pair.envdeck("versions", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["environments"] == ["staging", "prod"]
    rows = {r["component"]: r for r in data["components"]}
    assert rows["kubernetes/Deployment/web"]["differs"] is True
    assert rows["kubernetes/Deployment/web"]["versions"]["prod"]["version"] == "web:1.0"
    assert rows["kubernetes/Deployment/same"]["differs"] is False
    text = pair.envdeck("versions", "staging", "prod")
    assert text.returncode == 0, text.stderr
    line = next(x for x in text.stdout.splitlines() if "Deployment/web" in x)
    assert line.startswith("≠") and "web:2.0" in line and "web:1.0" in line
    # prod's cluster unreachable: staging's versions still shown, prod's column empty, exit 1 naming it
    pair.config()
    dead = pair.tmp / "dead-kubeconfig"
    dead.write_text(pair.kubeconfig.read_text().replace(pair.emu.url, "http://127.0.0.1:9"))
    (pair.tmp / "envdeck.yaml").write_text((pair.tmp / "envdeck.yaml").read_text().replace(
        f'kubeconfig: "{pair.kubeconfig}"\n      context: emulator\n      namespace: {pair.p}',
        f'kubeconfig: "{dead}"\n      context: emulator\n      namespace: {pair.p}'))
    down = pair.envdeck("versions", "--json")
    assert down.returncode == 1 and "prod/kubernetes is unreachable" in down.stderr, down.stderr
    data = json.loads(down.stdout)
    assert list(data["unreachable"]) == ["prod/kubernetes"]
    web = next(r for r in data["components"] if r["component"] == "kubernetes/Deployment/web")
    assert web["versions"]["staging"]["version"] == "web:2.0" and web["versions"]["prod"] is None


def test_apply_promotes_in_waves_and_the_reconciler_keeps_it(pair: Pair):
    _seed(pair)
    out = pair.envdeck("promote", "staging", "prod", "--apply", "--yes", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["state"] == "succeeded" and result["id"] and result["waves_done"] == 2
    assert pair.images(pair.p) == {"api": "api:2.0", "web": "web:2.0"}      # server side
    assert _patches(pair) == {"api": 1, "web": 1}
    # prod is `auto` and its config declares web:1.0: the overlay keeps web:2.0 desired
    again = pair.envdeck("reconcile", "--once", "--env", "prod")
    assert again.returncode == 0, again.stderr
    assert pair.images(pair.p)["web"] == "web:2.0"
    assert _patches(pair) == {"api": 1, "web": 1}, "the overlay {web: web:2.0} is in sync with the config's str form"
    rows = [r for r in pair.audit() if r["action"].startswith("promote")]
    assert {r["action"] for r in rows} >= {"promote", "promote.step", "promote.wave"}
    assert all(result["id"] in json.dumps(r["params"]) for r in rows)
    desired = pair.envdeck("desired", "prod", "--json")
    assert "web:2.0" in desired.stdout, desired.stdout


def test_second_wave_never_healthy_stops_partly_promoted_then_rollback(pair: Pair):
    _seed(pair, staging_web="registry.invalid/web:3.0")     # the emulator never pulls *.invalid
    out = pair.envdeck("promote", "staging", "prod", "--apply", "--yes", "--json", "--timeout", "3s")
    assert out.returncode == 1, out.stderr
    result = json.loads(out.stdout)
    assert result["state"] == "failed" and result["waves_done"] == 1
    assert result["failed"]["component"] == "kubernetes/Deployment/web"
    assert "not healthy after 3s" in result["reason"] and "ImagePullBackOff" in result["reason"]
    assert ("prod is partly promoted: kubernetes/Deployment/api, kubernetes/Deployment/web changed "
            "(kubernetes/Deployment/web not healthy)") in out.stderr
    assert result["healthy"] == ["kubernetes/Deployment/api"]
    assert pair.images(pair.p) == {"api": "api:2.0", "web": "registry.invalid/web:3.0"}
    # the rollback: reverse waves, previous versions, the overlays as before (none)
    back = pair.envdeck("promote", "--rollback", result["id"], "--yes", "--json")
    assert back.returncode == 0, back.stderr
    rolled = json.loads(back.stdout)
    assert rolled["state"] == "succeeded" and rolled["rollback_of"] == result["id"]
    assert [c["resource"] for c in rolled["plan"]["changes"]] == ["kubernetes/Deployment/web",
                                                                  "kubernetes/Deployment/api"]
    assert pair.images(pair.p) == {"api": "api:1.0", "web": "web:1.0"}
    desired = json.loads(pair.envdeck("desired", "prod", "--json").stdout)
    assert "web:3.0" not in json.dumps(desired) and "api:2.0" not in json.dumps(desired)
    assert (f"rollback of promotion {result['id']} (staging → prod) succeeded: prod back to its previous "
            "versions") in back.stderr, back.stderr
    twice = pair.envdeck("promote", "--rollback", result["id"], "--yes")
    assert twice.returncode == 2 and "rolled back already" in twice.stderr
    for verb in ("--rollback", "--resume"):
        unknown = pair.envdeck("promote", verb, "nosuch", "--yes")
        assert unknown.returncode == 2 and "no promotion nosuch" in unknown.stderr, unknown.stderr
        assert "Traceback" not in unknown.stderr
    listed = json.loads(pair.envdeck("promote", "--list", "--json").stdout)["promotions"]
    assert [(p["id"], p["state"]) for p in listed] == [(rolled["id"], "succeeded"), (result["id"], "rolled-back")]


@pytest.mark.parametrize("args", [("promote", "staging", "{env}", "--plan"), ("promote", "{env}", "prod", "--apply",
                                                                          "--yes"), ("versions", "staging", "{env}")])
def test_hidden_and_unknown_environments_are_refused_alike(pair: Pair, args):
    _seed(pair)
    pair.config(prod_desired="""  secret:
    access: {admin: [nobody-here]}
    kubernetes: {kubeconfig: "/nonexistent", namespace: secret}""")
    answers = {}
    for env in ("secret", "nope"):
        out = pair.envdeck(*(a.format(env=env) for a in args))
        assert out.returncode == 3 and out.stdout == "", (out.returncode, out.stdout, out.stderr)
        answers[env] = out.stderr
        rows = [(r["action"], r["result"]) for r in pair.audit_rows() if r["env"] == env]
        assert rows == [("access", "denied")], "the attempt is audited once"
    assert answers["nope"] == "envdeck: denied: no environment 'nope' that you can see\n"
    assert answers["secret"] == answers["nope"].replace("'nope'", "'secret'")
    assert _patches(pair) == {}


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_a_viewer_or_operator_of_prod_is_refused_before_any_backend_call(pair: Pair, role: str):
    _seed(pair)
    pair.config(prod_access=f"    access: {{{role}: ['*'], admin: [nobody-here]}}")
    before = len(pair.emu.request_log)
    out = pair.envdeck("promote", "staging", "prod", "--apply", "--yes")
    assert out.returncode == 3, out.stderr
    assert "admin" in out.stderr
    assert len(pair.emu.request_log) == before          # not one request reached the emulator
    denied = [r for r in pair.audit() if r["action"] == "promote"]
    assert denied and denied[0]["result"] == "denied"


@pytest.mark.parametrize("resumer", ["resume", "reconcile"])
def test_sigkill_mid_promotion_resumes_without_repeating_a_finished_wave(pair: Pair, resumer: str):
    _seed(pair, staging_web="web:2.1")
    unpullable = pair.emu.unpullable_images
    unpullable.add("web:2.1")      # wave 2 cannot turn healthy yet: the kill lands in it, whatever the load
    try:
        proc = pair.popen("promote", "staging", "prod", "--apply", "--yes")
        deadline = time.monotonic() + 90
        while _patches(pair).get("web", 0) < 1:       # wave 1 healthy, wave 2 asked of the server
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        _out, err = proc.communicate()
        promotion_id = next(line.split()[0] for line in err.splitlines() if " wave " in line)
        assert _patches(pair) == {"api": 1, "web": 1}
        busy = pair.envdeck_process("promote", "staging", "prod", "--apply", "--yes")
        assert busy.returncode == 2 and f"--resume {promotion_id}" in busy.stderr, (busy.stderr, err)
        listed = json.loads(pair.envdeck("promote", "--list", "--json").stdout)["promotions"]
        assert [(p["id"], p["state"], p["waves_done"]) for p in listed] == [(promotion_id, "running", 1)]
        # the image can be pulled now: its pods are made again by their ReplicaSet (not a PATCH)
        unpullable.discard("web:2.1")
        for pod in pair.emu.list("pods", pair.p):
            if pod["spec"]["containers"][0]["image"] == "web:2.1":
                pair.emu.delete("pods", pair.p, pod["metadata"]["name"])
        if resumer == "resume":
            resumed = pair.envdeck_process("promote", "--resume", promotion_id, "--json")
            assert resumed.returncode == 0, resumed.stderr
            assert json.loads(resumed.stdout)["state"] == "succeeded"
        else:    # prod repairs `auto` and declares web:1.0: the overlay set before the patch keeps web:2.1
            resumed = pair.envdeck_process("reconcile", "--once", "--env", "prod")
            assert resumed.returncode == 0, resumed.stderr
            assert f"promotion {promotion_id} of staging → prod succeeded" in resumed.stderr
    finally:
        unpullable.discard("web:2.1")
    assert _patches(pair) == {"api": 1, "web": 1}        # neither wave asked again
    assert pair.images(pair.p) == {"api": "api:2.0", "web": "web:2.1"}
