"""A believable cluster for `envdeck demo` and manual runs.

Per namespace: Deployments web, api and worker, a postgres StatefulSet with its
PVC, a log-shipper DaemonSet, a finished migration Job, Services, a ConfigMap,
Secrets (whose values envdeck must never show), a CrashLoopBackOff pod (api) and
an OOMKilled pod (worker) with their Warning events, pod metrics, and pods that
keep logging (`Emulator.start_log_generators`). The first namespace's `web`
runs fewer replicas than the returned desired state declares: drift to repair.

The kinds found by discovery, each with a fault worth finding (`seed_more_kinds`):
an Ingress still waiting for its load balancer, an HPA that cannot get its metrics,
a suspended CronJob, a PodDisruptionBudget that allows no disruption (node drains
would block), a default-deny NetworkPolicy, and a cert-manager-like Certificate CRD
whose certificate is not Ready (its Secret does not exist).

Xray (issue 17): the Ingress routes `/` to web and `/api` to api, whose pods read app-config
(envFrom) and db-credentials (env): `X` on the Ingress leads to the crashing api pod.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .resources import lookup

if TYPE_CHECKING:
    from .emulator import Emulator

_PATHS = ("/", "/healthz", "/api/v1/orders", "/api/v1/users/42", "/static/app.js", "/api/v1/cart", "/login")
_WORKER_JOBS = ("invoice.render", "email.send", "report.daily", "thumbnail.resize", "webhook.deliver")


def _api_containers(image: str) -> list[dict[str, Any]]:
    return [{
        "name": "api", "image": image,
        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
        "env": [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "url"}}},
                {"name": "LOG_LEVEL", "value": "info"}],
        "envFrom": [{"configMapRef": {"name": "app-config"}}],
        "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 5,
                           "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False},
    }]


def _worker_containers(image: str) -> list[dict[str, Any]]:
    # deliberately weak: no limits, no readiness probe, a mutable tag (compliance findings in the demo)
    return [{"name": "worker", "image": image, "args": ["--queue", "default", "--concurrency", "8"],
             "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]


def seed_demo(emu: Emulator, namespaces: tuple[str, ...] = ("staging", "prod"), scale: int = 1) -> dict[str, Any]:
    """Populate the emulator. Returns {"namespaces", "desired": {ns: [WorkloadDesired dicts]},
    "faulty_pods": {ns: {"CrashLoopBackOff": pod, "OOMKilled": pod}}, "secrets": {ns: [names]}}."""
    desired: dict[str, list[dict[str, Any]]] = {}
    faulty: dict[str, dict[str, str]] = {}
    secrets: dict[str, list[str]] = {}
    for index, ns in enumerate(namespaces):
        emu.add_namespace(ns)
        web_replicas, api_replicas, worker_replicas = 3 * scale, 2 * scale, 2 * scale
        api_image = "ghcr.io/acme/api:2.4.1"
        emu.create_deployment(ns, "web", replicas=web_replicas - (1 if index == 0 else 0), image="nginx:1.27")
        emu.create_deployment(ns, "api", replicas=api_replicas, containers=_api_containers(api_image),
                              labels={"app": "api", "tier": "backend"})
        emu.create_deployment(ns, "worker", replicas=worker_replicas,
                              containers=_worker_containers("ghcr.io/acme/worker:latest"),
                              labels={"app": "worker", "tier": "backend"})
        emu.create_statefulset(ns, "postgres", replicas=1, image="postgres:16.4")
        emu.create_pvc(ns, "data-postgres-0", storage="20Gi")
        emu.create_daemonset(ns, "log-shipper", image="fluent/fluent-bit:3.1")
        emu.create_job(ns, "db-migrate-2024", image="ghcr.io/acme/api:2.4.1", command=["./migrate", "up"])
        emu.create_service(ns, "web", selector={"app": "web"}, port=80, target_port=80, type="LoadBalancer")
        emu.create_service(ns, "api", selector={"app": "api"}, port=8080, target_port=8080)
        emu.create_service(ns, "postgres", selector={"app": "postgres"}, port=5432, target_port=5432)
        emu.create_configmap(ns, "app-config", {"FEATURE_FLAGS": "checkout-v2,search-beta", "REGION": "eu-west-1"})
        emu.create_secret(ns, "db-credentials", {"username": "app", "password": "demo-s3cr3t-never-shown",
                                                 "url": "postgres://app:demo-s3cr3t-never-shown@postgres:5432/app"})
        emu.create_secret(ns, "tls-web", {"tls.crt": "-----BEGIN CERTIFICATE-----\n...",
                                          "tls.key": "-----BEGIN PRIVATE KEY-----\n..."}, type="kubernetes.io/tls")
        secrets[ns] = ["db-credentials", "tls-web"]
        api_pod = emu.pod_names(ns, "app=api")[0]
        worker_pod = emu.pod_names(ns, "app=worker")[0]
        emu.inject_fault(ns, api_pod, "CrashLoopBackOff")
        emu.inject_fault(ns, worker_pod, "OOMKilled")
        faulty[ns] = {"CrashLoopBackOff": api_pod, "OOMKilled": worker_pod}
        emu.add_event(ns, "Deployment", "worker", "FailedCreate",
                      "Error creating: pods \"worker-\" is forbidden: exceeded quota: compute-resources",
                      type="Warning", count=3, component="replicaset-controller")
        emu.add_event(ns, "Pod", "postgres-0", "Unhealthy",
                      "Readiness probe failed: pg_isready: accepting connections timed out", type="Warning",
                      count=2)
        rng = random.Random(f"{ns}-metrics")
        for pod in emu.pod_names(ns):
            emu.set_pod_metrics(ns, pod, cpu=f"{rng.randint(5, 400)}m", memory=f"{rng.randint(40, 480)}Mi")
        seed_more_kinds(emu, ns, with_load_balancer=index > 0)
        desired[ns] = [
            {"kind": "Deployment", "name": "web", "replicas": web_replicas, "image": "nginx:1.27"},
            {"kind": "Deployment", "name": "api", "replicas": api_replicas, "image": api_image},
            {"kind": "Deployment", "name": "worker", "replicas": worker_replicas},
            {"kind": "StatefulSet", "name": "postgres", "replicas": 1},
        ]
    return {"namespaces": list(namespaces), "desired": desired, "faulty_pods": faulty, "secrets": secrets}


CERTIFICATE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "certificates.cert-manager.io"},
    "spec": {"group": "cert-manager.io", "scope": "Namespaced",
             "names": {"plural": "certificates", "singular": "certificate", "kind": "Certificate",
                       "shortNames": ["cert", "certs"], "categories": ["cert-manager"]},
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]},
}
_STAMP = "2026-01-01T03:00:00Z"


def _cond(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": _STAMP}


def seed_more_kinds(emu: Emulator, ns: str, with_load_balancer: bool = False) -> None:
    """Ingress, HPA, CronJob, PDB, NetworkPolicy and a Certificate custom resource in `ns`
    (the Certificate CRD is created once), their statuses as their controllers would write them."""
    if emu.get("apiextensions.k8s.io/customresourcedefinitions", None, CERTIFICATE_CRD["metadata"]["name"]) is None:
        emu.create("apiextensions.k8s.io/customresourcedefinitions", CERTIFICATE_CRD)
    meta = lambda name: {"name": name, "namespace": ns}  # noqa: E731 - a tiny local shorthand
    emu.create("networking.k8s.io/ingresses", {"metadata": meta("web"), "spec": {
        "ingressClassName": "nginx", "tls": [{"hosts": [f"{ns}.shop.example.com"], "secretName": "web-tls"}],
        "rules": [{"host": f"{ns}.shop.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
            {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 8080}}}},
        ]}}]}})
    if with_load_balancer:
        emu.set_status("networking.k8s.io/ingresses", ns, "web",
                       {"loadBalancer": {"ingress": [{"hostname": f"lb-{ns}.elb.example.com"}]}})
    emu.create("autoscaling/horizontalpodautoscalers", {"metadata": meta("api"), "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
        "minReplicas": 2, "maxReplicas": 6,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                               "averageUtilization": 70}}}]}})
    emu.set_status("autoscaling/horizontalpodautoscalers", ns, "api", {
        "currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": None, "conditions": [
            _cond("AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's "
                                                              "current scale"),
            _cond("ScalingActive", "False", "FailedGetResourceMetric",
                  "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get "
                  "metrics for resource cpu: no metrics returned from resource metrics API")]})
    emu.create("batch/cronjobs", {"metadata": meta("nightly-report"), "spec": {
        "schedule": "30 2 * * *", "suspend": True, "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": {
            "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{
                "name": "report", "image": "ghcr.io/acme/api:2.4.1", "command": ["./report", "--daily"]}]}}}}}})
    emu.set_status("batch/cronjobs", ns, "nightly-report", {"lastScheduleTime": _STAMP,
                                                              "lastSuccessfulTime": _STAMP})
    emu.create("policy/poddisruptionbudgets", {"metadata": meta("postgres"), "spec": {
        "minAvailable": 1, "selector": {"matchLabels": {"app": "postgres"}}}})
    emu.set_status("policy/poddisruptionbudgets", ns, "postgres", {
        "observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1,
        "expectedPods": 1, "conditions": [_cond("DisruptionAllowed", "False", "InsufficientPods", "")]})
    emu.create("networking.k8s.io/networkpolicies", {"metadata": meta("default-deny"), "spec": {
        "podSelector": {}, "policyTypes": ["Ingress"]}})
    emu.create("cert-manager.io/certificates", {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                                                "metadata": meta("web-tls"), "spec": {
        "secretName": "web-tls-cert", "dnsNames": [f"{ns}.shop.example.com"],
        "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}}})
    emu.set_status("cert-manager.io/certificates", ns, "web-tls", {"observedGeneration": 1, "conditions": [
        _cond("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist")]})


def demo_log_line(pod: dict[str, Any], rng: random.Random) -> str:
    """One plausible log line for a pod of the demo (access log, worker job, database)."""
    app = (pod["metadata"].get("labels") or {}).get("app", "")
    now = datetime.now(UTC)
    if app == "web":
        status = rng.choice((200, 200, 200, 200, 304, 404, 500))
        return (f'10.244.0.{rng.randint(2, 250)} - - [{now:%d/%b/%Y:%H:%M:%S +0000}] "GET {rng.choice(_PATHS)} '
                f'HTTP/1.1" {status} {rng.randint(200, 9000)} "-" "Mozilla/5.0"')
    if app == "api":
        return (f'{{"ts":"{now:%Y-%m-%dT%H:%M:%S.%f}Z","level":"{rng.choice(("info", "info", "warn", "error"))}",'
                f'"msg":"request","path":"{rng.choice(_PATHS)}","ms":{rng.randint(1, 900)}}}')
    if app == "worker":
        return f"{now:%H:%M:%S} INFO job {rng.choice(_WORKER_JOBS)} id={rng.randint(10000, 99999)} done"
    if app == "postgres":
        return f"{now:%Y-%m-%d %H:%M:%S.%f} UTC [{rng.randint(100, 999)}] LOG:  checkpoint complete"
    return f"{now:%H:%M:%S} heartbeat"


async def run_log_generators(emu: Emulator, interval_s: float, namespaces: tuple[str, ...] | None,
                             lines_per_tick: int) -> None:
    """Every `interval_s`, append `lines_per_tick` lines to every running pod (of `namespaces`)."""
    rng = random.Random(7)
    pods = lookup("pods")
    while True:
        await asyncio.sleep(interval_s)
        for pod in list(emu.store.objects(pods)):
            if namespaces is not None and pod["metadata"].get("namespace") not in namespaces:
                continue
            if (pod.get("status") or {}).get("phase") != "Running":
                continue
            for _ in range(lines_per_tick):
                emu.logs.append(pod, pod["spec"]["containers"][0]["name"], demo_log_line(pod, rng))
