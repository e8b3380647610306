"""`envdeck run` decides from the composed YAML, before the config models are built, whether
to start its nodes' connections (tui/cli/fleet_early.py): its access decision is Policy.check's
on the validated config for every role, user and --read-only; it reads the nodes only when
every value a connect uses has the model's own type (anything the model would coerce waits for
it); the defaults it fills in are the models'; and the session's edge backend adopts the
connections it started (counted on the server side: one connection per node)."""

from __future__ import annotations

import argparse
import asyncio
import json

import pytest

from backends.edge import EdgeBackend
from backends.edge.early import NodeAddress
from tests.tcp_relay import CountingRelay
from tui.cli import fleet_early
from tui.cli.fleet import EarlyConnect
from tui.core.config import Defaults, EdgeConfig, parse_config
from tui.core.config_read import compose_config
from tui.core.policy import FLEET_RUN, Policy

ME, OTHER = "alice", "bob"
ACCESS = [None, {}, {"admin": [ME]}, {"operator": [ME]}, {"viewer": [ME]}, {"operator": ["*"]},
          {"viewer": ["*"], "admin": [ME]}, {"admin": [OTHER]}, {"operator": [OTHER], "viewer": [ME, OTHER]}]


def _config(access, edge=None) -> str:
    env = {"edge": edge or {"nodes": [{"name": "gw-1", "host": "127.0.0.1"}]}}
    if access is not None:
        env["access"] = access
    return json.dumps({"environments": {"dev": env}})


@pytest.mark.parametrize("access", ACCESS)
@pytest.mark.parametrize("user", [ME, OTHER])
@pytest.mark.parametrize("read_only", [False, True])
def test_the_access_decision_is_the_policy_of_the_validated_config(access, user, read_only):
    text = _config(access)
    data, _ = compose_config(text, "envdeck.yaml")
    full = Policy(parse_config(text), user, read_only=read_only).check("dev", FLEET_RUN).allowed
    assert fleet_early.allowed("dev", data["environments"]["dev"], user, read_only) == full


@pytest.mark.parametrize("access", [{"operator": "alice"}, {"operator": [ME, 3]}, {"root": [ME]}, [ME]])
def test_access_lists_the_model_would_not_take_as_written_start_nothing(access):
    data, _ = compose_config(_config(access), "envdeck.yaml")
    assert not fleet_early.allowed("dev", data["environments"]["dev"], ME, False)


def test_the_defaults_filled_in_are_the_models():
    edge, defaults = EdgeConfig(), Defaults()
    assert (fleet_early.CONCURRENCY, fleet_early.CONNECT_TIMEOUT_S, fleet_early.COMMAND_TIMEOUT_S,
            fleet_early.KEEPALIVE_S, fleet_early.MAX_BACKOFF_S) == (
        edge.concurrency, edge.connect_timeout, edge.command_timeout, edge.keepalive, defaults.max_backoff)


def test_the_node_keys_known_are_the_models():
    """A node key the plan does not know makes it wait for the model (no early connections):
    the list must follow EdgeNode's fields."""
    from tui.core.config import EdgeNode

    assert fleet_early._NODE_KEYS == set(EdgeNode.model_fields)


def test_the_nodes_read_are_the_validated_nodes():
    edge = {"known_hosts": "~/kh", "connect_timeout": "2s", "keepalive": 5, "nodes": [
        {"name": "gw-1", "host": "10.0.0.1", "port": 2222, "user": "ops", "identity_file": "~/.ssh/k",
         "services": ["app"], "log_files": ["/var/log/x"]},
        {"name": "gw-2", "host": "gw-2.example"}]}
    text = _config(None, edge)
    plan = fleet_early.edge_plan(compose_config(text, "envdeck.yaml")[0], "dev")
    cfg = parse_config(text).environments["dev"].edge
    assert plan is not None and cfg is not None
    assert plan.nodes == [NodeAddress.of(n) for n in cfg.nodes]
    assert (plan.known_hosts, plan.connect_timeout, plan.command_timeout, plan.keepalive) == (
        cfg.known_hosts, cfg.connect_timeout, cfg.command_timeout, cfg.keepalive)


@pytest.mark.parametrize("change", [
    {"port": "22"},  # the model coerces it to 22: the run waits for the model
    {"port": True}, {"port": 0}, {"host": ""}, {"name": 7}, {"user": ["ops"]}, {"bogus": 1},
])
def test_a_node_the_model_would_coerce_or_refuse_waits_for_the_model(change):
    edge = {"nodes": [{"name": "gw-1", "host": "127.0.0.1", **change}]}
    assert fleet_early.edge_plan(compose_config(_config(None, edge), "envdeck.yaml")[0], "dev") is None


@pytest.mark.parametrize("edge", [
    {"nodes": []}, {"nodes": [{"name": "a", "host": "h"}, {"name": "a", "host": "h"}]},
    {"concurrency": 1, "nodes": [{"name": "a", "host": "h"}, {"name": "b", "host": "h"}]},
    {"concurrency": True, "nodes": [{"name": "a", "host": "h"}]},
    {"connect_timeout": "soon", "nodes": [{"name": "a", "host": "h"}]},
    {"connect_timeout": None, "nodes": [{"name": "a", "host": "h"}]},
    {"known_hosts": 5, "nodes": [{"name": "a", "host": "h"}]},
])
def test_an_edge_section_not_run_at_once_as_written_waits_for_the_model(edge):
    assert fleet_early.edge_plan(compose_config(_config(None, edge), "envdeck.yaml")[0], "dev") is None


