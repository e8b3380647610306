"""Where the cluster is and how to authenticate, found exactly as kubectl finds it.

The official client's loaders do all of the work (kubeconfig merging via
$KUBECONFIG, contexts, token files, exec plugins, client certificates,
in-cluster service accounts); this module only carries the loaded
`Configuration` over to an aiohttp session, because the hot paths (big lists,
watches, log streams) read raw JSON instead of building typed models.
"""

from __future__ import annotations

import asyncio
import os
import ssl
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


def load_connection(cfg: KubernetesConfig) -> ClusterConnection:
    """Load the client configuration (blocking: run it in a thread).

    kubeconfig given → that file; else in a pod (KUBERNETES_SERVICE_HOST set and
    no kubeconfig/context asked for) → the service account; else $KUBECONFIG or
    ~/.kube/config, as kubectl.
    """
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    kubeconfig = str(Path(cfg.kubeconfig).expanduser()) if cfg.kubeconfig else None
    try:
        if _in_cluster(cfg):
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return ClusterConnection(configuration, client.ApiClient(configuration), None, None)
        # $KUBECONFIG is read now, not when the client was imported (it may list several files).
        config_file = kubeconfig or os.environ.get("KUBECONFIG") or None
        api_client = config.new_client_from_config(
            config_file=config_file, context=cfg.context, persist_config=False)
        context = cfg.context
        if context is None:
            _, active = config.list_kube_config_contexts(config_file=config_file)
            context = active.get("name") if active else None
        return ClusterConnection(api_client.configuration, api_client, context, kubeconfig)
    except ConfigException as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise BackendUnreachable(f"kubeconfig {where}: {exc}", backend="kubernetes") from None
    except OSError as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise BackendUnreachable(f"kubeconfig {where}: {exc.strerror or exc}", backend="kubernetes") from None


async def load_connection_async(cfg: KubernetesConfig) -> ClusterConnection:
    return await asyncio.to_thread(load_connection, cfg)
