"""Xray links on the emulator (issue 17): Ingress → Service → Pods (selectors), Deployment →
ReplicaSet → Pod, StatefulSet/Job → Pod, CronJob → Job (owner references), Pod → PVC /
ConfigMap / Secret (volumes, envFrom, env valueFrom), HPA → its target, Pod → Node; health
rolled up so that a crashing pod makes the Ingress red; `envdeck xray --json` on the CLI."""

from __future__ import annotations

import json

from backends.sim.k8s_emulator import manifests
from tests.kubernetes.support import NS, eventually
from tests.kubernetes.test_cli_reconcile import envdeck
from tui.core.env_state import EnvState
from tui.core.model import Health, worst_health
from tui.core.xray import XrayNode, xray

CONFIG = """environments:
  staging:
    kubernetes:
      kubeconfig: {kubeconfig}
      namespace: {ns}
"""


def _meta(name: str) -> dict:
    return {"name": name, "namespace": NS}


def _web() -> dict:
    dep = manifests.deployment(NS, "web", 2, "nginx:1.27", None, None)
    spec = dep["spec"]["template"]["spec"]
    spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                       {"name": "conf", "configMap": {"name": "settings"}},
                       {"name": "tls", "projected": {"sources": [{"secret": {"name": "web-tls"}}]}}]
    container = spec["containers"][0]
    container["env"] = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "pw"}}}]
    container["envFrom"] = [{"configMapRef": {"name": "flags"}}]  # no such ConfigMap: the xray's Missing node
    return dep


