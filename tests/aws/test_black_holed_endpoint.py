"""An AWS endpoint whose address is black-holed (network namespaces: a blackhole route in
the endpoint's namespace, so no SYN-ACK, no RST, no ICMP comes back): `envdeck status` exits
1 with `endpoint unreachable … Connect timeout` after ONE connection attempt (botocore's
default is three, each a whole connect timeout). The endpoint's kernel drops the SYN before
any socket exists, so nothing on that side can count; the attempts are counted as this process
makes them: each is one `connect()` of a new socket (Python's `socket.connect` audit event, raised
by the call itself, so none is missed however loaded the machine is; the kernel's SYN
retransmits within an attempt are not new connects). Needs root (namespaces); skipped otherwise."""

from __future__ import annotations

import json
import sys
import threading

import pytest
import yaml

from backends.aws.clients import new_session
from tests.edge.netns import create_hosts, netns_unavailable_reason, remove_hosts
from tests.helpers import envdeck_inproc

PORT = 8080

_NO_NETNS = netns_unavailable_reason()
pytestmark = pytest.mark.skipif(_NO_NETNS is not None, reason=f"needs network namespaces: {_NO_NETNS}")


@pytest.fixture
def black_holed():
    [host] = create_hosts(1)
    try:
        host.black_hole()  # nothing from the endpoint's side comes back, not even a RST
        yield host
    finally:
        remove_hosts([host])


_counters: list[ConnectAttempts] = []


def _audit(event: str, args: tuple) -> None:
    if _counters and event == "socket.connect":
        for counter in list(_counters):
            counter.saw(args[1])


class ConnectAttempts:
    """Counts the `connect()` calls of this process (any thread) towards (host, port)."""

    _hooked = False

    def __init__(self, host: str, port: int) -> None:
        self.target, self.count = (host, port), 0
        self._lock = threading.Lock()

    def saw(self, address: object) -> None:
        if isinstance(address, tuple) and tuple(address[:2]) == self.target:
            with self._lock:
                self.count += 1

    def __enter__(self) -> ConnectAttempts:
        if not ConnectAttempts._hooked:  # an audit hook cannot be removed: one for the process, idle outside
            sys.addaudithook(_audit)
            ConnectAttempts._hooked = True
        _counters.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _counters.remove(self)


def _warm_the_service_model() -> None:
    """The process's botocore data loader reads the tagging API's model now: parsing it is CPU
    (a few seconds on a machine loaded to 40) that would otherwise run inside the pass's cap,
    which could then end the pass before the one attempt was made (nothing to count)."""
    new_session(None, "us-east-1").create_client(
        "resourcegroupstaggingapi", endpoint_url="http://127.0.0.1:9", aws_access_key_id="testing",
        aws_secret_access_key="testing")


def test_status_on_a_black_holed_endpoint_makes_one_attempt(black_holed, tmp_path):
    host = black_holed
    config = tmp_path / "envdeck.yaml"
    config.write_text(yaml.safe_dump({"defaults": {"timeout": "1s"}, "environments": {"dead": {"aws": {
        "region": "us-east-1", "endpoint_url": f"http://{host.node_addr}:{PORT}", "tags": {"env": "dead"}}}}}))
    _warm_the_service_model()
    with ConnectAttempts(host.node_addr, PORT) as attempts:
        proc = envdeck_inproc("status", "--json", "--config", str(config), "--state-dir", str(tmp_path / "state"),
                              timeout=120, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    assert proc.returncode == 1, proc.stderr
    [env] = json.loads(proc.stdout)["environments"]
    aws = env["backends"]["aws"]
    assert aws["reachable"] is False
    # the connect timeout's own words; on a loaded machine the pass's cap (3 x timeout) may speak
    # first, while that one attempt is still waiting: either way, one attempt
    assert ("endpoint unreachable" in aws["error"] and "Connect timeout" in aws["error"]) \
        or "no answer within" in aws["error"], aws["error"]
    assert attempts.count == 1, aws["error"]  # botocore's default: three
