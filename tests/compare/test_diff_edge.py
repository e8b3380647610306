"""Edge service versions compared over a real OpenSSH sshd: a `version` command template per
node (like `status`), filled with the shell-quoted service name and run in the same probe;
staging's gw-01 and prod's prod-gw-01 are the same role, and the one known difference (the
web service's version) is all `Session.compare` reports. A node without the template shows no
version."""

from __future__ import annotations

import json

from backends.registry import create_backends
from tui.core.config import parse_config
from tui.core.model import Origin
from tui.core.session import Session


async def test_edge_service_versions_differ_exactly(tmp_path, edge_lab):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    edge_lab.activate("web")
    for env, version in (("staging", "1.4.2"), ("prod", "1.4.1")):
        path = edge_lab.workdir / f"{env}-web.version"
        path.write_text(f"{version}\n")
        path.chmod(0o644)

    def edge(env: str, node: str, *, version: bool) -> dict:
        overrides = {"version": f"cat {edge_lab.workdir}/{env}-{{service}}.version"} if version else None
        cfg = edge_lab.config([edge_lab.node(node, server, services=["web"], commands=overrides)])
        return cfg.model_dump(mode="json", exclude_none=True)

    config = {"environments": {"staging": {"edge": edge("staging", "gw-01", version=True)},
                               "prod": {"edge": edge("prod", "prod-gw-01", version=True)},
                               "dev": {"edge": edge("dev", "dev-gw-01", version=False)}}}
    session = await Session.open(parse_config(json.dumps(config)), tmp_path / "state", origin=Origin.CLI,
                                 user=edge_lab.user, backends_factory=create_backends)
    try:
        result = await session.compare("staging", "prod")
        assert [(p.role, [(f.field, f.a, f.b) for f in p.fields]) for p in result.differing] == [
            ("edge/service/gw-01:web", [("service_version", "1.4.2", "1.4.1")])]
        assert (result.only_in_a, result.only_in_b) == ([], [])
        assert result.matched == 2, "the node and its service, matched across the environments' names"
        dev = await session.observed_resources("dev", ["edge"], fresh=False)
        service = next(r for r in dev if r.kind == "service")
        assert "version" not in service.attributes, "no template: no version, the service is still observed"
        assert service.attributes["active"] is True
    finally:
        await session.close()
