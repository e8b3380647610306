"""boto3 clients for one environment, and the worker threads their blocking calls run in.

Credentials are found exactly as the AWS CLI finds them: a botocore session with the
configured profile (static keys, SSO, assume-role, credential_process are all
botocore's business), else the default chain. Every client shares one botocore
`Config`: adaptive retries, connect/read timeouts, and a connection pool as wide as
the worker pool. An attempt that reached no endpoint is final for the call
(`final_timeouts`): a connect timeout, a refused connection, a name that does not resolve,
or a read timeout of an endpoint that has not answered yet. botocore's standard retry mode counts them as transient and retries them: each
timeout another whole `defaults.timeout` (a silent endpoint cost 3 x the timeout per pass),
each refusal a backoff of up to 1 + 2 s. The reconciler's own backoff tries again on its
next pass, as for the other backends (aiohttp and asyncssh make one attempt). Throttling,
5xx answers and a connection reset mid-answer keep botocore's retries. Calls run in a bounded pool of daemon threads (daemon_pool.py), so a
slow or dead endpoint never blocks the event loop, never spawns unbounded threads, and
never holds up the exit of a command that has stopped waiting for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from backends.aws.daemon_pool import DaemonThreadPool
from backends.aws.error_mapping import translate
from tui.core.config import AwsConfig

T = TypeVar("T")

SERVICES = ("resourcegroupstaggingapi", "ec2", "s3", "rds", "ecs", "cloudwatch", "logs", "sts",
            "lambda", "elbv2", "autoscaling", "dynamodb", "sqs")


def botocore_config(timeout_s: float, workers: int, region: str) -> Config:
    return Config(
        region_name=region,
        retries={"mode": "adaptive", "total_max_attempts": 3},
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        max_pool_connections=max(10, workers),
        user_agent_extra="envdeck",
    )


class UnreachedEndpoint:
    """A `needs-retry` handler, called before botocore's own, for the clients of one
    environment: False ends the call when an attempt reached no endpoint — refused,
    unresolvable, no connection within the timeout, or no answer within it from an endpoint
    that has not answered any call of these clients yet (a silent one): the caller's pass or
    command fails now and the reconciler's backoff tries again later. Once the endpoint has
    answered, a read timeout is a slow answer of a live endpoint (a loaded server) and keeps
    botocore's retries, as do throttling, 5xx and a connection reset mid-answer (None leaves
    them to the standard handler registered after this one).
    botocore >= 1.43.3 reads False as "no retry"."""

    def __init__(self) -> None:
        self.answered = False

    def __call__(self, response: Any = None, caught_exception: BaseException | None = None,
                 **_: Any) -> bool | None:
        if caught_exception is None:
            if response is not None:
                self.answered = True
            return None
        if isinstance(caught_exception, ConnectTimeoutError | EndpointConnectionError):
            return False
        if isinstance(caught_exception, ReadTimeoutError) and not self.answered:
            return False
        return None


def final_timeouts(client: Any, handler: UnreachedEndpoint | None = None) -> Any:
    """Register the handler (one per environment's clients) first on the client's
    `needs-retry` event: the first answer that is not None decides, so it overrides the
    retry of an unreached endpoint and nothing else."""
    service_event = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register_first(f"needs-retry.{service_event}", handler or UnreachedEndpoint(),
                                      unique_id=f"envdeck-final-timeouts-{service_event}")
    return client


_loader_lock = threading.Lock()
_loader: botocore.loaders.Loader | None = None


def shared_data_loader() -> botocore.loaders.Loader:
    """One botocore data loader for the process. A new botocore session reads and parses
    the service models (JSON, the EC2 one is megabytes) of every client it makes: ~0.25 s
    of CPU per environment for its 13 clients, again for every environment, every
    lifecycle drive and every provisioner, and a heap the garbage collector then walks.
    The loader caches what it has read (botocore's `instance_cache`) and only reads: the
    sessions of every environment share it, each keeping its own credentials, profile,
    region and events."""
    global _loader
    with _loader_lock:
        if _loader is None:
            _loader = botocore.loaders.create_loader()
        return _loader


def new_session(profile: str | None, region: str) -> botocore.session.Session:
    """A botocore session of the configured profile (credentials found as the AWS CLI finds
    them) and region, reading service models through the shared loader."""
    session = botocore.session.Session(profile=profile)
    session.set_config_variable("region", region)
    session.register_component("data_loader", shared_data_loader())
    return session


class AwsClients:
    """Lazily created clients (botocore, as boto3 makes them) plus the executor their calls run in."""

    def __init__(self, config: AwsConfig, timeout_s: float, workers: int = 8):
        self.config = config
        self.workers = workers
        self._botocore_config = botocore_config(timeout_s, workers, config.region)
        self._session: botocore.session.Session | None = None
        self._reached = UnreachedEndpoint()  # one endpoint (or AWS's) for all of this environment's clients
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()  # botocore sessions are not thread-safe; clients are
        self._executor: DaemonThreadPool | None = None

    # -- clients (called in worker threads) ------------------------------------
    def client(self, service: str) -> Any:
        found = self._clients.get(service)
        if found is not None:
            return found
        with self._lock:
            found = self._clients.get(service)
            if found is None:
                if self._session is None:
                    self._session = new_session(self.config.profile, self.config.region)
                found = final_timeouts(self._session.create_client(service, endpoint_url=self.config.endpoint_url,
                                                                   config=self._botocore_config), self._reached)
                self._clients[service] = found
            return found

    # -- running blocking calls --------------------------------------------------
    def _pool(self) -> DaemonThreadPool:
        if self._executor is None:
            self._executor = DaemonThreadPool(self.workers, thread_name_prefix="envdeck-aws")
        return self._executor

    async def run(self, operation: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` in a worker thread; botocore errors become typed errors."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool(), lambda: fn(*args, **kwargs))
        except Exception as exc:  # translated into a typed, secret-free error
            raise translate(exc, operation, profile=self.config.profile) from None

    async def call(self, service: str, method: str, /, **kwargs: Any) -> dict[str, Any]:
        """One API call, e.g. `await clients.call("ec2", "start_instances", InstanceIds=[...])`."""
        return await self.run(f"{service}.{method}", lambda: getattr(self.client(service), method)(**kwargs))

    async def paginate(self, service: str, method: str, key: str, /, **kwargs: Any) -> list[Any]:
        """All items under `key` of every page of a botocore paginator."""

        def collect() -> list[Any]:
            items: list[Any] = []
            for page in self.client(service).get_paginator(method).paginate(**kwargs):
                items.extend(page.get(key) or [])
            return items

        return await self.run(f"{service}.{method}", collect)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        with self._lock:
            for client in self._clients.values():
                try:
                    client.close()
                except Exception:  # noqa: S110 - closing a pool; nothing to report
                    pass
            self._clients.clear()
