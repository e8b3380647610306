"""The project's Kubernetes API emulator in its own process (so that its CPU and
memory are not the client's): `python -m backends.sim.k8s_emulator`."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GC_PAUSE_LOGGED_MS = 20  # the emulator's collector passes at least this long are in its log


def _ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


class EmulatorProcess:
    def __init__(self, namespace: str | list[str], pods: int = 0, crds: int = 0):
        # several namespaces: `pods` pods in each of them (the first gets the CRDs' objects)
        self.namespaces = [namespace] if isinstance(namespace, str) else list(namespace)
        self.namespace = self.namespaces[0]
        self.pods = pods
        self.crds = crds  # CRDs (one object each): more resource types for discovery to find
        self.workdir = Path(tempfile.mkdtemp(prefix="envdeck-bench-k8s-"))
        self.kubeconfig = self.workdir / "kubeconfig"
        self.url = ""
        self.proc: subprocess.Popen | None = None
        self.ready_s = 0.0
        self.started_at = 0.0  # time.time() at start()

    def start(self, timeout_s: float = 600.0) -> EmulatorProcess:
        argv = [sys.executable, "-m", "backends.sim.k8s_emulator",
                *(arg for ns in self.namespaces for arg in ("--namespace", ns)), "--pods-in-every-namespace",
                "--pods", str(self.pods), "--crds", str(self.crds), "--kubeconfig", str(self.kubeconfig),
                "--log-interval", "0", "--log-gc-pauses", str(GC_PAUSE_LOGGED_MS),
                "--gc-freeze-survivors"]
        self._log = open(self.workdir / "emulator.log", "wb")  # noqa: SIM115 - closed in stop()
        t0, self.started_at = time.perf_counter(), time.time()
        self.proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                     stdout=subprocess.PIPE, stderr=self._log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "emulator listening on URL ..." once the pods exist
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}; see {self.workdir / 'emulator.log'}")
        self.url = line.split("listening on", 1)[1].split()[0]
        self.ready_s = time.perf_counter() - t0
        if self.ready_s > timeout_s:
            raise RuntimeError("the emulator took too long")
        return self

    def cpu_s(self) -> float | None:
        """The emulator's CPU seconds so far (user + system), None once it ended."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            with open(f"/proc/{self.proc.pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / _ticks()

    def gc_pauses(self, since: float, until: float) -> list[dict[str, float | int]]:
        """The emulator's cyclic-GC passes of at least GC_PAUSE_LOGGED_MS between two
        `time.time()`s: {"at": seconds after `since`, "generation", "ms" (wall), "cpu_ms"}."""
        out: list[dict[str, float | int]] = []
        try:
            lines = (self.workdir / "emulator.log").read_text(errors="replace").splitlines()
        except OSError:
            return out
        for line in lines:
            parts = line.split()
            if len(parts) == 6 and parts[:2] == ["gc", "pause"]:
                at = float(parts[2])
                if since <= at <= until:
                    out.append({"at": round(at - since, 3), "generation": int(parts[3][3:]),
                                "ms": float(parts[4]), "cpu_ms": float(parts[5])})
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
