"""Kubernetes REST API paths built from names, every segment percent-encoded.

A name reaches a URL from outside envdeck's code: a template parameter filled into
`metadata.name`, a resource's name in the store, a config's namespace. Each segment is quoted
with `urllib.parse.quote(seg, safe="")` (aiohttp/yarl keep `%2F` as it is), so `x/../../ns/hx`
stays one segment the API server answers NotFound for, never a path into another namespace.
Names are also checked at plan time (tui/core/lifecycle/k8s_names.py)."""

from __future__ import annotations

from urllib.parse import quote

from tui.core.errors import InvalidRequest


def seg(text: object) -> str:
    """One path segment, percent-encoded ('/' and '%' included). `.` and `..` are refused: the
    HTTP client resolves them (even encoded as %2E) and no Kubernetes object has such a name."""
    s = str(text)
    if s in ("", ".", ".."):
        raise InvalidRequest(f"{s!r} cannot be a Kubernetes name in an API path", backend="kubernetes")
    return quote(s, safe="")


def api_base(group_version: str) -> str:
    """`/api/v1` or `/apis/GROUP/VERSION` (group and version each encoded)."""
    if group_version == "v1":
        return "/api/v1"
    group, _, version = group_version.partition("/")
    return f"/apis/{seg(group)}/{seg(version)}" if version else f"/apis/{seg(group)}"


def collection_path(group_version: str, plural: str, namespace: str | None) -> str:
    """A kind's collection: in `namespace` when given, else cluster-wide."""
    base = api_base(group_version)
    if namespace is not None:
        return f"{base}/namespaces/{seg(namespace)}/{seg(plural)}"
    return f"{base}/{seg(plural)}"


def item_path(group_version: str, plural: str, namespace: str | None, name: str, *sub: str) -> str:
    """One object (and a subresource: `log`, `portforward`, `scale`)."""
    tail = "".join(f"/{seg(s)}" for s in sub)
    return f"{collection_path(group_version, plural, namespace)}/{seg(name)}{tail}"
