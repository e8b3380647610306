"""The key to `envdeck serve`: a per-run secret, so that only the user who started it
gets a session.

A loopback listener is reachable by every account on the jump host, and whoever drives
the TUI acts with the serving user's config, credentials and roles. Nothing a browser
sends *on its own* may be enough to get a session: cookies ignore ports (RFC 6265), so
the owner's browser would hand a cookie for this port to any other local port it
visits, i.e. to another user's server, who could replay it. So there is no cookie:

- the page is served only for `GET /?token=SECRET` (the link `serve` gave its owner);
- each page load embeds its own WebSocket address `/ws/TICKET`: a random ticket, good
  for one WebSocket, within `TICKET_TTL_S` of the page load; the WebSocket that starts
  a session needs it (a used, expired or unknown ticket: 403, no TUI process);
- textual-serve's static files (its public JS, CSS, font and background image, the same
  for everyone: no config, no names) are served without a key; anything else (the bare
  `/ws`, `/download/...`: envdeck delivers no files) gets 403;
- a request that carries an `Origin` (browsers always send one on a WebSocket) must
  come from the page it was served on (cross-site WebSocket hijacking).

The secret and tickets are compared in constant time and never logged (the access log
is off: it would write the link's query string). Refusals are logged in aggregate (the
first one, then at most one line per `REFUSAL_LOG_INTERVAL_S` with a count), so a flood
of refused requests cannot rotate the earlier lines out of envdeck.log."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from tui.core.sanitize import clean

log = logging.getLogger("envdeck.serve")

TOKEN_PARAM = "token"
TICKET_TTL_S = 60.0  # from the page load to its WebSocket: the page connects at once
TICKETS_MAX = 64  # unredeemed tickets kept (only the key's holder mints them)
REFUSAL_LOG_INTERVAL_S = 60.0
SESSION_ROUTE = "session"  # /ws/{ticket}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Clock = Callable[[], float]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


class Tickets:
    """One-time WebSocket tickets, one per page load: random, single use, short-lived."""

    def __init__(self, ttl_s: float = TICKET_TTL_S, *, clock: Clock = time.monotonic, limit: int = TICKETS_MAX):
        self.ttl_s = ttl_s
        self._clock = clock
        self._limit = limit
        self._open: dict[str, float] = {}  # ticket -> expiry (clock time)

    def mint(self) -> str:
        now = self._clock()
        self._open = {t: exp for t, exp in self._open.items() if exp > now}
        while len(self._open) >= self._limit:  # the oldest goes first
            del self._open[next(iter(self._open))]
        ticket = secrets.token_urlsafe(24)
        self._open[ticket] = now + self.ttl_s
        return ticket

    def redeem(self, given: str | None) -> bool:
        """True once for a ticket minted less than ttl_s ago; it is gone afterwards."""
        if not given:
            return False
        found = None
        for ticket in list(self._open):  # constant time per comparison, no dict lookup by outside text
            if hmac.compare_digest(ticket.encode(), given.encode()):
                found = ticket
        if found is None:
            return False
        expires = self._open.pop(found)
        return self._clock() < expires


class RefusalLog:
    """Refused requests, logged in aggregate: the first one, then at most one line per
    interval, with the count of those not logged one by one."""

    def __init__(self, interval_s: float = REFUSAL_LOG_INTERVAL_S, *, clock: Clock = time.monotonic):
        self.interval_s = interval_s
        self._clock = clock
        self._last: float | None = None  # when the last line was written
        self._held = 0  # refusals since then, not logged yet
        self._latest = ""
        self._timer: asyncio.TimerHandle | None = None

    def refused(self, what: str, why: str) -> None:
        now = self._clock()
        self._latest = f"{what}: {why}"
        self._held += 1
        if self._last is None or now - self._last >= self.interval_s:
            self._write(now)
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop: the count goes out with the next line or flush()
            self._timer = loop.call_later(max(0.0, self._last + self.interval_s - now), self._due)

    def _due(self) -> None:
        self._timer = None
        if self._held:
            self._write(self._clock())

    def _write(self, now: float) -> None:
        if self._held == 1:
            log.warning("serve: refused %s", self._latest)
        else:
            log.warning("serve: refused %d requests in the last %ds (not logged one by one), the latest %s",
                        self._held, round(now - (self._last or now)), self._latest)
        self._held = 0
        self._last = now

    def flush(self) -> None:
        """At shutdown: the count not written yet."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._held:
            self._write(self._clock())


def origin_matches_host(request: web.Request) -> bool:
    """No Origin (not a browser) or an Origin naming the host the request was sent to."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (a sandboxed frame, a file:// page) or garbage
    return parts.netloc.lower() == request.host.lower()


def _refuse(request: web.Request, why: str, refusals: RefusalLog) -> web.Response:
    # the path is outside text, cleaned to one line; never the query (it may hold a key)
    refusals.refused(f"{request.method} {clean(request.path, max_len=200)!r} from {request.remote}", why)
    return web.Response(status=403, text="403: forbidden (open the link envdeck serve gave you)\n")


def token_gate(token: str, tickets: Tickets,
               refusals: RefusalLog) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """An aiohttp middleware letting through the page only with `token`, the session's
    WebSocket only with a ticket of a page load, and textual-serve's public static files."""

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not origin_matches_host(request):
            return _refuse(request, "cross-origin request", refusals)
        route = request.match_info.route.name
        if route == "static" and request.method in ("GET", "HEAD"):
            return await handler(request)
        if route == "index" and request.method == "GET":
            if not _same(request.query.get(TOKEN_PARAM), token):
                return _refuse(request, "no key" if TOKEN_PARAM not in request.query else "wrong key", refusals)
            response = await handler(request)
            response.headers["Referrer-Policy"] = "no-referrer"  # the address holds the key
            response.headers["Cache-Control"] = "no-store"
            return response
        if route == SESSION_ROUTE and request.method == "GET":
            if not tickets.redeem(request.match_info.get("ticket")):
                return _refuse(request, "no valid ticket (one per page load, used once)", refusals)
            return await handler(request)
        return _refuse(request, "not served", refusals)

    return gate
