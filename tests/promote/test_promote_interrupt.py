"""Ctrl-C (a real SIGINT to the real CLI process) during `envdeck promote --apply`: the first one
stops the promotion where it is, the command ends 130 with one line naming the promotion and how
to carry it on, never a traceback; the audit row of the wave it stopped in ends `interrupted`
and the promotion stays `running` for `--resume` (tui/cli/interrupt.py)."""

from __future__ import annotations

import json
import signal
import time

from tests.promote.conftest import Pair

PROD_DESIRED = """      desired:
        - {kind: Deployment, name: web, image: "web:1.0"}"""


def _seed(pair: Pair) -> None:
    for ns, api, web in ((pair.s, "api:2.0", "web:2.1"), (pair.p, "api:1.0", "web:1.0")):
        pair.emu.create_deployment(ns, "api", replicas=2, image=api)
        pair.emu.create_deployment(ns, "web", replicas=2, image=web)
    pair.config(prod_desired=PROD_DESIRED)


def _waiting_in_wave_2(pair: Pair) -> bool:
    """Wave 2 asked of the server and its gate's audit row begun: the promotion waits in wave 2
    (the PATCH alone is not enough: the wave's row is begun after its steps are applied)."""
    patched = any(path.split("?")[0].endswith("/deployments/web") for path in pair.requests("PATCH", pair.p))
    return patched and any(r["action"] == "promote.wave" and json.loads(r["params"])["wave"] == 2
                           for r in pair.audit_rows())


def test_first_ctrl_c_stops_promote_apply_with_130_and_one_line(pair: Pair):
    _seed(pair)
    unpullable = pair.emu.unpullable_images
    unpullable.add("web:2.1")      # wave 2 never turns healthy: the promotion waits in it until Ctrl-C
    try:
        proc = pair.popen("promote", "staging", "prod", "--apply", "--yes", "--timeout", "10m")
        deadline = time.monotonic() + 90
        while not _waiting_in_wave_2(pair):  # wave 1 healthy, wave 2 asked of the server and waited on
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)     # once
        _out, err = proc.communicate(timeout=60)
    finally:
        unpullable.discard("web:2.1")
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    promotion_id = next(line.split()[0] for line in err.splitlines() if " wave " in line)
    interrupted = [line for line in err.splitlines() if "interrupted" in line]
    assert interrupted == [f"envdeck: interrupted (Ctrl-C); promotion {promotion_id} stopped after 1 of 2 wave(s): "
                           f"`envdeck promote --resume {promotion_id}` carries it on "
                           "(so does the reconciler leading its environment); "
                           f"`envdeck promote --rollback {promotion_id}` undoes it"], err
    listed = json.loads(pair.envdeck("promote", "--list", "--json").stdout)["promotions"]
    assert [(p["id"], p["state"], p["waves_done"]) for p in listed] == [(promotion_id, "running", 1)]
    waves = [(json.loads(r["params"])["wave"], r["result"]) for r in pair.audit_rows() if r["action"] == "promote.wave"]
    assert waves == [(1, "succeeded"), (2, "interrupted")], waves
