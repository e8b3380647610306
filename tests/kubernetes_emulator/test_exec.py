"""`pods/exec` over WebSocket, with two clients nobody here wrote: the official Python
client (`kubernetes.stream`, v4.channel.k8s.io) and kubectl ≥ 1.30 (v5.channel.k8s.io),
including `kubectl exec -it` on a real pty — what `s` on a pod runs in the demo.
Nothing runs on this machine: the emulated pod answers simulated commands."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from backends.kubernetes.actions import shell_argv
from tests.kubernetes_emulator.support import KUBECTL, Cluster, client_minor, wait_for
from tests.terminal import TerminalSession


@pytest.fixture
def pod(cluster: Cluster) -> str:
    cluster.emu.create_deployment("staging", "web", replicas=1)
    pods = wait_for(lambda: [p for p in cluster.core.list_namespaced_pod("staging").items
                             if p.status.phase == "Running"], what="a running pod")
    return pods[0].metadata.name


def test_python_client_runs_a_command(cluster: Cluster, pod: str):
    out = stream(cluster.core.connect_get_namespaced_pod_exec, pod, "staging", command=["hostname"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out == pod + "\n"
    resp = stream(cluster.core.connect_get_namespaced_pod_exec, pod, "staging", command=["false"],
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=30)
    assert resp.returncode == 1
    resp.close()


def test_python_client_errors_like_an_api_server(cluster: Cluster, pod: str):
    with pytest.raises(ApiException) as missing:
        stream(cluster.core.connect_get_namespaced_pod_exec, "nope", "staging", command=["hostname"],
               stderr=True, stdin=False, stdout=True, tty=False)
    assert "404" in str(missing.value)  # the client reports the refused handshake with status 0
    with pytest.raises(ApiException) as container:
        stream(cluster.core.connect_get_namespaced_pod_exec, pod, "staging", command=["hostname"],
               container="sidecar", stderr=True, stdin=False, stdout=True, tty=False)
    assert "400" in str(container.value)


def test_operators_and_unknown_programs_are_not_run(cluster: Cluster, pod: str, tmp_path):
    marker = tmp_path / "must-not-exist"
    resp = stream(cluster.core.connect_get_namespaced_pod_exec, pod, "staging",
                  command=["sh", "-c", f"touch {marker}; echo done"], stderr=True, stdin=False, stdout=True,
                  tty=False, _preload_content=False)
    resp.run_forever(timeout=30)
    assert resp.returncode == 2 and "only simple commands" in resp.read_stderr()
    resp.close()
    assert not marker.exists()


kubectl_ws = pytest.mark.skipif(KUBECTL is None or client_minor() < 30,
                                reason="needs kubectl >= 1.30 (exec over WebSocket; older ones speak SPDY only)")


@kubectl_ws
def test_kubectl_exec_runs_a_command_and_returns_its_exit_code(cluster: Cluster, pod: str, kubectl):
    assert kubectl("exec", pod, "--", "hostname").stdout == pod + "\n"
    failed = kubectl("exec", pod, "--", "false", check=False)
    assert failed.returncode == 1
    unknown = kubectl("exec", pod, "--", "rm", "-rf", "/", check=False)
    assert unknown.returncode == 127 and "not found" in unknown.stderr


@kubectl_ws
def test_kubectl_exec_it_is_an_interactive_shell(cluster: Cluster, pod: str, kubectl, tmp_path):
    """The argv the TUI's `s` runs for a pod, on a pty: prompt, echo, a command, exit."""
    argv = [KUBECTL, *shell_argv(None, "staging", pod)[1:]]
    env = {**kubectl.env, "TERM": "xterm"}
    with TerminalSession(argv, env=env, cwd=tmp_path) as term:
        term.expect(f"root@{pod}:/# ".encode(), what="the simulated prompt")
        at = term.mark()
        term.send(b"hostnamx\x7fe\r")  # a typo fixed with backspace, as on a terminal
        term.expect(f"{pod}\r\n".encode(), f"root@{pod}:/# ".encode(), since=at, what="hostname's answer")
        term.send(b"exit\r")
        assert term.wait_exit(60) == 0
