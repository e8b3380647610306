"""Any local user can bind the agent's metrics port (127.0.0.1:9464) first. The agent must not
be kept from reconciling by that: it warns, naming the address and who holds the port (from
/proc/net/tcp), repairs drift as ever (counted on the Kubernetes API emulator), and takes the
port once it is free (tried again every $ENVDECK_AGENT_LISTEN_RETRY seconds), its own /healthz
then answering. The squatter is a second local user (tests/other_user.py) with a fake /healthz."""

from __future__ import annotations

import json
import signal
import socket
import subprocess

from tests.agent.support import Agent, KubeEnv, kube_config
from tests.other_user import PYTHON, needs_other_user, other_user

#: A fake /healthz answering 200 to anything on 127.0.0.1:argv[1]; "ready" once bound.
SQUATTER = """
import http.server, sys
class Fake(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'{"status":"ok"}')
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Fake)
print("ready", flush=True)
server.serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_other_user
def test_a_squatted_metrics_port_does_not_stop_reconciling(k8s_emulator, tmp_path):
    thread, kubeconfig, token = k8s_emulator
    emu = thread.emu
    emu.create_deployment("staging", "web", replicas=1)
    config = tmp_path / "envdeck.yaml"
    config.write_text(kube_config(kubeconfig, {"staging": KubeEnv("staging", "auto", {"web": 3})},
                                  defaults={"interval": "30s"}))
    peer = other_user()
    port = _free_port()
    squatter = subprocess.Popen(["runuser", "-u", peer.pw_name, "--", PYTHON, "-c", SQUATTER, str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    agent = None
    try:
        assert squatter.stdout is not None and squatter.stdout.readline().strip() == "ready", squatter.stderr
        agent = Agent(config, tmp_path / "state", "--listen", f"127.0.0.1:{port}",
                      env={"ENVDECK_AGENT_LISTEN_RETRY": "0.2"})
        warned = agent.wait_record(lambda r: r["msg"].startswith("metrics endpoint disabled"), "the warning")
        assert warned["level"] == "warning" and warned["port"] == port, warned
        assert f"cannot listen on 127.0.0.1:{port}" in warned["msg"], warned
        assert f"held by {peer.pw_name} (uid {peer.pw_uid})" in warned["msg"], warned
        assert warned["holder"] == f"{peer.pw_name} (uid {peer.pw_uid})"
        assert "reconciling goes on" in warned["msg"]
        # reconciling all the same: the drift repaired on the server
        agent.wait_record(lambda r: r["msg"] == "repair succeeded", "the repair")
        assert emu.get("deployments", "staging", "web")["spec"]["replicas"] == 3
        assert not any(r["msg"] == "listening" for r in agent.records())

        squatter.send_signal(signal.SIGTERM)
        squatter.wait(timeout=30)
        assert agent.wait_listening() == port
        status, body = agent.get("/healthz")
        assert status == 200 and json.loads(body)["envs"] == ["staging"], body  # the agent's own, not hers
    finally:
        if squatter.poll() is None:
            squatter.kill()
            squatter.wait()
        code = agent.stop() if agent is not None else 0
    assert code == 0, agent.stderr if agent else ""
    assert "Traceback" not in agent.stderr
