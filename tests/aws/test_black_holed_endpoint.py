"""An AWS endpoint whose address is black-holed (network namespaces: a blackhole route in
the endpoint's namespace, so no SYN-ACK, no RST, no ICMP comes back): `envdeck status` exits
1 with `endpoint unreachable … Connect timeout` after ONE connection attempt (botocore's
default is three, each a whole connect timeout). The endpoint's kernel drops the SYN before
any socket exists, so the attempts are counted in the kernel's table of this process's
sockets (`ss`): each attempt is a SYN-SENT socket with its own source port; the kernel's SYN
retransmits within an attempt keep the port. Needs root (namespaces); skipped otherwise."""

from __future__ import annotations

import json
import threading

import pytest
import yaml

from tests.edge.netns import create_hosts, netns_unavailable_reason, our_sockets_to, remove_hosts
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


class SynSentPorts:
    """Polls this process's SYN-SENT sockets towards `addr` and keeps their source ports."""

    def __init__(self, addr: str) -> None:
        self.addr, self.ports = addr, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            for line in our_sockets_to(self.addr):
                fields = line.split()
                if fields[0] == "SYN-SENT":
                    self.ports.add(fields[3].rsplit(":", 1)[1])

    def __enter__(self) -> SynSentPorts:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def test_status_on_a_black_holed_endpoint_makes_one_attempt(black_holed, tmp_path):
    host = black_holed
    config = tmp_path / "envdeck.yaml"
    config.write_text(yaml.safe_dump({"defaults": {"timeout": "1s"}, "environments": {"dead": {"aws": {
        "region": "us-east-1", "endpoint_url": f"http://{host.node_addr}:{PORT}", "tags": {"env": "dead"}}}}}))
    with SynSentPorts(f"{host.node_addr}:{PORT}") as attempts:
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
    assert len(attempts.ports) == 1, attempts.ports  # botocore's default: three source ports
