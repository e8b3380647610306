"""What the apiserver fills in and checks before it stores an object."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

from . import crds
from .pods import default_pod_spec
from .resources import ResourceType
from .status import ApiError, invalid

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAMED = {"Namespace", "Service"}


def validate_name(rt: ResourceType, name: str) -> None:
    pattern, limit = (_DNS_LABEL, 63) if rt.kind in _LABEL_NAMED else (_DNS_SUBDOMAIN, 253)
    if not name or len(name) > limit or not pattern.match(name):
        raise invalid(rt, name, f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 '
                                f"{'label' if limit == 63 else 'subdomain'} must consist of lower case "
                                "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                                "character")


def _template_spec(obj: dict[str, Any]) -> None:
    template = obj.setdefault("spec", {}).setdefault("template", {})
    template.setdefault("metadata", {})
    template["spec"] = default_pod_spec(template.get("spec") or {})


def _check_selector(rt: ResourceType, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    match = (spec.get("selector") or {}).get("matchLabels") or {}
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    name = obj["metadata"].get("name", "")
    if not spec.get("selector"):
        raise invalid(rt, name, "spec.selector: Required value")
    if any(labels.get(k) != v for k, v in match.items()):
        raise invalid(rt, name, "spec.template.metadata.labels: Invalid value: "
                                f"{labels!r}: `selector` does not match template `labels`")


def apply_defaults(rt: ResourceType, obj: dict[str, Any], cluster_ip: Any) -> None:
    """Fill defaults in place; `cluster_ip()` allocates a Service IP."""
    kind = rt.kind
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        _check_selector(rt, obj)
        _template_spec(obj)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault("strategy", {"type": "RollingUpdate",
                                         "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
            spec.setdefault("progressDeadlineSeconds", 600)
        if kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    elif kind == "DaemonSet":
        _check_selector(rt, obj)
        _template_spec(obj)
    elif kind in ("Job", "CronJob"):
        spec = obj.setdefault("spec", {})
        if kind == "Job":
            spec.setdefault("completions", 1)
            spec.setdefault("parallelism", 1)
            spec.setdefault("backoffLimit", 6)
            _template_spec(obj)
            if spec["template"]["spec"].get("restartPolicy") == "Always":
                raise invalid(rt, obj["metadata"].get("name", ""),
                              'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"')
    elif kind == "Pod":
        obj["spec"] = default_pod_spec(obj.get("spec") or {})
        if not obj["spec"].get("containers"):
            raise invalid(rt, obj["metadata"].get("name", ""), "spec.containers: Required value")
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if "clusterIP" not in spec:
            spec["clusterIP"] = cluster_ip()
            spec["clusterIPs"] = [spec["clusterIP"]]
        for port in spec.get("ports", []):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind == "Namespace":
        name = obj["metadata"].get("name", "")
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        # stringData is write-only: merged into data (base64), over its keys, as the apiserver does
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data
    elif kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
        crds.validate(rt, obj)
    elif kind == "PersistentVolumeClaim":
        obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        obj["spec"].setdefault("storageClassName", "standard")
        obj.setdefault("status", {"phase": "Bound", "accessModes": obj["spec"].get("accessModes", []),
                                  "capacity": ((obj["spec"].get("resources") or {}).get("requests") or {})})
        obj["spec"].setdefault("volumeName", f"pvc-{uuid.uuid4()}")


def check_body(rt: ResourceType, obj: Any, namespace: str | None, name: str | None = None) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ApiError(400, "the body of the request must be a JSON object")
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if kind and kind != rt.kind:
        raise ApiError(400, f"the API version in the data ({api_version}) does not match the expected API "
                            f"version ({rt.api_version})" if api_version != rt.api_version
                       else f"kind {kind} does not match {rt.kind}")
    if api_version and api_version != rt.api_version:
        raise ApiError(400, f"the API version in the data ({api_version}) does not match the expected API "
                            f"version ({rt.api_version})")
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise ApiError(400, "metadata must be an object")
    if rt.namespaced:
        if meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise ApiError(400, "the namespace of the provided object does not match the namespace sent on "
                                "the request")
        meta["namespace"] = namespace
    if name is not None and meta.get("name") and meta["name"] != name:
        raise ApiError(400, f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
    return obj
