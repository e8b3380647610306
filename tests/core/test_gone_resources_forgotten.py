"""What the reconciler keeps per resource (a failed repair's backoff) goes with the resource."""

from __future__ import annotations

from tests.memory_backend import World


async def test_a_gone_resources_repair_backoff_is_dropped(make_reconciler):
    world = World()
    world.replicas["web"] = 1
    world.fail_repairs = True
    rec, _ = await make_reconciler(world, repair="auto")
    await rec.leadership.claim("staging")
    await rec.pass_once("staging", "aws")
    assert world.repair_calls == 1
    assert [k[0] for k in rec._repair_failures] == ["aws/app/web"]  # noqa: SLF001 - the retained structure
    del world.replicas["web"]
    world.desired.clear()
    await rec.pass_once("staging", "aws")  # web is gone
    assert rec.envs["staging"].resource("aws/app/web") is None
    assert rec._repair_failures == {}  # noqa: SLF001
