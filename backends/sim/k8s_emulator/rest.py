"""The REST verbs on every stored resource type: list, get, create, replace,
patch, delete, deletecollection, and the status/scale/log subresources.

URL shapes (core group under /api/v1, others under /apis/GROUP/VERSION):
  /PLURAL                       cluster-scoped collection, or all namespaces
  /PLURAL/NAME[/SUB]            cluster-scoped object
  /namespaces/NS/PLURAL[/NAME[/SUB]]
  /watch/...                    the deprecated watch prefix
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import tables
from .defaulting import apply_defaults, check_body, validate_name
from .exec import serve_exec
from .logs import serve_log
from .patching import apply_patch
from .pods import pod_status, random_suffix
from .portforward import serve_portforward
from .resources import ResourceType, lookup
from .selectors import SelectorError, field_matcher, label_matcher, selector_from_match_labels
from .status import ApiError, already_exists, conflict, gone, invalid, not_found, success, too_large
from .store import Entry, clone, encode, now_iso
from .watch import serve_watch

if TYPE_CHECKING:
    from .emulator import Emulator

NAMESPACES, PODS = lookup("namespaces"), lookup("pods")
TRUTHY = ("true", "True", "1")
_NOT_FOUND = "the server could not find the requested resource"


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=encode(obj), content_type="application/json")


def _token(rv: int, key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": list(key)}).encode()).decode()


def _untoken(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, IndexError, TypeError):
        raise ApiError(400, "continue key is not valid: incorrect encoded start resourceVersion") from None


class RestApi:
    def __init__(self, emu: Emulator):
        self.emu = emu
        self.store = emu.store

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/api/v1/{path:.+}", self._core),
                web.route("*", "/apis/{group}/{version}/{path:.+}", self._grouped)]

    async def _core(self, request: web.Request) -> web.StreamResponse:
        return await self.dispatch(request, "", "v1", request.match_info["path"])

    async def _grouped(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        return await self.dispatch(request, info["group"], info["version"], info["path"])

    async def dispatch(self, request: web.Request, group: str, version: str, path: str) -> web.StreamResponse:
        parts = [p for p in path.split("/") if p]
        force_watch = bool(parts) and parts[0] == "watch"
        if force_watch:
            parts = parts[1:]
        ns: str | None = None
        if len(parts) >= 3 and parts[0] == "namespaces" and not (len(parts) == 3 and parts[2] in ("status",
                                                                                                    "finalize")):
            ns, parts = parts[1], parts[2:]
        if not parts or len(parts) > 3:
            raise ApiError(404, _NOT_FOUND)
        rt = self.emu.types.by_path(group, version, parts[0])
        if rt is None or (rt.namespaced and ns is None and len(parts) > 1) or (not rt.namespaced and ns):
            raise ApiError(404, _NOT_FOUND)
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        if sub is not None and rt.subresource(sub) is None:
            raise ApiError(404, _NOT_FOUND)
        if not rt.stored:
            if request.method != "GET":
                raise ApiError(405, "the server does not allow this method on the requested resource")
            return self.emu.metrics.serve(request, rt, ns, name)
        method = request.method
        if name is None and method == "GET" and self.emu.list_forbidden(rt):
            verb = "watch" if force_watch or request.query.get("watch") in TRUTHY else "list"
            where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
            raise ApiError(403, f'{rt.qualified} is forbidden: User "system:serviceaccount:envdeck:viewer" cannot '
                                f'{verb} resource "{rt.plural}" in API group "{rt.group}"{where}', "Forbidden",
                           {"kind": rt.plural, "group": rt.group})
        if name is None:
            if method == "GET":
                if force_watch or request.query.get("watch") in TRUTHY:
                    return await serve_watch(request, self.emu, rt, ns)
                return self.list(request, rt, ns)
            if method == "POST":
                return self.create(rt, ns, await self._body(request), request)
            if method == "DELETE":
                return self.delete_collection(request, rt, ns)
        elif sub == "exec" and method in ("GET", "POST"):
            return await serve_exec(request, self._current(rt, ns, name))
        elif sub == "portforward" and method in ("GET", "POST"):
            return await serve_portforward(request, self._current(rt, ns, name), self.emu.port_forwards)
        elif sub in ("exec", "attach", "portforward"):
            raise ApiError(400, "Upgrade request required")
        elif method == "GET":
            return await self.get(request, rt, ns, name, sub)
        elif method == "PUT":
            return self.replace(rt, ns, name, sub, await self._body(request))
        elif method == "PATCH":
            return self.patch(rt, ns, name, sub, request.headers.get("Content-Type", ""), await self._body(request))
        elif method == "DELETE":
            return self.delete(rt, ns, name, await self._body(request, optional=True))
        raise ApiError(405, "the server does not allow this method on the requested resource")

    @staticmethod
    async def _body(request: web.Request, optional: bool = False) -> Any:
        if "protobuf" in request.headers.get("Content-Type", ""):
            raise ApiError(415, "the envdeck emulator speaks JSON only: protobuf request bodies are not supported "
                                "(`kubectl create deployment` sends protobuf; `kubectl create -f` sends JSON)")
        raw = await request.read()
        if not raw:
            if optional:
                return {}
            raise ApiError(400, "the request body is empty")
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, f"the body of the request could not be decoded: {exc}") from None

    def _current(self, rt: ResourceType, ns: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(rt, ns, name)
        if obj is None:
            raise not_found(rt, name)
        return obj

    # -- reads ---------------------------------------------------------------
    def list(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.Response:
        q = request.query
        try:
            label_m = label_matcher(q.get("labelSelector"))
            field_m = field_matcher(q.get("fieldSelector"), rt)
        except SelectorError as exc:
            raise ApiError(400, str(exc)) from None
        limit = int(q.get("limit") or 0)
        list_rv, start_after = self.store.rv, None
        asked = q.get("resourceVersion") or ""
        if asked.isdigit() and int(asked) > list_rv and not q.get("continue"):
            raise too_large(int(asked), list_rv)  # a LIST does not wait here (the watch cache would, 3 s)
        if q.get("continue"):
            token_rv, start_after = _untoken(q["continue"])
            if token_rv < self.store.table(rt).compacted_rv:
                raise gone("The provided continue parameter is too old to display a consistent list result. "
                           "You can start a new list without the continue parameter.")
        items: list[Entry] = []
        last, more = None, False
        for key, entry in self.store.entries(rt, ns, start_after):
            obj = entry.obj
            if label_m is not None and not label_m(obj["metadata"].get("labels") or {}):
                continue
            if field_m is not None and not field_m(obj):
                continue
            if limit and len(items) >= limit:
                more = True
                break
            items.append(entry)
            last = key
        meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if more and last is not None:
            meta["continue"] = _token(list_rv, last)
        if tables.wants_table(request.headers.get("Accept", "")):
            return json_response(tables.table(rt, [e.obj for e in items], meta,
                                              q.get("includeObject", "Metadata")))
        head = encode({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})[:-1]
        body = b"".join((head, b',"items":[', b",".join(e.raw for e in items), b"]}"))
        return web.Response(body=body, content_type="application/json")

    async def get(self, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                  sub: str | None) -> web.StreamResponse:
        obj = self._current(rt, ns, name)
        if sub == "log":
            return await serve_log(request, self.emu.logs, obj,
                                   lambda: self.store.get(rt, ns, name) is not None)
        if sub == "scale":
            return json_response(scale_of(obj))
        if sub is None and tables.wants_table(request.headers.get("Accept", "")):
            return json_response(tables.table(rt, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]},
                                              request.query.get("includeObject", "Metadata")))
        return json_response(obj)

    # -- writes --------------------------------------------------------------
    def create(self, rt: ResourceType, ns: str | None, body: Any, request: web.Request | None = None
               ) -> web.Response:
        obj = check_body(rt, body, ns)
        meta = obj["metadata"]
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise invalid(rt, "", "metadata.name: Required value: name or generateName is required")
            meta["name"] = meta["generateName"] + random_suffix(self.emu.rng)
        validate_name(rt, meta["name"])
        for server_owned in ("uid", "resourceVersion", "creationTimestamp", "generation", "deletionTimestamp"):
            meta.pop(server_owned, None)
        namespace = self.store.get(NAMESPACES, None, ns or "") if rt.namespaced else None
        if rt.namespaced and namespace is None:
            raise ApiError(404, f'namespaces "{ns}" not found', "NotFound",
                           {"name": ns, "kind": "namespaces"})
        if namespace is not None and namespace["metadata"].get("deletionTimestamp"):
            raise ApiError(403, f'{rt.qualified} "{meta["name"]}" is forbidden: unable to create new content in '
                                f"namespace {ns} because it is being terminated", "Forbidden",
                           {"name": meta["name"], "kind": rt.plural})
        if self.store.get(rt, ns, meta["name"]) is not None:
            raise already_exists(rt, meta["name"])
        apply_defaults(rt, obj, self.emu.allocate_cluster_ip)
        if rt is PODS:
            node = obj["spec"].setdefault("nodeName", self.emu.controllers.next_node())
            obj["status"] = pod_status(obj, "Running", self.emu.controllers.next_pod_ip(),
                                       self.emu.controllers.host_ip(node))
        if request is not None and request.query.get("dryRun") == "All":
            return json_response(obj, 201)
        created = self.store.create(rt, obj)
        self.emu.settle()
        return json_response(self.store.get(rt, ns, meta["name"]) or created, 201)

    def replace(self, rt: ResourceType, ns: str | None, name: str, sub: str | None, body: Any) -> web.Response:
        current = self._current(rt, ns, name)
        if sub == "scale":
            return self._scale(rt, current, body)
        obj = check_body(rt, body, ns, name)
        obj["metadata"]["name"] = name
        rv = obj["metadata"].get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        return self._write(rt, current, obj, sub)

    def patch(self, rt: ResourceType, ns: str | None, name: str, sub: str | None, content_type: str,
              body: Any) -> web.Response:
        current = self._current(rt, ns, name)
        if sub == "scale":
            return self._scale(rt, current, apply_patch(content_type, scale_of(current), body))
        patched = apply_patch(content_type, current, body)
        if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
            raise invalid(rt, name, "metadata: Required value")
        rv = patched["metadata"].get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        if patched["metadata"].get("name") != name or patched["metadata"].get("uid") != current["metadata"]["uid"]:
            raise invalid(rt, name, "metadata.name/uid: field is immutable")
        return self._write(rt, current, patched, sub)

    def _write(self, rt: ResourceType, current: dict[str, Any], obj: dict[str, Any], sub: str | None
               ) -> web.Response:
        if sub == "status":
            new = dict(current)
            new["metadata"] = clone(current["metadata"])
            new["status"] = obj.get("status")
        else:
            new = obj
            if rt.has_status:
                new["status"] = clone(current.get("status"))
            if rt is not PODS:
                apply_defaults(rt, new, self.emu.allocate_cluster_ip)
            else:
                new["spec"] = {**current["spec"], **{k: v for k, v in (new.get("spec") or {}).items()
                                                     if k in ("containers", "initContainers", "activeDeadlineSeconds",
                                                              "tolerations", "terminationGracePeriodSeconds")}}
        updated = self.store.update(rt, new)
        self.emu.settle()
        meta = updated["metadata"]
        return json_response(self.store.get(rt, meta.get("namespace"), meta["name"]) or updated)

    def _scale(self, rt: ResourceType, current: dict[str, Any], scale: Any) -> web.Response:
        if not isinstance(scale, dict) or not isinstance((scale.get("spec") or {}).get("replicas", 0), int):
            raise ApiError(400, "the body must be an autoscaling/v1 Scale")
        name = current["metadata"]["name"]
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if replicas < 0:
            raise ApiError(422, f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {replicas}: '
                                "must be greater than or equal to 0", "Invalid")
        new = clone(current)
        new["spec"]["replicas"] = replicas
        self.store.update(rt, new)
        self.emu.settle()
        return json_response(scale_of(self.store.get(rt, current["metadata"].get("namespace"), name) or new))

    def delete(self, rt: ResourceType, ns: str | None, name: str, options: Any) -> web.Response:
        current = self._current(rt, ns, name)
        pre = (options or {}).get("preconditions") or {} if isinstance(options, dict) else {}
        if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
            raise ApiError(409, f'Precondition failed: UID in precondition: {pre["uid"]}, UID in object meta: '
                                f'{current["metadata"]["uid"]}', "Conflict")
        if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        if isinstance(options, dict) and options.get("dryRun"):
            return json_response(current if rt is PODS else success(rt, current))
        if rt is NAMESPACES:
            return json_response(self.emu.terminate_namespace(name))
        final = self.emu.remove(rt, ns, name)
        if rt is PODS:
            final = clone(final or current)
            final["metadata"]["deletionTimestamp"] = now_iso()
            final["metadata"]["deletionGracePeriodSeconds"] = 0
            return json_response(final)
        return json_response(success(rt, current))

    def delete_collection(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.Response:
        try:
            label_m = label_matcher(request.query.get("labelSelector"))
            field_m = field_matcher(request.query.get("fieldSelector"), rt)
        except SelectorError as exc:
            raise ApiError(400, str(exc)) from None
        doomed = [o for o in self.store.objects(rt, ns)
                  if (label_m is None or label_m(o["metadata"].get("labels") or {}))
                  and (field_m is None or field_m(o))]
        for obj in doomed:
            self.emu.remove(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        return json_response({"kind": rt.list_kind, "apiVersion": rt.api_version,
                              "metadata": {"resourceVersion": str(self.store.rv)}, "items": doomed})


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": spec.get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": selector_from_match_labels((spec.get("selector") or {}).get("matchLabels") or {})}}
