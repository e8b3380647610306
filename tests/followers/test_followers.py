"""Team mode, followers (issue 16), on both engines (`any_store`), against the Kubernetes API
emulator: ten Sessions attached to a store whose environment has a live leader make no request
to the cloud (counted by the followers' own emulator, on the server side) and show what the
leader observed; a change the leader observes reaches every follower; the leader gone, one
follower takes the lease and starts observing (its emulator now sees requests), and the others
follow it. A CLI-style observe (`envdeck status`) follows the same way."""

from __future__ import annotations

import pytest

from tests.followers.support import (
    ENV,
    NS,
    has,
    open_session,
    requests,
    start_emulator,
    until,
    until_published,
)

WEB = "kubernetes/Deployment/web"
API = "kubernetes/Deployment/api"
THEIRS = "kubernetes/Deployment/theirs"  # only on the followers' emulator


@pytest.fixture
def clouds(tmp_path, monkeypatch):
    """(the leader's emulator and kubeconfig, the followers' emulator and kubeconfig); leases of 3 s."""
    monkeypatch.setenv("ENVDECK_LEASE_TTL", "3")
    leader, leader_kc = start_emulator(tmp_path, "leader")
    followers, followers_kc = start_emulator(tmp_path, "followers")
    leader.emu.create_deployment(NS, "web", replicas=2)
    followers.emu.create_deployment(NS, "theirs", replicas=1)
    try:
        yield leader, leader_kc, followers, followers_kc
    finally:
        leader.stop()
        followers.stop()


@pytest.fixture
def store_dir(any_store, monkeypatch):
    if any_store.url:
        monkeypatch.setenv("ENVDECK_STATE_URL", any_store.url)
    return any_store.state_dir / "state"


async def test_ten_followers_call_nothing_see_the_leaders_changes_and_one_takes_over(clouds, store_dir):
    leader_emu, leader_kc, followers_emu, followers_kc = clouds
    leader = await open_session(store_dir, leader_kc, "alice", "alice@ops-1:1")
    followers = []
    try:
        await until(lambda: has(leader, WEB), "the leader's first pass")
        assert leader.state(ENV).leader == "you"
        for i in range(10):
            followers.append(await open_session(store_dir, followers_kc, "bob", f"bob@ops-{i + 2}:{i + 2}"))
        for f in followers:
            await until(lambda f=f: f.reconciler.follower.loads >= 1, "a follower showing the leader's snapshot")
            assert has(f, WEB)
            state = f.state(ENV)
            assert state.leader == "alice@ops-1:1" and f.reconciler.follower.following(ENV) == "alice@ops-1:1"
            assert state.backends["kubernetes"].reachable is True  # as the leader published it
            assert not has(f, THEIRS)

        # a change the leader observes reaches every follower; their cloud saw no request at all
        leader_emu.emu.create_deployment(NS, "api", replicas=1)
        for f in followers:
            await until(lambda f=f: has(f, API), "the new deployment in a follower")
        assert requests(followers_emu) == [], "a follower called the cloud"
        assert all(f.reconciler.follower.loads >= 2 for f in followers)

        # the leader goes away (its leases released): one follower takes over and observes
        await leader.close()
        leader = None
        await until(lambda: sum(f.state(ENV).leader == "you" for f in followers) == 1, "a new leader", 30)
        new = next(f for f in followers if f.state(ENV).leader == "you")
        await until(lambda: has(new, THEIRS), "the new leader observing its cloud")
        assert any(method == "GET" for method, _ in requests(followers_emu))
        holder = new.reconciler.leadership.holder
        for f in followers:  # the others follow the new leader and show what it observes
            await until(lambda f=f: has(f, THEIRS), "a follower showing the new leader's snapshot")
            await until(lambda f=f: f is new or f.state(ENV).leader == holder, "a follower naming the new leader")
        assert sum(f.reconciler.leadership.leads(ENV) for f in followers) == 1
    finally:
        for s in [leader, *followers]:
            if s is not None:
                await s.close()


async def test_a_status_observe_follows_a_live_leader_and_observes_without_one(clouds, store_dir):
    leader_emu, leader_kc, followers_emu, followers_kc = clouds
    leader = await open_session(store_dir, leader_kc, "alice", "alice@ops-1:1")
    try:
        await until(lambda: has(leader, WEB), "the leader's first pass")
        await until_published(leader)
        cli = await open_session(store_dir, followers_kc, "bob", "bob@ops-2:2", start=False)
        try:
            await cli.observe()  # what `envdeck status` does
            assert has(cli, WEB) and not has(cli, THEIRS)
            assert cli.state(ENV).to_json()["leader"] == "alice@ops-1:1"
            assert requests(followers_emu) == []
        finally:
            await cli.close()
    finally:
        await leader.close()
    cli = await open_session(store_dir, followers_kc, "bob", "bob@ops-2:2", start=False)
    try:
        await cli.observe()  # no live leader: observed as before
        assert has(cli, THEIRS)
        assert any(method == "GET" for method, _ in requests(followers_emu))
    finally:
        await cli.close()


async def test_a_follower_shows_the_leaders_cloud_unreachable(tmp_path, store_dir, monkeypatch):
    monkeypatch.setenv("ENVDECK_LEASE_TTL", "3")
    leader_emu, leader_kc = start_emulator(tmp_path, "down")
    leader_emu.emu.create_deployment(NS, "web", replicas=1)
    followers_emu, followers_kc = start_emulator(tmp_path, "up")
    stopped = False
    leader = await open_session(store_dir, leader_kc, "alice", "alice@ops-1:1")
    try:
        await until(lambda: has(leader, WEB), "the leader's first pass")
        follower = await open_session(store_dir, followers_kc, "bob", "bob@ops-2:2")
        try:
            await until(lambda: follower.state(ENV).backends["kubernetes"].reachable is True, "reachable, followed")
            leader_emu.stop()
            stopped = True
            await until(lambda: follower.state(ENV).backends["kubernetes"].reachable is False,
                        "the leader's unreachable cloud shown by the follower")
            assert follower.state(ENV).backends["kubernetes"].error
            assert requests(followers_emu) == []
        finally:
            await follower.close()
    finally:
        await leader.close()
        if not stopped:
            leader_emu.stop()
        followers_emu.stop()


async def test_a_follower_whose_leadership_rounds_run_late_asks_the_store_and_calls_nothing(clouds, tmp_path):
    """Its view of the leader's lease ages out between two of its rounds (a loaded machine): before
    its next pass it reads the lease again, finds the leader live and keeps following."""
    leader_emu, leader_kc, followers_emu, followers_kc = clouds
    state_dir = tmp_path / "state"
    leader = await open_session(state_dir, leader_kc, "alice", "alice@ops-1:1")
    follower = await open_session(state_dir, followers_kc, "bob", "bob@ops-2:2")
    try:
        await until(lambda: follower.reconciler.follower.loads >= 1, "the follower showing the leader's snapshot")
        leadership = follower.reconciler.leadership
        await leadership.stop(release=False)  # its rounds stop: the lease it saw ages out
        seen = leadership.seen[ENV]
        await until(lambda: leadership.seen[ENV].expires_at > seen.expires_at,
                    "the follower reading the lease again before a pass")
        assert leadership.seen[ENV].holder == "alice@ops-1:1" and not leadership.leads(ENV)
        assert leader.reconciler.leadership.leads(ENV)
    finally:
        await follower.close()
        await leader.close()
    assert requests(followers_emu) == []
