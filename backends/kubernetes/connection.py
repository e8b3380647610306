"""Where the cluster is and how to authenticate, found exactly as kubectl finds it.

The official client's loaders do all of the work (kubeconfig merging via
$KUBECONFIG, contexts, token files, exec plugins, client certificates,
in-cluster service accounts); this module only carries the loaded
`Configuration` over to an aiohttp session, because the hot paths (big lists,
watches, log streams) read raw JSON instead of building typed models.

The official client itself (only `GET /version` for `envdeck doctor`) makes one
attempt per call (`_api_client`): urllib3's default would try a silent API server four times, each
attempt a whole `defaults.timeout`; aiohttp, the rest of the paths, never retries a
failed connection (the next pass or command tries again) and retries only a 429 Too Many
Requests, after its Retry-After and within the call's timeout (`api.KubeApi._open`).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.core.config import KubernetesConfig
from tui.core.errors import BackendUnreachable


@dataclass(slots=True)
class ClusterConnection:
    """A loaded client configuration and what envdeck shows about it."""

    configuration: Any  # kubernetes.client.Configuration
    api_client: Any  # kubernetes.client.ApiClient (sync; used for VersionApi)
    context: str | None  # the kubeconfig context in use; None in-cluster
    kubeconfig: str | None  # the kubeconfig file given in envdeck's config, if any
    #: why the kubeconfig may no longer be used (None: it may), asked before each request's headers
    #: when it runs an exec credential plugin (a refresh runs it again: refused once another user
    #: could replace it or the kubeconfig); None when nothing is run after loading
    recheck: Callable[[], str | None] | None = None

    @property
    def host(self) -> str:
        return str(self.configuration.host)

    def ssl_context(self) -> ssl.SSLContext | bool:
        """The TLS settings of the loaded configuration, for aiohttp."""
        cfg = self.configuration
        if not self.host.startswith("https://"):
            return False
        ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
        if cfg.cert_file:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
        if not cfg.verify_ssl:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def auth_headers(self) -> dict[str, str]:
        """Authorization headers; calling the loader's refresh hook (exec plugins,
        rotated service-account tokens) when the token has expired. Blocking:
        an exec plugin may run a process, so call it in a worker thread."""
        refusal = self.recheck() if self.recheck is not None else None
        if refusal:
            raise BackendUnreachable(refusal, backend="kubernetes")
        headers: dict[str, str] = {}
        for setting in self.configuration.auth_settings().values():
            value = setting.get("value")
            if setting.get("in") == "header" and value:
                scheme, sep, rest = str(value).partition(" ")
                if sep and scheme.lower() == "bearer":  # the in-cluster loader writes "bearer"
                    value = f"Bearer {rest}"
                headers[setting["key"].title()] = value
        return headers


def _in_cluster(cfg: KubernetesConfig) -> bool:
    """As kubectl: the service account when inside a pod and no kubeconfig is found."""
    if not os.environ.get("KUBERNETES_SERVICE_HOST") or cfg.kubeconfig or cfg.context:
        return False
    return not os.environ.get("KUBECONFIG") and not Path("~/.kube/config").expanduser().exists()


def _api_client(configuration: Any) -> Any:
    """The official client over `configuration`, with no retry of a connection that failed
    or a read that timed out (redirects still followed)."""
    from kubernetes import client
    from urllib3.util.retry import Retry

    configuration.retries = Retry(total=None, connect=0, read=0, other=0, status=0, redirect=5)
    return client.ApiClient(configuration)


# One kubeconfig load at a time in this process: the client writes `certificate-authority-data`
# to a temporary file it names in a shared table BEFORE it writes the file, so two environments
# loaded in two threads at once with the same CA (the demo's, an EKS account's) read an empty
# file — `[X509: NO_CERTIFICATE_OR_CRL_FOUND]`, the backend unreachable (seen in CI, session 12).
_LOADING = threading.Lock()


def load_connection(cfg: KubernetesConfig) -> ClusterConnection:
    """Load the client configuration (blocking: run it in a thread).

    kubeconfig given → that file; else in a pod (KUBERNETES_SERVICE_HOST set and
    no kubeconfig/context asked for) → the service account; else $KUBECONFIG or
    ~/.kube/config, as kubectl. A kubeconfig another user can change or replace, or
    naming files others can read (a client key, a token file) or change (a certificate
    authority, a client certificate, an exec credential plugin) is refused before it is
    loaded (tui/core/config_files.py), as OpenSSH refuses a config with bad permissions.
    """
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    kubeconfig = str(Path(cfg.kubeconfig).expanduser()) if cfg.kubeconfig else None
    try:
        configuration = client.Configuration()
        if _in_cluster(cfg):
            config.load_incluster_config(client_configuration=configuration)
            return ClusterConnection(configuration, _api_client(configuration), None, None)
        recheck = _refuse_untrusted(cfg)
        # $KUBECONFIG is read now, not when the client was imported (it may list several files);
        # empty or unset: ~/.kube/config, as kubectl (and as it was checked just now)
        config_file = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        with _LOADING:
            config.load_kube_config(config_file=config_file, context=cfg.context, client_configuration=configuration,
                                    persist_config=False)  # as new_client_from_config, with our retries below
            context = cfg.context
            if context is None:
                _, active = config.list_kube_config_contexts(config_file=config_file)
                context = active.get("name") if active else None
        return ClusterConnection(configuration, _api_client(configuration), context, kubeconfig, recheck)
    except ConfigException as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        denied = _unreadable(where)  # the loader skips a file it cannot stat: "No configuration found"
        if denied:
            raise BackendUnreachable(_denied_text(denied), backend="kubernetes") from None
        raise BackendUnreachable(f"kubeconfig {where}: {exc}", backend="kubernetes") from None
    except PermissionError as exc:
        where = exc.filename or kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise BackendUnreachable(_denied_text(where), backend="kubernetes") from None
    except OSError as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise BackendUnreachable(f"kubeconfig {where}: {exc.strerror or exc}", backend="kubernetes") from None


def _refuse_untrusted(cfg: KubernetesConfig) -> Callable[[], str | None] | None:
    """Raise BackendUnreachable when the kubeconfig envdeck is about to load may not be used (the
    one the config names, else $KUBECONFIG or ~/.kube/config); the check to make again before its
    exec credential plugin runs again (None when its context runs none)."""
    from tui.core.config_files import kubeconfig_reference, refused_message, runs_programs

    ref = kubeconfig_reference(("kubernetes",), cfg.kubeconfig, cfg.context)
    where = "kubernetes.kubeconfig" if cfg.kubeconfig else "kubernetes"

    def refusal() -> str | None:
        return refused_message(ref, where)

    refused = refusal()
    if refused:
        raise BackendUnreachable(refused, backend="kubernetes")
    return refusal if runs_programs(ref) else None


def _denied_text(where: str) -> str:
    """A kubeconfig this user may not read, with the fix: the file itself (made by `sudo kind create
    cluster`, say) is given to the user; a directory on its path that cannot be entered, said so."""
    try:
        os.stat(os.path.expanduser(where))
        fix = f'sudo chown "$USER" {shlex.quote(os.path.expanduser(where))}'
    except OSError:
        fix = "a directory on its path cannot be entered: keep the kubeconfig in a directory of yours"
    return f"cannot read kubeconfig {where}: permission denied ({fix})"


def _unreadable(paths: str) -> str | None:
    """The first of the kubeconfig files `paths` (os.pathsep-separated, as $KUBECONFIG) that this
    user may not read, e.g. in a directory it may not enter; None if there is none."""
    for path in paths.split(os.pathsep):
        if not path:
            continue
        try:
            with open(os.path.expanduser(path), "rb"):
                pass
        except PermissionError:
            return path
        except OSError:
            continue
    return None


async def load_connection_async(cfg: KubernetesConfig) -> ClusterConnection:
    return await asyncio.to_thread(load_connection, cfg)
