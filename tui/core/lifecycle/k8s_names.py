"""Rendered Kubernetes object names are checked at plan time, as the API server would.

A name filled from a template parameter (`metadata.name: "cfg-{branch}"`) ends up in an API URL
(`…/configmaps/NAME`). The adapter percent-encodes every path segment
(backends/kubernetes/api_paths.py), and before that the plan refuses a name the kind does not
allow, naming the template place and the parameters it was filled from:

- RFC 1123 subdomain (most kinds: ConfigMap, Secret, Deployment, Job, Ingress, …): at most 253
  lowercase letters, digits, '-' and '.', starting and ending with a letter or digit;
- RFC 1123 label (Namespace) and RFC 1035 label (Service, starting with a letter): at most 63
  lowercase letters, digits and '-';
- any other kind (custom resources, RBAC): a path segment name (kube-apiserver's
  IsValidPathSegmentName: not `.` or `..`, no '/' or '%'), no control characters, at most 253."""

from __future__ import annotations

import re

from tui.core.errors import InvalidRequest
from tui.core.lifecycle.template import pieces

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_LABEL_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_LABEL_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

SUBDOMAIN_KINDS = frozenset({
    "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim", "PersistentVolume", "Pod", "Deployment",
    "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Ingress", "NetworkPolicy", "Endpoints",
    "HorizontalPodAutoscaler", "PodDisruptionBudget", "LimitRange", "ResourceQuota", "StorageClass",
})
RULES = {
    "Namespace": (_LABEL_1123, 63, "an RFC 1123 label: at most 63 lowercase letters, digits or '-', "
                  "starting and ending with a letter or digit"),
    "Service": (_LABEL_1035, 63, "an RFC 1035 label: at most 63 lowercase letters, digits or '-', "
                "starting with a letter and ending with a letter or digit"),
}
SUBDOMAIN_RULE = (_SUBDOMAIN, 253, "an RFC 1123 subdomain: at most 253 lowercase letters, digits, '-' or '.', "
                  "starting and ending with a letter or digit")


def name_problem(kind: str, name: str) -> str | None:
    """Why `name` is not a valid name of `kind`, or None."""
    rule = RULES.get(kind) or (SUBDOMAIN_RULE if kind in SUBDOMAIN_KINDS else None)
    if rule is not None:
        pattern, longest, words = rule
        return None if len(name) <= longest and pattern.match(name) else f"must be {words}"
    if name in (".", "..") or "/" in name or "%" in name or _CONTROL.search(name) or len(name) > 253:
        return "must be a path segment name: not '.' or '..', no '/', '%' or control characters, at most 253"
    return None


def check_name(kind: str, name: str, raw: object, values: dict[str, object], where: str) -> None:
    """InvalidRequest naming `where` (the template place) and the parameters `raw` (the name as
    the template writes it) was filled from, when `name` is not a valid `kind` name."""
    problem = name_problem(kind, name)
    if problem is None:
        return
    try:
        used = [p.text for p in pieces(raw) if p.placeholder and p.text in values] if isinstance(raw, str) else []
    except ValueError:
        used = []
    source = f" (filled from {', '.join(f'{{{u}}}' for u in used)})" if used else ""
    shown = name if len(name) <= 80 else name[:79] + "…"
    raise InvalidRequest(f"{where}: metadata.name renders to {shown!r}{source}, which is not a {kind} name: "
                         f"it {problem}")
