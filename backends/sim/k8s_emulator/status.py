"""`v1 Status` errors, as the apiserver writes them (clients map `code` to their exception)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .resources import ResourceType
from .store import encode

_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    406: "NotAcceptable", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType",
    422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    def __init__(self, code: int, message: str, reason: str | None = None,
                 details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body

    def response(self) -> web.Response:
        return web.Response(status=self.code, body=encode(self.status()), content_type="application/json")


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, f'{rt.qualified} "{name}" not found', "NotFound",
                    {"name": name, "group": rt.group, "kind": rt.plural})


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, f'{rt.qualified} "{name}" already exists', "AlreadyExists",
                    {"name": name, "group": rt.group, "kind": rt.plural})


def conflict(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been '
                         "modified; please apply your changes to the latest version and try again",
                    "Conflict", {"name": name, "group": rt.group, "kind": rt.plural})


def invalid(rt: ResourceType, name: str, message: str) -> ApiError:
    return ApiError(422, f'{rt.kind}.{rt.group or "core"} "{name}" is invalid: {message}', "Invalid",
                    {"name": name, "group": rt.group, "kind": rt.kind})


def gone(message: str) -> ApiError:
    return ApiError(410, message, "Expired")


def too_large(requested: int, current: int) -> ApiError:
    """What kube-apiserver answers for a resourceVersion it has not reached (storage
    NewTooLargeResourceVersionError: a 504 Timeout with the cause ResourceVersionTooLarge,
    retry after 1 s); client-go's reflector relists on it."""
    return ApiError(504, f"Timeout: Too large resource version: {requested}, current: {current}", "Timeout",
                    {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                     "retryAfterSeconds": 1})


def too_many_requests(message: str = "Too many requests, please try again later.",
                      retry_after_s: int = 1) -> ApiError:
    """API Priority and Fairness rejecting a request: 429 with `Retry-After` (set by the middleware)."""
    return ApiError(429, message, "TooManyRequests", {"retryAfterSeconds": retry_after_s})


def success(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata", {})
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": meta.get("name"), "group": rt.group, "kind": rt.plural,
                        "uid": meta.get("uid")}}
