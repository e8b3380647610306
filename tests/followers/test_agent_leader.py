"""`envdeck agent` (a real process) leads, a TUI's Session follows it, on both engines (`any_store`):
a change the agent observes reaches the follower across processes with no request from the
follower to its cloud (its own emulator counts them); the agent SIGKILLed (no release, its lease
left behind), the follower takes the lease over and starts observing."""

from __future__ import annotations

import signal

from tests.agent.support import Agent
from tests.followers.support import CONFIG, ENV, NS, has, open_session, requests, start_emulator, until

WEB = "kubernetes/Deployment/web"
API = "kubernetes/Deployment/api"
THEIRS = "kubernetes/Deployment/theirs"


async def test_a_session_follows_an_agent_and_takes_over_when_it_is_killed(tmp_path, any_store, monkeypatch):
    monkeypatch.setenv("ENVDECK_LEASE_TTL", "3")
    if any_store.url:
        monkeypatch.setenv("ENVDECK_STATE_URL", any_store.url)
    state_dir = tmp_path / "state"
    leader_emu, leader_kc = start_emulator(tmp_path, "agent")
    followers_emu, followers_kc = start_emulator(tmp_path, "tui")
    leader_emu.emu.create_deployment(NS, "web", replicas=1)
    followers_emu.emu.create_deployment(NS, "theirs", replicas=1)
    config = tmp_path / "agent.yaml"
    config.write_text(CONFIG.format(kubeconfig=leader_kc))
    agent = Agent(config, state_dir)
    follower = None
    try:
        agent.wait_listening()
        agent.wait_record(lambda r: "leading" in r["msg"], "the agent leading")
        follower = await open_session(state_dir, followers_kc, "bob", "bob@ops-2:2")
        await until(lambda: has(follower, WEB), "the agent's snapshot in the follower", 60)
        assert follower.state(ENV).leader.endswith(f":{agent.proc.pid}")
        leader_emu.emu.create_deployment(NS, "api", replicas=1)
        await until(lambda: has(follower, API), "a change the agent observed, in the follower", 60)
        assert requests(followers_emu) == []

        agent.proc.send_signal(signal.SIGKILL)
        agent.proc.wait(timeout=30)
        await until(lambda: follower.state(ENV).leader == "you", "the follower taking over", 60)
        await until(lambda: has(follower, THEIRS), "the follower observing its cloud", 60)
        assert any(method == "GET" for method, _ in requests(followers_emu))
    finally:
        if agent.proc.poll() is None:
            agent.stop(signal.SIGTERM)
        if follower is not None:
            await follower.close()
        leader_emu.stop()
        followers_emu.stop()
