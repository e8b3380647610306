"""The kubelet's words on a port-forward stream's error channel, read for a person: a refused
connection (containerd's and dockershim's wording) is "nothing listens on port N in pod P"
(the pod named, not its uid); any other reason keeps the server's words after the uid part."""

from __future__ import annotations

from backends.kubernetes.portforward_errors import MAX_LEN, refusal_reason

CONTAINERD = ('error forwarding port 9999 to pod b0f05c8d4e1f4a0c9d1e2f3a4b5c6d7e, uid : failed to execute '
              'portforward in network namespace "/var/run/netns/cni-1f2e": failed to connect to localhost:9999 '
              'inside namespace "b0f05c8d", IPv4: dial tcp4 127.0.0.1:9999: connect: connection refused IPv6 '
              'dial tcp6 [::1]:9999: connect: connection refused ')
DOCKERSHIM = ("error forwarding port 5432 to pod 1a2b, uid : exit status 1: 2026/12/07 01:00:00 socat[31] E "
              "connect(5, AF=2 127.0.0.1:5432, 16): Connection refused\n")


def test_a_refused_connection_says_nothing_listens_there():
    assert refusal_reason(CONTAINERD, "web-7d9f8-x2x4k", 9999) == "nothing listens on port 9999 in pod web-7d9f8-x2x4k"
    assert refusal_reason(DOCKERSHIM, "db-0", 5432) == "nothing listens on port 5432 in pod db-0"


def test_another_reason_keeps_the_servers_words_without_the_uid():
    said = refusal_reason("error forwarding port 8080 to pod 1a2b, uid : unable to do port forwarding: socat not "
                          "found", "web-1", 8080)
    assert said == "port 8080 in pod web-1: unable to do port forwarding: socat not found"
    assert refusal_reason("", "web-1", 80) == "port 80 in pod web-1: the pod's port could not be reached"
    assert len(refusal_reason("x" * 1000, "web-1", 80)) == MAX_LEN
