"""`envdeck_inproc` (tests/helpers.py) against the real CLI in a subprocess: the same calls give
the same exit code, stdout and stderr, and the process-global state the CLI touches is put back."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import NotForInProcess, envdeck, envdeck_inproc
from tui.core import redaction

# Volatile values of a JSON document: times, backoff jitter, audit row numbers
VOLATILE = {"at", "finished_at", "generated_at", "observed_at", "last_pass", "next_pass", "backoff_s", "id"}


def _stable(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: ("*" if k in VOLATILE else _stable(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_stable(v) for v in data]
    return data


def _config(tmp_path: Path, text: str, name: str = "envdeck.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o600)
    return path


GOOD = ("environments:\n  dev:\n    repair: auto\n    kubernetes: {namespace: dev, kubeconfig: /nonexistent/kc}\n"
        "audit:\n  redact: ['hunter[0-9]+']\n")


def _both(tmp_path: Path, *args: str, **env: str):
    """The same call as a subprocess and in process, each with a state directory of its own."""
    sub = envdeck(*args, "--state-dir", str(tmp_path / "sub-state"), **env)
    inp = envdeck_inproc(*args, "--state-dir", str(tmp_path / "inproc-state"), **env)
    return sub, inp


@pytest.mark.parametrize("args", [
    ("check",),                                     # success, a line per environment
    ("act", "dev", "kubernetes/Deployment/dev/web", "restart", "--yes", "--read-only"),  # a denial: exit 3
    ("act", "dev", "kubernetes/Deployment/dev/web", "restart"),   # --yes missing without a terminal: exit 2
    ("act", "dev"),                                 # argparse usage error: exit 2 and the usage
    ("no-such-verb",),                              # argparse: invalid choice
    ("--version",),
])
def test_same_result_as_a_subprocess(tmp_path, args):
    cfg = _config(tmp_path, GOOD)
    sub, inp = _both(tmp_path, *args, ENVDECK_CONFIG=str(cfg))
    assert (inp.returncode, inp.stdout, inp.stderr) == (sub.returncode, sub.stdout, sub.stderr)
    assert inp.args[1:len(args) + 1] == list(args)


def test_denial_code_and_audit_row_match(tmp_path):
    cfg = _config(tmp_path, GOOD)
    act = ("act", "dev", "kubernetes/Deployment/dev/web", "restart", "--yes", "--read-only", "--config", str(cfg))
    sub, inp = _both(tmp_path, *act)
    assert sub.returncode == inp.returncode == 3 and "denied" in inp.stderr
    sub, inp = _both(tmp_path, "audit", "--json", "--config", str(cfg))
    assert sub.returncode == inp.returncode == 0, inp.stderr
    assert _stable(json.loads(inp.stdout)) == _stable(json.loads(sub.stdout))
    assert [e["result"] for e in json.loads(inp.stdout)["entries"]] == ["denied"]


def test_errors_match_bad_config_missing_config_unreachable_backend(tmp_path):
    bad = _config(tmp_path, "environments:\n  staging:\n    repair: sometimes\n", "bad.yaml")
    sub, inp = _both(tmp_path, "check", "--config", str(bad))
    assert (inp.returncode, inp.stdout, inp.stderr) == (sub.returncode, sub.stdout, sub.stderr)
    assert inp.returncode == 2 and inp.stderr.startswith(f"{bad}:3:5:")
    sub, inp = _both(tmp_path, "status", "--config", str(tmp_path / "none.yaml"))
    assert (inp.returncode, inp.stdout, inp.stderr) == (sub.returncode, sub.stdout, sub.stderr)
    assert inp.returncode == 2 and "no such file" in inp.stderr
    cfg = _config(tmp_path, GOOD)
    sub, inp = _both(tmp_path, "status", "--json", "--config", str(cfg))
    assert sub.returncode == inp.returncode == 1
    assert _stable(json.loads(inp.stdout)) == _stable(json.loads(sub.stdout))
    assert inp.stderr == sub.stderr


def test_world_writable_config_warning_on_stderr(tmp_path):
    cfg = _config(tmp_path, GOOD)
    cfg.chmod(0o666)
    sub, inp = _both(tmp_path, "check", "--config", str(cfg))
    assert (inp.returncode, inp.stdout, inp.stderr) == (sub.returncode, sub.stdout, sub.stderr)
    assert "world-writable" in inp.stderr


def _logger_state() -> list[tuple]:
    names = ("", "envdeck", "botocore", "boto3", "urllib3", "asyncssh", "kubernetes", "aiohttp")
    return [(n, tuple(logging.getLogger(n).handlers), logging.getLogger(n).level, logging.getLogger(n).propagate)
            for n in names]


def test_process_state_is_put_back(tmp_path):
    cfg = _config(tmp_path, GOOD)
    before_env, before_cwd, before_logs = dict(os.environ), os.getcwd(), _logger_state()
    before_redact = redaction._extra
    assert "ENVDECK_INPROC_PROBE" not in os.environ
    proc = envdeck_inproc("act", "dev", "kubernetes/Deployment/dev/web", "restart", "--yes", "--read-only",
                          "--config", str(cfg), "--state-dir", str(tmp_path / "state"),
                          ENVDECK_INPROC_PROBE="1", HOME=str(tmp_path))
    assert proc.returncode == 3, proc.stderr
    # the call did configure logging and the config's redact patterns (so there was something to undo)
    assert (tmp_path / "state" / "envdeck.log").exists()
    assert dict(os.environ) == before_env and os.getcwd() == before_cwd
    assert _logger_state() == before_logs
    assert redaction._extra is before_redact
    assert redaction.redact_text("pw hunter42") == "pw hunter42"


def test_redact_patterns_of_the_config_apply_during_the_call(tmp_path):
    """The audit row the call wrote was redacted with the config's pattern (`audit.redact`), then
    the pattern was dropped from this process."""
    cfg = _config(tmp_path, GOOD)
    before = redaction._extra
    proc = envdeck_inproc("act", "dev", "kubernetes/Deployment/dev/web", "restart", "--yes", "--read-only",
                          "--param", "why=hunter42", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert proc.returncode == 3
    audit = envdeck_inproc("audit", "--json", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert "hunter42" not in audit.stdout
    assert json.loads(audit.stdout)["entries"][0]["params"] == {"why": redaction.REDACTED}
    assert redaction._extra is before


@pytest.mark.parametrize("args", [(), ("tui",), ("agent",), ("demo",), ("serve",), ("--config", "x", "agent"),
                                  ("reconcile",), ("logs", "dev", "kubernetes/Pod/dev/p", "--follow")])
def test_refuses_what_needs_a_process(args):
    with pytest.raises(NotForInProcess):
        envdeck_inproc(*args)


async def test_from_an_async_test(tmp_path):
    """A running event loop in the caller: the CLI's asyncio.run happens in a thread of its own."""
    cfg = _config(tmp_path, GOOD)
    proc = envdeck_inproc("act", "dev", "kubernetes/Deployment/dev/web", "restart", "--yes", "--read-only",
                          "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert proc.returncode == 3 and "denied" in proc.stderr
    await asyncio.sleep(0)


def test_uncaught_exception_is_a_traceback_and_exit_1(tmp_path, monkeypatch):
    """As the interpreter does for a subprocess (tests that assert `Traceback not in stderr` stay meaningful)."""
    import tui.cli.commands as commands

    async def broken(args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(commands, "cmd_check", broken)
    proc = envdeck_inproc("check", "--config", str(_config(tmp_path, GOOD)))
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "ZeroDivisionError: boom" in proc.stderr


def test_text_is_read_back_as_from_a_pipe(tmp_path):
    """Non-ASCII text and carriage returns come back as subprocess.run(text=True) gives them."""
    cfg = _config(tmp_path, "environments:\n  dev:\n    description: \"Entwicklung \\u00e9t\\u00e9 \\u2014 r\\u00e9sum\\u00e9\"\n")
    sub, inp = _both(tmp_path, "status", "--json", "--config", str(cfg))
    assert (inp.returncode, inp.stderr) == (sub.returncode, sub.stderr)
    assert _stable(json.loads(inp.stdout)) == _stable(json.loads(sub.stdout))
    assert "été" in inp.stdout


def test_what_earlier_tests_left_in_this_process_does_not_reach_the_call(tmp_path):
    """A subprocess starts without the backend overrides, redaction patterns and log handlers
    that earlier tests of this worker may have left: so does the in-process call, and they are
    there again afterwards."""
    from backends import registry

    class NotTheRealKubernetes:
        def __init__(self, *args, **kwargs):
            raise AssertionError("a test's override reached the CLI")

    cfg = _config(tmp_path, GOOD)
    records: list[logging.LogRecord] = []
    left = logging.Handler()
    left.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("envdeck").addHandler(left)
    registry.register("kubernetes", NotTheRealKubernetes)  # type: ignore[arg-type]
    before_redact = redaction._extra
    redaction.configure(["hunter[0-9]+"])
    try:
        sub, inp = _both(tmp_path, "status", "--json", "--config", str(cfg))
        assert sub.returncode == inp.returncode == 1, inp.stderr
        assert _stable(json.loads(inp.stdout)) == _stable(json.loads(sub.stdout))
        assert "Invalid kube-config" in inp.stdout and inp.stderr == sub.stderr
        assert records == [], "the envdeck log went to the state directory's file, not to a leftover handler"
        assert (tmp_path / "inproc-state" / "envdeck.log").exists()
        assert registry.backend_class("kubernetes") is NotTheRealKubernetes
        assert left in logging.getLogger("envdeck").handlers
        assert redaction.redact_text("pw hunter42") == "pw ***"
    finally:
        registry.unregister("kubernetes")
        logging.getLogger("envdeck").removeHandler(left)
        redaction._extra = before_redact
