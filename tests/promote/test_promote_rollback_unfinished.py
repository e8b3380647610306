"""`envdeck promote --rollback ID` of an unfinished promotion that another live process is
still carrying out (the on-call case: a wave stuck on an image nobody can pull, the reconciler
or an `--apply` waiting for it): the rollback does not wait for that wave's timeout. It stops
the promotion (a fence the other engine looks at before each step and each health poll), then
sets back what reached B. Counted on the Kubernetes emulator: the images B runs, and no PATCH
of the other process after the rollback's."""

from __future__ import annotations

import json
import time

from tests.promote.conftest import Pair

PROD_DESIRED = """      desired:
        - {kind: Deployment, name: web, image: "web:1.0"}"""


def _web_patches(pair: Pair) -> list[str]:
    return [p for p in pair.requests("PATCH", pair.p) if p.split("?")[0].endswith("/deployments/web")]


def test_rollback_stops_a_promotion_another_process_carries_out_and_undoes_it(pair: Pair):
    for ns, api, web in ((pair.s, "api:2.0", "web:2.1"), (pair.p, "api:1.0", "web:1.0")):
        pair.emu.create_deployment(ns, "api", replicas=2, image=api)
        pair.emu.create_deployment(ns, "web", replicas=2, image=web)
    pair.config(prod_desired=PROD_DESIRED)
    pair.emu.unpullable_images.add("web:2.1")     # wave 2 never turns healthy
    try:
        driver = pair.popen("promote", "staging", "prod", "--apply", "--yes", "--timeout", "10m")
        deadline = time.monotonic() + 90
        while not _web_patches(pair):             # wave 1 healthy, wave 2 asked of the server
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
            time.sleep(0.05)
        listed = json.loads(pair.envdeck("promote", "--list", "--json").stdout)["promotions"]
        assert [p["state"] for p in listed] == ["running"], listed
        pid = listed[0]["id"]
        assert driver.poll() is None                # the other process still carries it out

        rolled = pair.envdeck("promote", "--rollback", pid, "--yes", "--timeout", "60s")
        out, err = driver.communicate(timeout=60)   # the driver stops at its next step by itself
    finally:
        pair.emu.unpullable_images.discard("web:2.1")
        if driver.poll() is None:
            driver.kill()
    assert rolled.returncode == 0, rolled.stderr
    assert f"rollback of promotion {pid} (staging → prod) succeeded" in rolled.stderr, rolled.stderr
    assert "unfinished" not in rolled.stderr and "try again later" not in rolled.stderr
    assert pair.images(pair.p) == {"api": "api:1.0", "web": "web:1.0"}   # on the server
    # one PATCH of web by the promotion, one by the rollback: the driver asked nothing after the fence
    assert len(_web_patches(pair)) == 2, _web_patches(pair)
    assert "Traceback" not in err, err
    assert driver.returncode == 1, (out, err)
    assert f"promotion {pid} of staging → prod stopped for rollback by " in err, err
    assert err.rstrip().endswith("the rollback sets prod's versions back"), err
    listed = {p["id"]: p for p in json.loads(pair.envdeck("promote", "--list", "--json").stdout)["promotions"]}
    assert listed[pid]["state"] == "rolled-back", listed[pid]
    rollback = next(p for p in listed.values() if p["rollback_of"] == pid)
    assert rollback["state"] == "succeeded", rollback
