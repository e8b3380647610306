"""Discovery (`/api`, `/apis`, group versions), `/version`, health endpoints, and
`/openapi/v2`, which the emulator does not serve (404; see openapi.py for v3)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .resources import ResourceType, TypeRegistry
from .status import ApiError
from .store import encode

VERSION_INFO = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "envdeck-emulator",
    "gitTreeState": "clean", "buildDate": "2025-04-22T16:00:00Z", "goVersion": "go1.23.8",
    "compiler": "gc", "platform": "linux/amd64",
}


def _json(obj: Any) -> web.Response:
    return web.Response(body=encode(obj), content_type="application/json")


def _resource_entries(rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                            "kind": rt.kind, "verbs": list(rt.verbs)}
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    entries = [main]
    for sub in rt.subresources:
        entry: dict[str, Any] = {"name": f"{rt.plural}/{sub.name}", "singularName": "",
                                 "namespaced": rt.namespaced, "kind": sub.kind, "verbs": list(sub.verbs)}
        if sub.group:
            entry["group"], entry["version"] = sub.group, sub.version
        entries.append(entry)
    return entries


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


class Discovery:
    def __init__(self, server_address: Any, hidden_groups: Any, types: TypeRegistry | None = None,
                 unavailable_groups: Any = None):
        self._server_address = server_address  # () -> "127.0.0.1:PORT"
        self._hidden_groups = hidden_groups  # () -> set of group names not served now
        self._types = types or TypeRegistry()  # built-in types and those of CRDs
        # () -> groups listed in /apis whose resource list answers 503 (an aggregated API that is down)
        self._unavailable_groups = unavailable_groups or set

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api", self.api), web.get("/api/", self.api),
            web.get("/apis", self.apis), web.get("/apis/", self.apis),
            web.get("/api/v1", self.core_v1), web.get("/api/v1/", self.core_v1),
            web.get("/apis/{group}", self.group), web.get("/apis/{group}/", self.group),
            web.get("/apis/{group}/{version}", self.group_version),
            web.get("/apis/{group}/{version}/", self.group_version),
            web.get("/version", self.version), web.get("/version/", self.version),
            web.get("/healthz", self.ok), web.get("/readyz", self.ok), web.get("/livez", self.ok),
            web.get("/openapi/v2", self.not_served), web.get("/swagger.json", self.not_served),
        ]

    async def api(self, request: web.Request) -> web.Response:
        return _json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": self._server_address()}]})

    async def apis(self, request: web.Request) -> web.Response:
        return _json({"kind": "APIGroupList", "apiVersion": "v1",
                      "groups": [_group(name, versions) for name, versions in self._types.group_versions().items()
                                 if name not in self._hidden_groups()]})

    async def core_v1(self, request: web.Request) -> web.Response:
        return self._resource_list("", "v1")

    async def group(self, request: web.Request) -> web.Response:
        name = request.match_info["group"]
        versions = self._types.group_versions().get(name)
        if not versions or name in self._hidden_groups():
            raise ApiError(404, "the server could not find the requested resource")
        return _json({"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)})

    async def group_version(self, request: web.Request) -> web.Response:
        if request.match_info["group"] in self._unavailable_groups():
            raise ApiError(503, "the server is currently unable to handle the request")
        return self._resource_list(request.match_info["group"], request.match_info["version"])

    def _resource_list(self, group: str, version: str) -> web.Response:
        found = self._types.types_in(group, version)
        if not found or group in self._hidden_groups():
            raise ApiError(404, "the server could not find the requested resource")
        resources = [entry for rt in found for entry in _resource_entries(rt)]
        return _json({"kind": "APIResourceList", "apiVersion": "v1",
                      "groupVersion": f"{group}/{version}" if group else version, "resources": resources})

    async def version(self, request: web.Request) -> web.Response:
        return _json(VERSION_INFO)

    async def ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def not_served(self, request: web.Request) -> web.Response:
        raise ApiError(404, "the server could not find the requested resource")

