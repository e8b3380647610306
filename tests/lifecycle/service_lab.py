"""The lab of the lifecycle service and reconciler tests: a config with a declared environment
and two templates, a real state directory, the in-memory provisioner (its world counts what is
created) and the in-memory observing backend, sessions of any user on one fake clock."""

from __future__ import annotations

from tests.lifecycle.memory_provisioner import FakeClock, MemoryWorld
from tests.memory_backend import World, memory_factory
from tui.core.config import EnvdeckConfig, parse_config
from tui.core.model import Origin, now_utc
from tui.core.session import Session

CONFIG = """
environments:
  staging:
    access: {admin: [ann], operator: [olga], viewer: [vic]}
    aws:
      region: us-east-1
      tags: {env: staging}
      desired: [{kind: s3-bucket, name: staging-assets}]
templates:
  preview:
    parameters:
      branch: {type: string, pattern: "^[a-z0-9-]{1,30}$"}
    creators: [carl, ann]
    ttl: 1h
    max_ttl: 2h
    repair: auto
    access: {admin: ["{creator}"], operator: [olga], viewer: [vic]}
    aws:
      region: us-east-1
      resources:
        - {id: assets, kind: s3-bucket, name: "{env}-assets"}
        - {id: web-sg, kind: security-group, name: "{env}-web"}
  open:
    aws:
      region: us-east-1
      resources:
        - {id: assets, kind: s3-bucket, name: "{env}-assets"}
"""


def config() -> EnvdeckConfig:
    return parse_config(CONFIG)


class Lab:
    """The state directory, the provisioning world and the observed world of one test."""

    def __init__(self, tmp_path) -> None:
        self.state_dir = tmp_path / "state"
        self.mworld = MemoryWorld()
        self.world = World()
        self.clock = FakeClock(now_utc().replace(microsecond=0))  # the store keeps whole seconds
        self.sessions: list[Session] = []

    def provisioners(self, backend, env, section, defaults, template):
        return self.mworld.factory(backend, env, section, template)

    async def session(self, user: str, *, read_only: bool = False, origin: str = Origin.CLI) -> Session:
        session = await Session.open(config(), self.state_dir, origin=origin, user=user, read_only=read_only,
                                     backends_factory=memory_factory(self.world), provisioners=self.provisioners)
        session.set_clock(self.clock)
        self.sessions.append(session)
        return session

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()

    async def __aenter__(self) -> Lab:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def audit(session: Session, env: str, action: str) -> list[dict]:
    return [row for row in await session.store.audit_entries(env, limit=500) if row["action"] == action]


async def created(lab: Lab, name: str = "pr-1", user: str = "carl"):
    session = await lab.session(user)
    return await session.env_create(name, "preview", {"branch": "feature-x"}, wait=True)
