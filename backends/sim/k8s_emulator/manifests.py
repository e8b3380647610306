"""Manifests for the emulator's seeding helpers: what `kubectl create` would send."""

from __future__ import annotations

import base64
from typing import Any


def _containers(name: str, image: str, containers: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if containers:
        return containers
    return [{"name": name, "image": image, "ports": [{"containerPort": 80, "protocol": "TCP"}],
             "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                           "limits": {"cpu": "500m", "memory": "256Mi"}},
             "readinessProbe": {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "periodSeconds": 10,
                                "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3}}]


def _template(labels: dict[str, str], name: str, image: str, containers: list[dict[str, Any]] | None
              ) -> dict[str, Any]:
    return {"metadata": {"labels": dict(labels)}, "spec": {"containers": _containers(name, image, containers)}}


def deployment(namespace: str, name: str, replicas: int, image: str, labels: dict[str, str] | None,
               containers: list[dict[str, Any]] | None) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": _template(labels, name, image, containers),
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}}


def statefulset(namespace: str, name: str, replicas: int, image: str, labels: dict[str, str] | None,
                containers: list[dict[str, Any]] | None, service_name: str | None) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "serviceName": service_name or name, "podManagementPolicy": "OrderedReady",
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                     "template": _template(labels, name, image, containers)}}


def daemonset(namespace: str, name: str, image: str, labels: dict[str, str] | None,
              containers: list[dict[str, Any]] | None) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"selector": {"matchLabels": dict(labels)},
                     "updateStrategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                     "template": _template(labels, name, image, containers)}}


def job(namespace: str, name: str, image: str, completions: int, command: list[str] | None,
        labels: dict[str, str] | None) -> dict[str, Any]:
    labels = labels or {"job-name": name}
    container: dict[str, Any] = {"name": name, "image": image}
    if command:
        container["command"] = command
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"completions": completions, "parallelism": 1, "backoffLimit": 6,
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [container], "restartPolicy": "Never"}}}}


def service(namespace: str, name: str, selector: dict[str, str] | None, port: int, target_port: int,
            type_: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {"type": type_, "selector": dict(selector or {"app": name}),
                     "ports": [{"name": "http", "port": port, "targetPort": target_port, "protocol": "TCP"}]}}


def pvc(namespace: str, name: str, storage: str, storage_class: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                     "volumeMode": "Filesystem", "resources": {"requests": {"storage": storage}}}}


def secret(namespace: str, name: str, data: dict[str, str | bytes], type_: str) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "type": type_, "data": encoded}


def configmap(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": dict(data)}


#: the data of every namespace's `kube-root-ca.crt` ConfigMap (the emulator serves plain HTTP:
#: a placeholder bundle, not a certificate anything verifies with)
ROOT_CA_PEM = "-----BEGIN CERTIFICATE-----\nZW52ZGVjayBlbXVsYXRvcg==\n-----END CERTIFICATE-----\n"
ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
                       "endpoints such as the internal service IP or kubernetes.default.svc. No other usage "
                       "is guaranteed across distributions of Kubernetes clusters.")


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **(labels or {})}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def node(name: str, address: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64", **(labels or {})}},
            "spec": {"podCIDR": "10.244.0.0/24"},
            "status": {
                "capacity": {"cpu": "4", "memory": "16318412Ki", "pods": "110", "ephemeral-storage": "100Gi"},
                "allocatable": {"cpu": "4", "memory": "16216012Ki", "pods": "110", "ephemeral-storage": "95Gi"},
                "conditions": [
                    {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                     "message": "kubelet has sufficient memory available"},
                    {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
                     "message": "kubelet has no disk pressure"},
                    {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID",
                     "message": "kubelet has sufficient PID available"},
                    {"type": "Ready", "status": "True", "reason": "KubeletReady",
                     "message": "kubelet is posting ready status"}],
                "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
                "nodeInfo": {"kubeletVersion": "v1.32.4", "kubeProxyVersion": "v1.32.4",
                             "containerRuntimeVersion": "containerd://1.7.24", "osImage": "Debian GNU/Linux 12",
                             "kernelVersion": "6.1.0-emulated", "operatingSystem": "linux",
                             "architecture": "amd64", "machineID": "", "systemUUID": "", "bootID": ""}}}
