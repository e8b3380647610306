"""`envdeck env ...` as a user meets it: the real CLI in a subprocess against the lifecycle
world (moto, the Kubernetes emulator, simulated edge nodes). Bad input is exit 2 naming the
place, never a traceback; denials are exit 3 with `denied` audit rows and nothing created;
hostile parameter values stay data. Effects are counted on the servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lifecycle.conftest import World
from tests.security.access_setup import audit_rows
from tui.core.identity import current_user
from tui.core.lifecycle.records import K8S_ENV_LABEL

HOSTILE = ["$(touch /tmp/envdeck-pwned)", "a;rm -rf /", "x\x1b]52;c;aGk=\x07", "[bold]x[/bold]", "a\nb",
           "../../etc", "' OR 1=1 --"]


def _ok(proc, what: str = "") -> None:
    assert proc.returncode == 0, (what, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def _usage(proc, *names: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    for name in names:
        assert name in proc.stderr, (name, proc.stderr)


# -- usage errors: exit 2 naming the place, before anything is done --------------------------------
@pytest.mark.parametrize("param", ["branch", "=x", "", " =1"])
def test_malformed_param_is_usage_naming_it(world: World, param):
    for verb in (["plan", "p1"], ["create", "p1"]):
        proc = world.envdeck("env", *verb, "--template", "preview", "--param", param)
        _usage(proc, "--param", "KEY=VALUE")
    assert world.counts("p1") == {"instances": 0, "security_groups": 0, "buckets": 0, "namespaces": 0,
                                  "deployments": 0}


@pytest.mark.parametrize("ttl", ["soon", "0s", "-5m", "nan", "99999999999h"])
def test_bad_ttl_is_usage_naming_it(world: World, ttl):
    proc = world.envdeck("env", "create", "p1", "--template", "preview", "--param", "branch=main", "--ttl", ttl)
    _usage(proc, "--ttl")
    assert world.buckets("p1") == []


def test_bad_extend_duration_is_usage(world: World):
    _usage(world.envdeck("env", "extend", "p1", "forever"), "DURATION")


def test_destroy_without_terminal_needs_yes(world: World):
    proc = world.envdeck("env", "destroy", "p1")
    _usage(proc, "--yes")


def test_unknown_template_and_bad_value_name_the_place(world: World):
    proc = world.envdeck("env", "plan", "p1", "--template", "nope")
    _usage(proc, "nope")
    proc = world.envdeck("env", "plan", "p1", "--template", "preview", "--param", "branch=main",
                         "--param", "replicas=11")
    _usage(proc, "replicas")
    proc = world.envdeck("env", "plan", "p1", "--template", "preview", "--param", "branch=main",
                         "--param", "colour=red")
    _usage(proc, "colour")
    proc = world.envdeck("env", "plan", "p1", "--template", "preview")
    _usage(proc, "branch")


def test_param_value_split_on_first_equals(world: World):
    """`--param branch=a=b` is the value "a=b" (refused by the pattern, naming branch), not a
    malformed option."""
    proc = world.envdeck("env", "plan", "p1", "--template", "preview", "--param", "branch=a=b")
    _usage(proc, "branch")
    assert "KEY=VALUE" not in proc.stderr


# -- plan and list -------------------------------------------------------------------------------
def test_plan_in_waves_does_nothing(world: World):
    proc = world.envdeck("env", "plan", "p1", "--template", "preview", "--param", "branch=main", "--json")
    _ok(proc)
    plan = json.loads(proc.stdout)
    assert (plan["env"], plan["template"]) == ("p1", "preview")
    ids = {s["id"] for s in plan["steps"]}
    assert {"assets", "web-sg", "web", "namespace", "Deployment/web", "Service/web", "edge"} <= ids
    wave = {step: n for n, wave in enumerate(plan["waves"]) for step in wave}
    assert wave["web-sg"] < wave["web"] and wave["assets"] < wave["web"]
    assert wave["namespace"] < wave["Deployment/web"]
    human = world.envdeck("env", "plan", "p1", "--template", "preview", "--param", "branch=main")
    _ok(human)
    assert "wave 1:" in human.stdout and "nothing was done" in human.stdout
    assert world.counts("p1") == {"instances": 0, "security_groups": 0, "buckets": 0, "namespaces": 0,
                                  "deployments": 0}
    assert world.env_rows() == {}


def test_list_empty_and_json_shape(world: World):
    proc = world.envdeck("env", "list")
    _ok(proc)
    assert "no managed environments" in proc.stdout
    proc = world.envdeck("env", "list", "--json")
    _ok(proc)
    assert json.loads(proc.stdout)["environments"] == []


# -- access: exit 3, denied rows, nothing done ---------------------------------------------------
def test_create_denied_for_non_creator(world: World):
    proc = world.envdeck("env", "create", "p1", "--template", "locked", "--param", "branch=main", "--wait")
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("envdeck: denied: ") and "Traceback" not in proc.stderr
    assert world.buckets("p1") == [] and world.tagged_arns("p1") == []
    denied = [r for r in audit_rows(world.state_dir) if r["result"] == "denied"]
    assert denied and denied[-1]["user"] == current_user() and denied[-1]["origin"] == "cli"
    assert "p1" in (denied[-1]["env"], denied[-1]["target"]), denied[-1]
    assert "p1" not in world.env_rows()


@pytest.mark.parametrize("verb", [["destroy", "--yes", "--wait"], ["sleep", "--wait"], ["wake", "--wait"],
                                  ["extend", "30m"]], ids=["destroy", "sleep", "wake", "extend"])
def test_verbs_need_admin_of_the_environment(world: World, verb):
    """The creator of a `viewer-only` environment may create it but not destroy, sleep, wake or
    extend it: exit 3, a denied row, the bucket untouched."""
    _ok(world.envdeck("env", "create", "v1", "--template", "viewer-only", "--param", "branch=main", "--wait"))
    assert len(world.buckets("v1")) == 1
    before = world.env_rows()["v1"]
    name, *rest = verb
    args = ["env", name, "v1", *rest] if name != "extend" else ["env", "extend", "v1", *rest]
    proc = world.envdeck(*args)
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("envdeck: denied: ") and "Traceback" not in proc.stderr
    denied = [r for r in audit_rows(world.state_dir) if r["result"] == "denied"]
    assert denied and denied[-1]["user"] == current_user(), denied
    assert len(world.buckets("v1")) == 1
    after = world.env_rows()["v1"]
    assert (after["state"], after["expires_at"]) == (before["state"], before["expires_at"])


def test_read_only_denies_create(world: World):
    proc = world.envdeck("env", "create", "p1", "--template", "preview", "--param", "branch=main", "--read-only")
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert "read-only" in proc.stderr
    assert world.tagged_arns("p1") == [] and world.namespaces("p1") == []


# -- hostile parameter values stay data ----------------------------------------------------------
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_refused_by_pattern_without_effect(world: World, value, tmp_path):
    proc = world.envdeck("env", "create", "p1", "--template", "preview", "--param", f"branch={value}", "--wait")
    _usage(proc, "branch")
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr, "outside text is shown sanitised"
    assert world.tagged_arns("p1") == [] and world.namespaces("p1") == []
    assert world.nodes_running() == []


def test_hostile_environment_name_refused(world: World):
    for name in ("P1", "a b", "../x", "x" * 64, "$(id)", "a\x1b[31m"):
        proc = world.envdeck("env", "plan", name, "--template", "preview", "--param", "branch=main")
        assert proc.returncode == 2, (name, proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr and "\x1b" not in proc.stderr


# -- destroy on a terminal: the typed name ---------------------------------------------------------
def test_destroy_on_terminal_asks_for_the_typed_name(world: World):
    from tests.helpers import repo_root
    from tests.terminal import TerminalSession

    # handed over, not carried out: the environment is only planned (nothing to wait for)
    _ok(world.envdeck("env", "create", "t2", "--template", "stuck", "--param", "branch=main"))
    with TerminalSession(world.argv("env", "destroy", "t2"), env=world.cli_env(), cwd=repo_root()) as term:
        term.expect_text("Type its name to confirm")
        term.send(b"t3\r")  # the wrong name
        assert term.wait_exit() == 1
    assert "not confirmed" in term.out.decode(errors="replace")
    assert world.stored_state("t2") == "planned", "nothing was requested"
    with TerminalSession(world.argv("env", "destroy", "t2"), env=world.cli_env(), cwd=repo_root()) as term:
        term.expect_text("Type its name to confirm")
        term.send(b"t2\r")
        assert term.wait_exit() == 0, term.out.decode(errors="replace")
    row = world.env_rows().get("t2")
    assert row is None or row["operation"] == "destroy" or row["state"] in ("destroying", "destroyed"), row
    rows = [r for r in audit_rows(world.state_dir) if r["env"] == "t2" and "destroy" in r["action"]]
    assert rows and rows[-1]["result"] != "denied", rows


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_free_text_stays_one_string(world: World, value):
    """A parameter without a pattern reaches the server as the exact string, in one field
    (no YAML, no shell, no second object), and terminals see it escaped."""
    marker = Path("/tmp/envdeck-pwned")
    marker.unlink(missing_ok=True)
    proc = world.envdeck("env", "create", "n1", "--template", "note", "--param", f"note={value}", "--wait")
    _ok(proc, "create")
    [ns] = world.namespaces("n1")
    cm = world.k8s.emu.get("configmaps", ns, "note")
    assert cm["data"] == {"note": value, "greeting": f"hello {value}"}
    assert cm["metadata"]["annotations"]["envdeck.example/note"] == value
    assert [o["metadata"]["name"] for o in world.k8s.emu.list("configmaps", ns, f"{K8S_ENV_LABEL}=n1")] == ["note"]
    assert not marker.exists(), "a parameter value is never run"
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    listed = world.envdeck("env", "list", "--json")
    _ok(listed)
    assert "\x1b" not in listed.stdout
    [row] = [r for r in json.loads(listed.stdout)["environments"] if r["name"] == "n1"]
    assert row["parameters"]["note"] == value, "JSON keeps the exact value (escaped, not executed)"
    _ok(world.envdeck("env", "destroy", "n1", "--yes", "--wait"))
    assert world.namespaces("n1") == []


def test_ctrl_c_during_wait_then_the_same_command_resumes(world: World):
    from tests.helpers import repo_root
    from tests.terminal import TerminalSession

    # The Deployment's image cannot be pulled until the test releases it (the emulator keeps
    # its pods in ImagePullBackOff, within a long step timeout): the create cannot finish
    # before Ctrl-C arrives, however loaded the machine is.
    image = "registry.example/web:main"
    config = world.config()
    config["templates"]["preview"]["kubernetes"]["timeout"] = "10m"
    world.write_config(config)
    world.k8s.emu.unpullable_images.add(image)
    args = ("env", "create", "c1", "--template", "preview", "--param", "branch=main", "--wait")
    with TerminalSession(world.argv(*args), env=world.cli_env(), cwd=repo_root()) as term:
        term.expect_text("c1: assets creating")
        term.send(b"\x03")
        assert term.wait_exit() == 130, term.out.decode(errors="replace")
    assert "interrupted" in term.out.decode(errors="replace")
    assert world.stored_state("c1") not in (None, "ready"), "interrupted while in progress"
    # released: new pods pull the image, those already held start
    world.k8s.emu.unpullable_images.discard(image)
    for pod in world.k8s.emu.pod_names("c1"):
        world.k8s.emu.inject_fault("c1", pod, None, event=False)
    _ok(world.envdeck_process(*args), "the same command resumes")
    assert world.counts("c1") == {"instances": 1, "security_groups": 1, "buckets": 1, "namespaces": 1,
                                  "deployments": 1}
    assert world.env_rows()["c1"]["state"] == "ready"
