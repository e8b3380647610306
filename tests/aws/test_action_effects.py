"""Which desired fields an AWS action sets, against moto: the reconciler uses them to ask
before a manual action that its auto repair would undo (and to diff against an overlay)."""

from __future__ import annotations

from tests.aws import arrange
from tests.aws.arrange import by_id


async def test_desired_fields_and_action_effects(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    arrange.ecs_service(aws, "staging", "main", "api", desired=3)
    backend = make_backend(desired=[
        {"kind": "ec2-instance", "name": "web-1", "state": "running"},
        {"kind": "ecs-service", "cluster": "main", "name": "api", "desired_count": 3},
    ])
    resources = by_id(await backend.observe())
    web, api = resources[f"aws/ec2-instance/{iid}"], resources["aws/ecs-service/main/api"]

    assert backend.desired_fields(web) == {"state": "running"}
    assert backend.desired_fields(api) == {"desired_count": 3}
    assert backend.action_effect(web, "stop", {}) == {"state": "stopped"}
    assert backend.action_effect(web, "start", {}) == {"state": "running"}
    assert backend.action_effect(web, "reboot", {}) == {}
    assert backend.action_effect(api, "scale", {"desired_count": "5"}) == {"desired_count": 5}
    assert backend.action_effect(api, "scale", {"desired_count": "many"}) == {}  # perform() reports it
    assert backend.action_effect(api, "force-new-deployment", {}) == {}
    # a transition under way counts as the state it leads to, as in diff()
    assert backend.field_in_sync("state", "running", "pending")
    assert not backend.field_in_sync("state", "running", "stopping")