def seed(emulator) -> None:
    emulator.create_configmap(NS, "settings", {"mode": "fast"})
    emulator.create_secret(NS, "db-creds", {"pw": "s3cret"})
    emulator.create_secret(NS, "web-tls", {"tls.crt": "x"})
    emulator.create_pvc(NS, "data")
    emulator.create("apps/deployments", _web())
    emulator.create_service(NS, "web", selector={"app": "web"})
    emulator.create("networking.k8s.io/ingresses", {"metadata": _meta("web"), "spec": {"rules": [
        {"host": "web.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    emulator.create("autoscaling/horizontalpodautoscalers", {"metadata": _meta("web"), "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2, "maxReplicas": 4}})
    emulator.create_statefulset(NS, "db", replicas=1)
    cron = emulator.create("batch/cronjobs", {"metadata": _meta("nightly"), "spec": {
        "schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}}})
    job = manifests.job(NS, "nightly-1", "busybox:1.36", 1, None, None)
    job["metadata"]["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly",
                                           "uid": cron["metadata"]["uid"], "controller": True}]
    emulator.create("batch/jobs", job)


async def observed_state(emulator, backend) -> EnvState:
    async def ready():
        obs = await backend.observe()
        pods = [r for r in obs.resources if r.kind == "Pod"]
        web = [p for p in pods if (p.attributes.get("labels") or {}).get("app") == "web"]
        jobs = [p for p in pods if (p.attributes.get("owner") or "").startswith("Job/")]
        return obs if len(web) == 2 and jobs and any(p.name.startswith("db-") for p in pods) else None

    obs = await eventually(ready, "the controllers' ReplicaSet, pods and the job's pod")
    return EnvState("staging", "observe", resources={"kubernetes": {r.id: r for r in obs.resources}})


def flat(nodes: list[XrayNode]) -> dict[str, XrayNode]:
    out = {}
    for node in nodes:
        out[node.resource_id] = node
        out.update(flat(node.children))
    return out


async def test_kubernetes_links_both_directions_and_the_red_root(emulator, backend):
    seed(emulator)
    state = await observed_state(emulator, backend)
    sources = {"kubernetes": backend.resource_links}
    web_pods = sorted(r.id for r in state.all_resources()
                      if r.kind == "Pod" and (r.attributes.get("labels") or {}).get("app") == "web")
    sick = web_pods[0].rsplit("/", 1)[1]
    emulator.inject_fault(NS, sick, "CrashLoopBackOff")
    state = await observed_state(emulator, backend)
    assert state.resource(f"kubernetes/Pod/{sick}").health is Health.DEGRADED

    tree = xray(state, "kubernetes/Ingress/web", sources)
    [service] = tree.depends_on
    assert (service.resource_id, service.relation) == ("kubernetes/Service/web", "routes to")
    assert sorted(p.resource_id for p in service.children) == web_pods
    assert {p.relation for p in service.children} == {"selects"}
    assert service.children[0].resource_id == f"kubernetes/Pod/{sick}", "the worst child first"
    assert service.rolled is Health.DEGRADED and tree.rolled is Health.DEGRADED, "the red root is obvious"
    assert tree.root.health is not Health.DEGRADED  # the Ingress itself is only waiting for its address
    pod = service.children[1]
    refs = {(c.resource_id, c.relation) for c in pod.children}
    assert {("kubernetes/PersistentVolumeClaim/data", "mounts"), ("kubernetes/ConfigMap/settings", "mounts"),
            ("kubernetes/Secret/web-tls", "mounts"), ("kubernetes/Secret/db-creds", "env from"),
            ("kubernetes/ConfigMap/flags", "env from")} <= refs
    assert any(c.relation == "runs on" and c.resource_id.startswith("kubernetes/Node/") for c in pod.children)
    flags = next(c for c in pod.children if c.resource_id == "kubernetes/ConfigMap/flags")
    assert flags.missing and flags.health is Health.MISSING

    dep = xray(state, "kubernetes/Deployment/web", sources)
    [rs] = dep.depends_on
    assert rs.kind == "ReplicaSet" and rs.relation == "owns"
    assert sorted(p.resource_id for p in rs.children) == web_pods
    assert dep.rolled is Health.DEGRADED
    assert [(n.resource_id, n.relation) for n in dep.depended_on_by] == [
        ("kubernetes/HorizontalPodAutoscaler/web", "scales")]

    # the other direction: who breaks when the ConfigMap does
    up = flat(xray(state, "kubernetes/ConfigMap/settings", sources).depended_on_by)
    assert set(web_pods) <= set(up) and "kubernetes/Deployment/web" in up
    assert "kubernetes/Ingress/web" in up and "kubernetes/HorizontalPodAutoscaler/web" in up

    cron = xray(state, "kubernetes/CronJob/nightly", sources)
    [job] = cron.depends_on
    assert (job.resource_id, job.relation) == ("kubernetes/Job/nightly-1", "owns")
    assert job.children and all(c.kind == "Pod" and c.relation == "owns" for c in job.children)
    sts = xray(state, "kubernetes/StatefulSet/db", sources)
    assert sts.depends_on and all(c.kind == "Pod" and c.relation == "owns" for c in sts.depends_on)


async def test_cli_xray_json_and_tree(emulator, kubeconfig, tmp_path):
    seed(emulator)
    config = tmp_path / "envdeck.yaml"
    config.write_text(CONFIG.format(kubeconfig=kubeconfig, ns=NS))
    common = ["--config", str(config), "--state-dir", str(tmp_path / "state")]

    async def both_pods():
        pods = emulator.list("pods", NS, "app=web")
        return len(pods) == 2 and all((p.get("status") or {}).get("phase") == "Running" for p in pods)

    await eventually(both_pods, "web's pods")
    code, out, err = await envdeck("xray", "staging", "kubernetes/Ingress/web", "--json", *common)
    assert code == 0, err
    data = json.loads(out)
    assert data["resource"]["id"] == "kubernetes/Ingress/web" and data["env"] == "staging"
    [service] = data["depends_on"]
    assert service["id"] == "kubernetes/Service/web" and len(service["children"]) == 2
    assert {c["relation"] for c in service["children"]} == {"selects"}
    assert data["depended_on_by"] == []

    code, out, err = await envdeck("xray", "staging", "kubernetes/Deployment/web", *common)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("kubernetes/Deployment/web")
    assert any(line.startswith("└── owns: ReplicaSet/web-") for line in lines)
    assert any("│" in line or "    └── owns: Pod/web-" in line for line in lines)
    assert "└── scales: HorizontalPodAutoscaler/web" in out

    code, out, err = await envdeck("xray", "staging", "kubernetes/Deployment/nope", *common)
    assert code == 1 and "no resource kubernetes/Deployment/nope in staging" in err and "Traceback" not in err
    code, out, err = await envdeck("xray", "prod", "kubernetes/Deployment/web", *common)
    assert code in (2, 3) and "Traceback" not in err


async def test_the_demo_ingress_leads_to_the_crashing_api_pod(emulator, backend):
    from backends.sim.k8s_emulator.demo_seed import seed_demo

    seeded = seed_demo(emulator, namespaces=(NS,))
    crashing = f"kubernetes/Pod/{seeded['faulty_pods'][NS]['CrashLoopBackOff']}"
    obs = await backend.observe()
    state = EnvState("staging", "observe", resources={"kubernetes": {r.id: r for r in obs.resources}})
    sources = {"kubernetes": backend.resource_links}
    tree = xray(state, "kubernetes/Ingress/web", sources)
    assert tree.root.health is Health.PROGRESSING and tree.rolled is Health.DEGRADED
    below = {n.resource_id: n for n in tree.depends_on}
    api = below["kubernetes/Service/api"]
    assert api.relation == "routes to" and api.rolled is Health.DEGRADED
    assert tree.depends_on[0] is api, "the red branch first"
    assert api.children[0].resource_id == crashing
    refs = {(c.resource_id, c.relation) for c in api.children[0].children}
    assert {("kubernetes/ConfigMap/app-config", "env from"), ("kubernetes/Secret/db-credentials", "env from")} <= refs
    pod = state.resource(crashing)
    assert pod.attributes["refs"] == {"env": {"ConfigMap": ["app-config"], "Secret": ["db-credentials"]}}
    up = flat(xray(state, crashing, sources).depended_on_by)
    assert {"kubernetes/Deployment/api", "kubernetes/HorizontalPodAutoscaler/api", "kubernetes/Service/api",
            "kubernetes/Ingress/web"} <= set(up)


async def test_a_node_keeps_its_provider_id_and_links_to_its_instance(emulator, backend):
    node = manifests.node("ip-10-0-1-7", "10.0.1.7")
    node["spec"]["providerID"] = "aws:///eu-west-1a/i-0abc1234567890def"
    emulator.create("nodes", node)
    obs = await backend.observe()
    found = {r.id: r for r in obs.resources}
    res = found["kubernetes/Node/ip-10-0-1-7"]
    assert res.attributes["provider_id"] == "aws:///eu-west-1a/i-0abc1234567890def"
    state = EnvState("staging", "observe", resources={"kubernetes": found})
    [instance] = xray(state, res.id, {"kubernetes": backend.resource_links}).depends_on
    assert (instance.resource_id, instance.relation) == ("aws/ec2-instance/i-0abc1234567890def", "is")
    assert instance.missing and instance.health is Health.UNKNOWN  # no AWS backend in this environment


def _everything(nodes: list[XrayNode]) -> list[XrayNode]:
    out = []
    for node in nodes:
        out += [node, *_everything(node.children)]
    return out


async def test_the_cluster_ca_a_pod_mounts_is_there_and_the_crash_is_the_root(emulator, backend):
    """Finding 9: every namespace has its kube-root-ca.crt ConfigMap (as the root CA publisher of a
    real cluster writes it), so a pod mounting the cluster CA does not roll up as Missing: what
    the Ingress depends on is Healthy while its pods are, and its red root is the crashing pod."""
    dep = manifests.deployment(NS, "ca-reader", 2, "nginx:1.27", None, None)
    dep["spec"]["template"]["spec"]["volumes"] = [{"name": "cluster-ca", "configMap": {"name": "kube-root-ca.crt"}}]
    emulator.create("apps/deployments", dep)
    emulator.create_service(NS, "ca-reader", selector={"app": "ca-reader"})
    emulator.create("networking.k8s.io/ingresses", {"metadata": _meta("ca-reader"), "spec": {"rules": [
        {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "ca-reader", "port": {"number": 80}}}}]}}]}})
    sources = {"kubernetes": backend.resource_links}

    async def observed(wanted: Health):
        obs = await backend.observe()
        state = EnvState("staging", "observe", resources={"kubernetes": {r.id: r for r in obs.resources}})
        pods = [r for r in obs.resources if r.kind == "Pod" and r.name.startswith("ca-reader-")]
        if len(pods) != 2 or "kubernetes/Ingress/ca-reader" not in state.resources["kubernetes"]:
            return None
        tree = xray(state, "kubernetes/Ingress/ca-reader", sources)
        below = worst_health(n.rolled for n in tree.depends_on)  # the Ingress itself waits for an address
        return tree if below is wanted and worst_health([tree.root.health, below]) is tree.rolled else None

    tree = await eventually(lambda: observed(Health.HEALTHY), "the ca-reader pods running")
    [ca] = {n.resource_id: n for n in _everything(tree.depends_on) if n.kind == "ConfigMap"}.values()
    assert ca.resource_id == "kubernetes/ConfigMap/kube-root-ca.crt" and not ca.missing
    assert ca.health is Health.HEALTHY and ca.relation == "mounts"

    crashing = emulator.pod_names(NS, "app=ca-reader")[0]
    emulator.inject_fault(NS, crashing, "CrashLoopBackOff")
    tree = await eventually(lambda: observed(Health.DEGRADED), "the crash observed")
    red = {n.resource_id for n in _everything(tree.depends_on) if n.health in (Health.DEGRADED, Health.MISSING)}
    assert red == {f"kubernetes/Pod/{crashing}"}


