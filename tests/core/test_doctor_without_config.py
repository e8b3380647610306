"""13.14: `envdeck doctor` without a config checks what it can without one (AWS credentials,
kubeconfig contexts, the SSH agent, known_hosts, the state dir), shows where a config is
looked for and suggests `envdeck demo`. Before, it printed one "no such file" line.
Real things behind it: an OpenSSH ssh-agent holding a key, the Kubernetes emulator's
kubeconfig (with a bearer token that must not be printed), an AWS credentials file."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.helpers import envdeck_env, repo_root

SECRET = "planted-aws-secret-Zq9x"
KEY_ID = "AKIAPLANTEDDOCTOR123"


def doctor(tmp_path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = envdeck_env(PYTHONPATH=str(repo_root()), HOME=str(tmp_path / "home"),
                      XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), XDG_STATE_HOME=str(tmp_path / "xdg-state"),
                      AWS_EC2_METADATA_DISABLED="true", **extra)
    for key in ("ENVDECK_CONFIG", "ENVDECK_STATE_DIR", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION",
                "KUBECONFIG", "SSH_AUTH_SOCK"):
        if key not in extra:
            env.pop(key, None)
    return subprocess.run([sys.executable, "-m", "tui.cli", "doctor", *args], capture_output=True, text=True,
                          cwd=repo_root(), env=env, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture
def agent(tmp_path):
    """A real ssh-agent on a socket of its own, holding one ed25519 key."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        key = tmp_path / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        subprocess.run(["ssh-add", "-q", str(key)], check=True, env={**os.environ, "SSH_AUTH_SOCK": str(sock)},
                       capture_output=True)
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_doctor_without_a_config_checks_what_it_can(tmp_path, agent, k8s_emulator):  # noqa: F811
    _, kubeconfig, token = k8s_emulator
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text("# trusted\n[127.0.0.1]:2222 ssh-ed25519 AAAAC3Nz\n"
                                               "gw-01 ssh-ed25519 AAAAC3Nz\n")
    creds = tmp_path / "aws-credentials"
    creds.write_text(f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n")
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[default]\nregion = eu-west-1\n")

    proc = doctor(tmp_path, AWS_SHARED_CREDENTIALS_FILE=str(creds), AWS_CONFIG_FILE=str(aws_config),
                  KUBECONFIG=str(kubeconfig), SSH_AUTH_SOCK=str(agent))
    out = proc.stdout
    assert proc.returncode == 2, out + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = out.splitlines()
    expected_config = tmp_path / "xdg-config" / "envdeck" / "envdeck.yaml"
    assert lines[0] == f"FAIL  config {expected_config}: no such file"
    assert f"$ENVDECK_CONFIG (not set), else {expected_config}" in lines[1]
    assert "ok    aws: credentials found (shared-credentials-file; profile default; eu-west-1)" in lines
    assert f"ok    kubernetes: kubeconfig {kubeconfig}: 1 context(s): emulator; current emulator" in lines
    assert f"ok    ssh: agent at {agent} holds 1 key(s)" in lines
    assert f"ok    ssh: known_hosts {home / '.ssh' / 'known_hosts'}: 2 entries" in lines
    assert f"info  state {tmp_path / 'xdg-state' / 'envdeck'}: does not exist yet (created on the first run)" in lines
    assert "envdeck demo" in lines[-1]
    for secret in (SECRET, KEY_ID, token):
        assert secret not in out and secret not in proc.stderr
    assert not (tmp_path / "xdg-state").exists(), "doctor without a config creates nothing"


def test_doctor_without_anything(tmp_path):
    given = tmp_path / "missing.yaml"
    proc = doctor(tmp_path, "--config", str(given), SSH_AUTH_SOCK=str(tmp_path / "gone.sock"),
                  AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"))
    lines = proc.stdout.splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert lines[0] == f"FAIL  config {given}: no such file"
    assert f"--config {given}, else $ENVDECK_CONFIG" in lines[1]
    assert any(line.startswith("info  aws: no credentials found") for line in lines), lines
    assert f"info  kubernetes: no kubeconfig at {tmp_path / 'home' / '.kube' / 'config'}" in lines
    assert any(line.startswith(f"WARN  ssh: agent at {tmp_path / 'gone.sock'} does not answer") for line in lines)
    assert any(line.startswith("info  ssh: no readable known_hosts") for line in lines), lines
    assert "envdeck demo" in lines[-1]
