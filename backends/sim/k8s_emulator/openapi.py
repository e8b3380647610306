"""A minimal OpenAPI v3 discovery: enough for kubectl to learn that the server
validates fields itself (`fieldValidation` on each kind's PATCH operation), so
`kubectl apply -f` / `kubectl create -f` work without `--validate=false`.

No schemas are served: kubectl then computes strategic merge patches from its
compiled-in types, and `kubectl explain` is not supported. `/openapi/v2` stays 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .discovery import VERSION_INFO
from .resources import ResourceType, TypeRegistry
from .status import ApiError
from .store import encode


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _operations(rt: ResourceType) -> dict[str, Any]:
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    base = f"/{_gv_path(rt.group, rt.version)}"
    item = (f"{base}/namespaces/{{namespace}}/{rt.plural}/{{name}}" if rt.namespaced
            else f"{base}/{rt.plural}/{{name}}")
    collection = item.rsplit("/", 1)[0]
    params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
              {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
              {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}}]
    op = {"x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {}}
    return {collection: {"post": op}, item: {"patch": op, "put": op}}


class OpenApiV3:
    def __init__(self, types: TypeRegistry | None = None):
        self._types = types or TypeRegistry()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/openapi/v3", self.root), web.get("/openapi/v3/", self.root),
                web.get("/openapi/v3/{gv:.+}", self.group_version)]

    def _served(self) -> dict[str, list[ResourceType]]:
        served: dict[str, list[ResourceType]] = {}
        for rt in self._types.all():
            if rt.stored:
                served.setdefault(_gv_path(rt.group, rt.version), []).append(rt)
        return served

    async def root(self, request: web.Request) -> web.Response:
        paths = {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash=envdeck-{VERSION_INFO['gitVersion']}"}
                 for gv in self._served()}
        return web.Response(body=encode({"paths": paths}), content_type="application/json")

    async def group_version(self, request: web.Request) -> web.Response:
        types = self._served().get(request.match_info["gv"].strip("/"))
        if not types:
            raise ApiError(404, "the server could not find the requested resource")
        paths: dict[str, Any] = {}
        for rt in types:
            paths.update(_operations(rt))
        doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes (envdeck emulator)",
                                            "version": VERSION_INFO["gitVersion"]},
               "paths": paths, "components": {"schemas": {}}}
        return web.Response(body=encode(doc), content_type="application/json")
