"""The key to `envdeck serve`: a per-run secret, so that only the user who started it
gets a session.

A loopback listener is reachable by every account on the jump host, and whoever drives
the TUI acts with the serving user's config, credentials and roles. So every request
must prove it knows the secret that `serve` printed once on its owner's terminal:

- `GET /?token=SECRET` (the printed link) sets an HttpOnly, SameSite=Strict cookie
  and redirects to the same page without the secret in the address bar;
- any other request (the page, its static files, the WebSocket that starts a session,
  downloads) needs that cookie; without it: 403 and nothing else, so no TUI process
  is ever started for it;
- a request that carries an `Origin` (browsers always send one on a WebSocket) must
  come from the page it was served on: another site's page (or another local user's
  page on another port of 127.0.0.1, the same "site" for cookies) cannot drive the
  session with the owner's cookie (cross-site WebSocket hijacking).

The secret is compared in constant time and never logged (the access log is off:
it would write the link's query string)."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

log = logging.getLogger("envdeck.serve")

TOKEN_PARAM = "token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def cookie_name(port: int) -> str:
    """One cookie per port: cookies ignore ports, and two users' serves on one host must
    not overwrite each other's key in a shared browser."""
    return f"envdeck_serve_{port}"


def _same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def origin_matches_host(request: web.Request) -> bool:
    """No Origin (not a browser) or an Origin naming the host the request was sent to."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (a sandboxed frame, a file:// page) or garbage
    return parts.netloc.lower() == request.host.lower()


def _refuse(request: web.Request, why: str) -> web.Response:
    # the path is outside text: repr() keeps a newline in it from forging a log line; never the query
    log.warning("serve: refused %s %r from %s: %s", request.method, request.path[:200], request.remote, why)
    return web.Response(status=403, text="403: forbidden (open the link envdeck serve printed)\n")


def token_gate(token: str, port: int) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """An aiohttp middleware letting through only requests that prove they know `token`."""
    name = cookie_name(port)

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not origin_matches_host(request):
            return _refuse(request, "cross-origin request")
        given = request.query.get(TOKEN_PARAM)
        if given is not None:
            if request.method != "GET" or request.path != "/" or not _same(given, token):
                return _refuse(request, "wrong key in the link")
            query = {k: v for k, v in request.query.items() if k != TOKEN_PARAM}
            response = web.HTTPSeeOther(request.rel_url.with_query(query))
            response.set_cookie(name, token, httponly=True, samesite="Strict", path="/")
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["Cache-Control"] = "no-store"
            return response
        if not _same(request.cookies.get(name), token):
            return _refuse(request, "no key")
        response = await handler(request)
        if not response.prepared:  # a WebSocket is already under way: its headers are sent
            response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    return gate
