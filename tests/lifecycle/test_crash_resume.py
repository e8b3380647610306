"""SIGKILL at random points of `envdeck env create --wait` and `envdeck env destroy --wait`,
then a resuming `envdeck env create/destroy NAME --wait` or `envdeck reconcile --once`:
zero duplicates after create and zero leftovers after destroy, counted on the servers
(moto describes and the tagging API, the emulator's namespaces and Deployments, the
simulated nodes' services), never through envdeck's store.

Each trial kills one create and one destroy (TRIALS trials: 2 × TRIALS kills per run). The
random generator is seeded; the seed and every trial's delays are printed, and
ENVDECK_CRASH_SEED=N replays a run (ENVDECK_CRASH_TRIALS=N changes the count).

The killed create and destroy are real processes of their own (`world.popen`, SIGKILL); the one
that resumes after a kill is another process: this test's own, running the CLI's main() in
process (`world.envdeck`, tests/helpers.py envdeck_inproc) -- the killed holder's lease is seen
as gone as it would be from any other process, and each resume saves a fresh interpreter's
imports and clients (~1-3 s a call on a loaded machine). The calibration runs in a subprocess,
like the killed runs whose kill points it spreads."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass

import pytest

from tests.lifecycle.conftest import World

pytestmark = [pytest.mark.slow]

TRIALS = int(os.environ.get("ENVDECK_CRASH_TRIALS", "10"))
# the trials run in this many tests (trial n in chunk n % CHUNKS), so that parallel workers share them
CHUNKS = 5
SEED = int(os.environ.get("ENVDECK_CRASH_SEED", str(random.SystemRandom().randrange(2**31))))
ONE_EACH = {"instances": 1, "security_groups": 1, "buckets": 1, "namespaces": 1, "deployments": 1}
NOTHING = {"instances": 0, "security_groups": 0, "buckets": 0, "namespaces": 0, "deployments": 0}
_CALIBRATION: dict[str, float] = {}  # seconds of an uninterrupted create and destroy, measured once


@dataclass
class Trial:
    number: int
    name: str
    create_kill_s: float
    create_resume: str  # "create" | "reconcile"
    destroy_kill_s: float
    destroy_resume: str  # "destroy" | "reconcile"

    def __str__(self) -> str:
        return (f"seed={SEED} trial={self.number} env={self.name} create killed after {self.create_kill_s:.3f}s, "
                f"resumed by {self.create_resume}; destroy killed after {self.destroy_kill_s:.3f}s, "
                f"resumed by {self.destroy_resume}")


def _killed_after(world: World, delay_s: float, *args: str) -> int | None:
    """Start the CLI, SIGKILL it after `delay_s` (None when it ended first: its exit code)."""
    proc = world.popen(*args)
    try:
        proc.wait(timeout=delay_s)
        proc.communicate()
        return proc.returncode
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        return None


def _ok(proc: subprocess.CompletedProcess, trial: Trial, what: str) -> None:
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, (str(trial), what, proc.returncode,
                                                                     proc.stdout, proc.stderr)


def _state(world: World, name: str) -> str | None:
    return world.stored_state(name)


def _resume(world: World, *args: str) -> subprocess.CompletedProcess:
    """The CLI after a kill, in this process (another process than the killed one)."""
    return world.envdeck(*args)


def _timed(world: World, *args: str) -> float:
    started = time.monotonic()
    proc = world.envdeck_process(*args)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return time.monotonic() - started


def _create_args(name: str) -> list[str]:
    return ["env", "create", name, "--template", "small", "--param", "branch=main", "--wait"]


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_sigkill_during_create_and_destroy_resumes_without_duplicates_or_leftovers(world: World, chunk: int):
    rng = random.Random(SEED * CHUNKS + chunk)
    print(f"crash trials: seed={SEED} trials={TRIALS} chunk={chunk}/{CHUNKS} (replay: ENVDECK_CRASH_SEED={SEED})")
    # calibrate: how long an uninterrupted create and destroy take on this machine (once per
    # test process: the chunks that run after it in the same worker draw from the same times)
    if not _CALIBRATION:
        create_s = _timed(world, *_create_args("calib"))
        assert world.counts("calib") == ONE_EACH
        destroy_s = _timed(world, "env", "destroy", "calib", "--yes", "--wait")
        assert world.counts("calib") == NOTHING and world.tagged_arns("calib") == []
        _CALIBRATION.update(create_s=create_s, destroy_s=destroy_s)
    create_s, destroy_s = _CALIBRATION["create_s"], _CALIBRATION["destroy_s"]
    print(f"calibration: create {create_s:.2f}s, destroy {destroy_s:.2f}s")

    for number in range(chunk, TRIALS, CHUNKS):
        trial = Trial(number, f"crash-{number}", rng.uniform(0.05, create_s * 1.1), rng.choice(["create", "reconcile"]),
                      rng.uniform(0.05, destroy_s * 1.1), rng.choice(["destroy", "reconcile"]))
        print(trial)
        name = trial.name

        # -- create, killed, resumed -------------------------------------------------------------
        _killed_after(world, trial.create_kill_s, *_create_args(name))
        if trial.create_resume == "reconcile":
            proc = _resume(world, "reconcile", "--once")
            assert "Traceback" not in proc.stderr, (str(trial), proc.stderr)
            if _state(world, name) is None:
                # killed before the request was recorded: nothing may exist, and the create starts over
                assert world.counts(name) == NOTHING, str(trial)
                _ok(_resume(world, *_create_args(name)), trial, "create after an unrecorded request")
        else:
            _ok(_resume(world, *_create_args(name)), trial, "resuming create")
        assert _state(world, name) == "ready", str(trial)
        assert world.counts(name) == ONE_EACH, (str(trial), world.counts(name))
        assert len(world.nodes_running()) == 1, (str(trial), world.nodes_running())

        # -- destroy, killed, resumed -------------------------------------------------------------
        _killed_after(world, trial.destroy_kill_s, "env", "destroy", name, "--yes", "--wait")
        if _state(world, name) in (None, "destroyed"):
            pass  # the destroy ended before the kill: a destroyed environment is not there to destroy
        elif trial.destroy_resume == "reconcile":
            proc = _resume(world, "reconcile", "--once")
            assert "Traceback" not in proc.stderr, (str(trial), proc.stderr)
            if _state(world, name) == "ready":  # killed before the request was recorded
                _ok(_resume(world, "env", "destroy", name, "--yes", "--wait"), trial, "destroy after an unrecorded request")
        else:
            _ok(_resume(world, "env", "destroy", name, "--yes", "--wait"), trial, "resuming destroy")
        assert _state(world, name) in (None, "destroyed"), str(trial)
        assert world.counts(name) == NOTHING, (str(trial), world.counts(name))
        assert world.tagged_arns(name) == [], (str(trial), world.tagged_arns(name))
        assert world.k8s_objects(name) == [], str(trial)
        assert world.nodes_running() == [], (str(trial), world.nodes_running())