async def test_the_demo_ingress_has_no_missing_dependency(emulator, backend):
    """The demo's Ingress/web: what it depends on is all there (no Missing ConfigMap under any
    pod), so its red roll-up is only the crashing api pod."""
    from backends.sim.k8s_emulator.demo_seed import seed_demo

    seeded = seed_demo(emulator, namespaces=(NS,))
    crashing = f"kubernetes/Pod/{seeded['faulty_pods'][NS]['CrashLoopBackOff']}"
    obs = await backend.observe()
    state = EnvState("staging", "observe", resources={"kubernetes": {r.id: r for r in obs.resources}})
    assert "kubernetes/ConfigMap/kube-root-ca.crt" in state.resources["kubernetes"]
    below = _everything(xray(state, "kubernetes/Ingress/web", {"kubernetes": backend.resource_links}).depends_on)
    assert [n.resource_id for n in below if n.missing or n.health is Health.MISSING] == []
    assert crashing in {n.resource_id for n in below if n.health is Health.DEGRADED}


async def test_cli_xray_with_an_unreachable_backend_says_so(kubeconfig, tmp_path):
    import re

    dead = tmp_path / "dead-kubeconfig"  # the emulator's kubeconfig, pointed at a port nobody listens on
    dead.write_text(re.sub(r"server: \S+", "server: https://127.0.0.1:1", kubeconfig.read_text()))
    config = tmp_path / "envdeck.yaml"
    config.write_text(CONFIG.format(kubeconfig=dead, ns=NS))
    common = ["--config", str(config), "--state-dir", str(tmp_path / "state")]
    code, out, err = await envdeck("xray", "staging", "kubernetes/Deployment/web", *common)
    assert code == 1 and "Traceback" not in err
    assert "kubernetes is unreachable" in err and "no resource" not in err, err
