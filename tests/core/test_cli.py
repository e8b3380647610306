"""The CLI (its main() in this process, tests/helpers.py envdeck_inproc): exit codes, JSON shapes,
clean errors."""

from __future__ import annotations

import json

from tests.helpers import envdeck_inproc
from tui.core.model import Origin


def envdeck(*args, timeout=120):
    """The CLI's main() in this process: the same exit code, stdout and stderr as a subprocess."""
    return envdeck_inproc(*args, timeout=timeout)


def test_check_good_config(tmp_path):
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text("environments:\n  staging:\n    repair: auto\n    kubernetes: {namespace: staging}\n")
    proc = envdeck("check", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("staging: repair=auto; kubernetes ns staging")


def test_check_bad_config_exit_2_with_positions(tmp_path):
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text("environments:\n  staging:\n    repair: sometimes\n")
    proc = envdeck("check", "--config", str(cfg))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{cfg}:3:5: environments.staging.repair:")
    assert "Traceback" not in proc.stderr


def test_config_from_environment_variable(tmp_path):
    cfg = tmp_path / "e.yaml"
    cfg.write_text("environments:\n  dev: {}\n")
    proc = envdeck_inproc("check", ENVDECK_CONFIG=str(cfg))
    assert proc.returncode == 0 and proc.stdout.startswith("dev:")


def test_missing_config_is_a_clear_error(tmp_path):
    proc = envdeck("status", "--config", str(tmp_path / "none.yaml"))
    assert proc.returncode == 2 and "no such file" in proc.stderr and "Traceback" not in proc.stderr


def test_world_writable_config_is_reported(tmp_path):
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text("environments:\n  dev: {}\n")
    cfg.chmod(0o666)
    proc = envdeck("check", "--config", str(cfg))
    assert proc.returncode == 0 and "world-writable" in proc.stderr


def test_audit_json_shape_and_state_dir(tmp_path):
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text("environments:\n  dev: {}\n")
    proc = envdeck("audit", "--json", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"entries": []}
    assert (tmp_path / "state" / "envdeck.db").exists()
    assert (tmp_path / "state" / "envdeck.log").exists()


def test_unknown_and_hidden_environments_are_refused_alike(tmp_path):
    """An unknown name and an environment without a role: exit 3, the same words, so
    that names cannot be probed."""
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text("environments:\n  dev: {}\n  prod:\n    access: {admin: [somebody-else]}\n")
    unknown = envdeck("status", "--env", "nope", "--config", str(cfg), "--state-dir", str(tmp_path / "s"))
    hidden = envdeck("status", "--env", "prod", "--config", str(cfg), "--state-dir", str(tmp_path / "s"))
    assert unknown.returncode == hidden.returncode == 3
    assert unknown.stderr == "envdeck: denied: no environment 'nope' that you can see\n"
    assert hidden.stderr == unknown.stderr.replace("'nope'", "'prod'")


def test_bad_param_syntax_is_a_usage_error(tmp_path):
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text("environments:\n  dev: {}\n")
    proc = envdeck("act", "dev", "aws/x/y", "restart", "--param", "novalue", "--config", str(cfg),
                   "--state-dir", str(tmp_path / "s"))
    assert proc.returncode == 2 and "KEY=VALUE" in proc.stderr


def test_usage_errors_exit_2():
    proc = envdeck("status", "--bogus")
    assert proc.returncode == 2


def test_status_with_no_backends_is_healthy_json(tmp_path):
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text("environments:\n  dev: {description: Dev}\n")
    proc = envdeck("status", "--json", "--config", str(cfg), "--state-dir", str(tmp_path / "s"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"generated_at", "environments"}
    [env] = data["environments"]
    assert {"name", "health", "drift", "repair", "backends", "resources", "faults", "drifts"} <= set(env)
    assert (env["name"], env["health"], env["drift"], env["repair"]) == ("dev", "Healthy", None, "propose")


def test_check_and_doctor_show_only_the_environments_the_user_can_see(tmp_path):
    """An environment where the user has no role is not named by `check` (a count only)
    nor counted by `doctor`, as every other verb hides it."""
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text("environments:\n  dev: {}\n  prod-secret-name:\n    access: {admin: [somebody-else]}\n")
    cfg.chmod(0o600)
    check = envdeck("check", "--config", str(cfg))
    assert check.returncode == 0, check.stderr
    assert "prod-secret-name" not in check.stdout + check.stderr
    assert check.stdout.splitlines() == ["dev: repair=propose; no backends",
                                         "1 more environment(s) defined where you have no role"]
    doctor = envdeck("doctor", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert "prod-secret-name" not in doctor.stdout + doctor.stderr
    assert f"ok    config {cfg}: 1 environment(s)" in doctor.stdout.splitlines(), doctor.stdout


def test_the_demo_cli_environment_is_the_tuis_own_state(tmp_path):
    """The demo's printed CLI environment (demo.env) points at the TUI's state directory
    (`state` next to the config, or the demo's --state-dir): what the TUI did (here a pause,
    audited) is what the CLI sees, not a separate store."""
    import asyncio
    import shlex

    from backends.registry import create_backends
    from tui.cli.demo import write_env_file
    from tui.core.config import load_config
    from tui.core.session import Session

    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text("environments:\n  dev: {}\n")
    cfg.chmod(0o600)
    for state, env_file in ((tmp_path / "state", lambda: write_env_file(cfg)),  # the demo's default
                            (tmp_path / "given", lambda: write_env_file(cfg, tmp_path / "given"))):  # --state-dir
        exported = dict(shlex.split(line)[1].split("=", 1) for line in env_file().read_text().splitlines())

        async def tui_pauses(state=state) -> None:
            session = await Session.open(load_config(cfg), state, origin=Origin.TUI, backends_factory=create_backends)
            try:
                await session.set_paused("dev", True)
            finally:
                await session.close()

        asyncio.run(tui_pauses())
        proc = envdeck_inproc("audit", "--json", **exported)
        assert proc.returncode == 0, proc.stderr
        assert [(e["action"], e["origin"]) for e in json.loads(proc.stdout)["entries"]] == [("pause", "tui")]


def test_demo_env_file_points_kubectl_at_the_emulator(tmp_path):
    """`. demo.env` then `kubectl -n staging …` reaches the demo's emulator (KUBECONFIG exported)."""
    import shlex

    from tui.cli.demo import write_env_file

    cfg = tmp_path / "envdeck.yaml"
    kubeconfig = tmp_path / "servers" / "kubeconfig staging"
    exported = dict(shlex.split(line)[1].split("=", 1)
                    for line in write_env_file(cfg, kubeconfig=kubeconfig).read_text().splitlines())
    assert exported["KUBECONFIG"] == str(kubeconfig)
    assert exported["ENVDECK_CONFIG"] == str(cfg)