def test_the_session_backend_adopts_the_early_connections(tmp_path, edge_lab):
    """connect_early starts one connection per node (the relay counts it before any backend
    exists); the edge backend the session's factory builds takes those links over, and a
    command then runs on them without a second connection."""
    server = edge_lab.start_sshd("n1")
    relay = CountingRelay(server.port)
    with edge_lab.known_hosts.open("a") as fh:
        fh.write(f"[127.0.0.1]:{relay.port} {server.public_host_key}\n")
    edge = {"known_hosts": str(edge_lab.known_hosts), "ssh_config": str(edge_lab.ssh_config),
            "nodes": [{"name": "gw-0", "host": "127.0.0.1", "port": relay.port, "user": edge_lab.user,
                       "identity_file": str(edge_lab.client_key)}]}
    text = json.dumps({"environments": {"dev": {"edge": edge}}})
    args = argparse.Namespace(env="dev", nodes=None, yes=True, read_only=False, state_dir=str(tmp_path / "state"))

    async def scenario() -> None:
        data, _ = compose_config(text, "envdeck.yaml")
        early = await fleet_early.connect_early(args, data)
        assert early is not None
        try:
            await asyncio.wait_for(asyncio.shield(early.task), 30)
            assert relay.accepted == 1 and early.links["gw-0"].connected
            cfg = parse_config(text)
            backends = EarlyConnect("dev", early).factory("dev", cfg.environments["dev"], cfg)
            backend = backends["edge"]
            assert isinstance(backend, EdgeBackend) and early.adopted
            assert backend.links["gw-0"] is early.links["gw-0"] and backend.remote is early.remote
            out = await backend.links["gw-0"].run("echo adopted")
            assert out.stdout == "adopted\n"
            await backend.close()
        finally:
            await early.close()
        assert relay.accepted == 1

    try:
        asyncio.run(scenario())
    finally:
        relay.close()


def test_a_backend_whose_nodes_differ_does_not_adopt(tmp_path):
    """The validated config's node at another address (or other link settings): the backend
    keeps its own links, and the early ones are left to be closed unused."""
    text = _config(None, {"nodes": [{"name": "gw-1", "host": "127.0.0.1", "port": 1}]})
    data, _ = compose_config(text, "envdeck.yaml")
    args = argparse.Namespace(env="dev", nodes=None, yes=True, read_only=False, state_dir=str(tmp_path / "state"))
    other = parse_config(_config(None, {"nodes": [{"name": "gw-1", "host": "127.0.0.2", "port": 1}]}))

    async def scenario() -> None:
        early = await fleet_early.connect_early(args, data)
        assert early is not None
        try:
            backend = EdgeBackend("dev", other.environments["dev"].edge, other.defaults)
            assert backend.adopt(early) is False and not early.adopted
            assert backend.links["gw-1"] is not early.links["gw-1"]
        finally:
            await early.close()
        assert not early.remote.running

    asyncio.run(scenario())


def test_what_run_imports_before_connecting_leaves_out_the_models_and_the_session():
    """The point of connecting from the YAML: none of the config models (pydantic), the edge
    backend or the session are loaded before the connections start (bench.startup prints the
    import time of this list; a module-level import of a model in the links brings them back)."""
    import subprocess
    import sys

    from bench.startup import ROOT, RUN_BEFORE_CONNECTING_CODE

    late = ["pydantic", "tui.core.config", "backends.edge.backend", "backends.base", "tui.core.session",
            "tui.core.store", "backends.registry"]
    code = f"import sys\n{RUN_BEFORE_CONNECTING_CODE}\nprint([m for m in {late!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


def test_run_imports_asyncssh_as_a_plain_import_would_without_the_x509_import_that_fails():
    """asyncssh's X.509 support needs pyOpenSSL (not an envdeck dependency); without it, `run`
    skips importing cryptography.x509 for a module that would fail anyway: asyncssh's X.509
    availability is what a plain import gives, and nothing else stays changed."""
    import subprocess
    import sys

    from bench.startup import ROOT

    report = ("import asyncssh.public_key\nprint(asyncssh.public_key._x509_available, 'cryptography.x509' in sys.modules,"
              " any(type(f).__name__ == '_WithoutX509' for f in sys.meta_path))")
    plain = "import sys\nimport backends.edge\n" + report
    early = "import sys\nfrom tui.cli.fleet_early import _early_links_module\n_early_links_module()\n" + report
    answers = []
    for code in (plain, early):
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        answers.append(proc.stdout.split())
    (plain_x509, plain_loaded, _), (early_x509, early_loaded, finder_left) = answers
    assert early_x509 == plain_x509  # the same asyncssh
    assert finder_left == "False"
    if plain_x509 == "False":  # no pyOpenSSL: X.509 unavailable either way, its import skipped
        assert (plain_loaded, early_loaded) == ("True", "False")
