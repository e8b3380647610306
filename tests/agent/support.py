"""`envdeck agent` as a real process for the tests: its stdout read by a thread (one JSON
object per line, kept in order), its port learnt from its `listening` line, its HTTP
endpoints read with urllib."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import envdeck_env, repo_root


class Agent:
    def __init__(self, config: Path, state: Path, *extra: str, log_format: str | None = None,
                 env: dict[str, str] | None = None):
        argv = [sys.executable, "-m", "tui.cli", "agent", "--config", str(config), "--state-dir", str(state),
                "--listen", "127.0.0.1:0", *extra]
        if log_format:
            argv += ["--log-format", log_format]
        self.proc = subprocess.Popen(argv, cwd=repo_root(),
                                     env=envdeck_env(PYTHONPATH=str(repo_root()), **(env or {})),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = ""
        self.port: int | None = None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def records(self) -> list[dict[str, Any]]:
        """Every stdout line, parsed (a line that is not JSON fails the test here)."""
        with self._lock:
            lines = list(self.lines)
        return [json.loads(line) for line in lines]

    def wait_record(self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in self.records():
                if predicate(record):
                    return record
            if self.proc.poll() is not None:
                _out, err = self.proc.communicate()
                raise AssertionError(f"the agent exited ({self.proc.returncode}) before {what}: {err[-2000:]}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; log: {self.lines[-20:]}")

    def wait_listening(self) -> int:
        self.port = int(self.wait_record(lambda r: r["msg"] == "listening", "the listening line")["port"])
        return self.port

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def health(self) -> tuple[int, dict[str, Any]]:
        status, body = self.get("/healthz")
        return status, json.loads(body)

    def metric(self, name: str, **labels: str) -> float | None:
        """The value of one sample of /metrics (None: no such sample)."""
        status, body = self.get("/metrics")
        assert status == 200
        return parse_metrics(body).get((name, tuple(sorted(labels.items()))))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=10)
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()
        return self.proc.returncode


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of a Prometheus text exposition, by (name, sorted labels); every line is
    a comment, or `name{k="v",...} value` (a line of another shape fails the test)."""
    import re

    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert line.startswith(("# HELP ", "# TYPE ")) or not line, line
            continue
        match = sample.match(line)
        assert match, f"not a sample line: {line!r}"
        labels = tuple(sorted(label.findall(match.group(2) or "")))
        out[(match.group(1), labels)] = float(match.group(3))
    return out


@dataclass(frozen=True)
class KubeEnv:
    """One environment of a test config: a namespace of the emulator, its repair mode and the
    Deployments it desires (name → replicas)."""

    namespace: str
    repair: str
    deployments: dict[str, int] = field(default_factory=dict)


def kube_config(kubeconfig: Path | str, envs: dict[str, KubeEnv], *, defaults: dict[str, str],
                templates: dict[str, str] | None = None) -> str:
    """The YAML of an agent/leadership test config: every environment on the emulator's
    kubeconfig (context `emulator`); `templates` maps a template's name to its namespace
    pattern (e.g. "scratch-{env}")."""
    def kubernetes(namespace: str) -> dict[str, Any]:
        return {"kubeconfig": str(kubeconfig), "context": "emulator", "namespace": namespace}

    config: dict[str, Any] = {"defaults": dict(defaults), "environments": {}}
    for name, env in envs.items():
        block = kubernetes(env.namespace)
        if env.deployments:
            block["desired"] = [{"kind": "Deployment", "name": dep, "replicas": replicas}
                                for dep, replicas in env.deployments.items()]
        config["environments"][name] = {"repair": env.repair, "kubernetes": block}
    if templates:
        config["templates"] = {name: {"kubernetes": kubernetes(namespace)} for name, namespace in templates.items()}
    return yaml.safe_dump(config, sort_keys=False)
