"""`envdeck status --json` against the AWS backend: a killed endpoint makes the backend
`reachable: false` with a clear, secret-free error, and the last snapshot stays visible."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from backends.sim.aws_demo_seed import seed_demo
from tests.helpers import envdeck_env, repo_root
from tests.moto_server import free_port, start_threaded

SECRET = "cli-secret-value-never-shown-0123456789"


def status(config, state_dir) -> tuple[int, dict, str]:
    env = envdeck_env(PYTHONPATH=str(repo_root()), AWS_SECRET_ACCESS_KEY=SECRET)
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "status", "--json", "--config", str(config),
                           "--state-dir", str(state_dir)], capture_output=True, text=True, env=env, timeout=180,
                          cwd=repo_root())
    assert SECRET not in proc.stdout and SECRET not in proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


@pytest.mark.slow
def test_status_reports_unreachable_and_keeps_the_last_snapshot(moto_url, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_threaded(port)
    try:
        seed_demo(url, envs=("staging",))
        config = tmp_path / "envdeck.yaml"
        config.write_text(yaml.safe_dump({"defaults": {"timeout": "2s"}, "environments": {"staging": {"aws": {
            "region": "us-east-1", "endpoint_url": url, "tags": {"env": "staging"}}}}}))

        code, report, stderr = status(config, tmp_path / "state")
        assert code == 0, stderr
        [env] = report["environments"]
        assert env["backends"]["aws"]["reachable"] is True
        seen = {r["id"] for r in env["resources"]}
        assert any(rid.startswith("aws/ec2-instance/") for rid in seen)
        good_at = env["backends"]["aws"]["observed_at"]

        server.stop()
        code, report, stderr = status(config, tmp_path / "state")
        assert code == 1
        [env] = report["environments"]
        aws = env["backends"]["aws"]
        assert aws["reachable"] is False
        assert "endpoint unreachable" in aws["error"] and f"127.0.0.1:{port}" in aws["error"]
        assert aws["observed_at"] == good_at  # the age of the last good observation
        assert {r["id"] for r in env["resources"]} == seen
        assert env["health"] == "Unknown"
    finally:
        server.stop()
