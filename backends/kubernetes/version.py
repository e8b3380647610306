"""The cluster's version through the official client's VersionApi (for `envdeck doctor`)."""

from __future__ import annotations

import asyncio

from backends.kubernetes.api import error_for_body
from backends.kubernetes.connection import ClusterConnection
from tui.core.errors import BackendUnreachable


def _read_version(connection: ClusterConnection, timeout_s: float) -> str:
    from kubernetes.client import VersionApi
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError, MaxRetryError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    try:
        info = VersionApi(connection.api_client).get_code(_request_timeout=timeout_s)
    except ApiException as exc:
        raise error_for_body(int(exc.status or 500), exc.body, str(exc.reason or ""), "GET /version") from None
    except (HTTPError, OSError) as exc:
        cause = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
        what = f"no answer within {timeout_s:g}s" if isinstance(cause, Urllib3Timeout | TimeoutError) \
            else type(cause).__name__
        raise BackendUnreachable(f"cannot reach {connection.host}: {what}", backend="kubernetes") from None
    minor = str(info.minor or "").rstrip("+")
    return f"v{info.major}.{minor}" if info.major else str(info.git_version)


async def cluster_version(connection: ClusterConnection, timeout_s: float) -> str:
    """`vMAJOR.MINOR` of the API server (blocking client: run in a thread)."""
    return await asyncio.to_thread(_read_version, connection, timeout_s)
