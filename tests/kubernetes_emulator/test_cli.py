"""`python -m backends.sim.k8s_emulator`: serves, seeds the demo (and bench pods), writes a kubeconfig,
logs its collector's passes when asked, stops on SIGTERM."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

from kubernetes import client, config

from tests.kubernetes_emulator.support import wait_for


def test_cli_serves_the_demo_and_stops_on_sigterm(tmp_path: Path):
    kubeconfig = tmp_path / "kc"
    repo = Path(__file__).resolve().parents[2]
    stderr = (tmp_path / "stderr").open("w")  # a file, not a pipe: the GC lines must never block the server
    proc = subprocess.Popen([sys.executable, "-m", "backends.sim.k8s_emulator", "--seed", "demo",
                             "--kubeconfig", str(kubeconfig), "--log-interval", "0.2",
                             "--pods", "3", "--log-gc-pauses", "0.001", "--gc-freeze-survivors"],
                            cwd=repo, stdout=subprocess.PIPE, stderr=stderr, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        wait_for(lambda: any("listening on http://127.0.0.1:" in line for line in lines), timeout=120,
                 what="the emulator to start")
        api = config.new_client_from_config(config_file=str(kubeconfig))
        try:
            core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
            assert {d.metadata.name for d in apps.list_namespaced_deployment("prod").items} == {"web", "api",
                                                                                               "worker"}
            web_pod = next(p.metadata.name for p in core.list_namespaced_pod("staging", label_selector="app=web").items)
            first = core.read_namespaced_pod_log(web_pod, "staging")
            wait_for(lambda: len(core.read_namespaced_pod_log(web_pod, "staging")) > len(first), timeout=60,
                     what="the demo's log generator to add lines")
            pods = {p.metadata.name for p in core.list_namespaced_pod("staging").items}
            assert {"pod-00000", "pod-00001", "pod-00002"} <= pods  # --pods: in the first namespace
        finally:
            api.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        stderr.close()
    assert proc.returncode == 0
    # --log-gc-pauses: each collector pass of at least that long on stderr, for the benchmarks
    assert re.search(r"^gc pause \d+\.\d{3} gen[012] \d+\.\d \d+\.\d$", (tmp_path / "stderr").read_text(), re.MULTILINE)
