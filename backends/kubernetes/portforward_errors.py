"""What a port-forward stream's error channel says, in a person's words.

The kubelet (through the API server) writes its reason on the error channel of the port
when it cannot reach the pod's port, e.g. (containerd):

    error forwarding port 9999 to pod 0b1f…, uid : failed to execute portforward in network
    namespace "/var/run/netns/cni-…": failed to connect to localhost:9999 inside namespace
    "0b1f…", IPv4: dial tcp4 127.0.0.1:9999: connect: connection refused IPv6 …

(dockershim: "… exit status 1: … socat … Connection refused"). A refused connection means
nothing listens on that port in the pod: said so, naming the port and the pod (not the pod's
uid). Any other text is the server's own words, cut to its first clause after the uid part.
"""

from __future__ import annotations

import re

_PORT = re.compile(r"error forwarding port (\d+) to pod")
_REFUSED = re.compile(r"connection refused", re.IGNORECASE)
_PREFIX = re.compile(r"^error forwarding port \d+ to pod [^,]*, uid\s*:\s*", re.IGNORECASE)
MAX_LEN = 200


def refusal_reason(message: str, pod: str, port: int) -> str:
    """The reason of a stream the pod's side refused, for the forward's state and its audit row."""
    text = " ".join(message.split())
    found = _PORT.search(text)
    port = int(found.group(1)) if found else port
    if _REFUSED.search(text):
        return f"nothing listens on port {port} in pod {pod}"
    rest = _PREFIX.sub("", text) or "the pod's port could not be reached"
    reason = f"port {port} in pod {pod}: {rest}"
    return reason if len(reason) <= MAX_LEN else reason[:MAX_LEN - 1] + "…"
