"""The edge backend: SSH nodes (asyncssh) with their services, host metrics,
logs, compliance and fleet commands. `simulator.EdgeSimulator` serves
simulated nodes for `envdeck demo`."""

import contextlib
import os
import re
import subprocess
import sys
import warnings


def _quiet_asyncssh_dsa_warning() -> None:
    """asyncssh (2.x) names cryptography's DSA classes at import, and cryptography (>= 43)
    warns for each: ten lines of `CryptographyDeprecationWarning: DSA is deprecated` on
    every start of envdeck. envdeck never uses DSA keys; ignore exactly that warning,
    raised from asyncssh's modules, before any submodule imports asyncssh. Any other
    warning, and this one from any other module, still shows."""
    try:
        from cryptography.utils import CryptographyDeprecationWarning
    except ImportError:  # pragma: no cover - cryptography comes with asyncssh
        return
    warnings.filterwarnings("ignore", message=r"DSA is deprecated", category=CryptographyDeprecationWarning,
                            module=r"asyncssh(\.|$)")


@contextlib.contextmanager
def _native_libraries_from_the_loader_cache():
    """At import asyncssh looks for the optional native libraries liboqs and nettle with
    `ctypes.util.find_library`. On Linux a name missing from the dynamic loader's cache then
    makes find_library run gcc and ld: seven processes and ~0.1 s of CPU in every envdeck
    process that speaks SSH (a quarter of what `envdeck run` spends besides python itself).
    While asyncssh is imported, answer from the loader's cache alone (`ldconfig -p`, read
    once): what the dynamic loader can open by name, which is also find_library's own first
    answer. With LD_LIBRARY_PATH set (libraries the cache does not list), or where there is
    no ldconfig, find_library is left as it is."""
    import ctypes.util

    if not sys.platform.startswith("linux") or os.environ.get("LD_LIBRARY_PATH") or "asyncssh" in sys.modules:
        yield
        return
    try:
        listing = subprocess.run(["/sbin/ldconfig", "-p"], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, env={"LC_ALL": "C", "LANG": "C"}, timeout=10,
                                 check=False).stdout
    except (OSError, subprocess.SubprocessError):
        yield
        return
    abi = "libc6,x86-64" if os.uname().machine == "x86_64" else "libc6"
    original = ctypes.util.find_library

    def from_the_cache(name: str) -> str | None:
        found = re.search(os.fsencode(rf"\s+(lib{re.escape(name)}\.[^\s]+)\s+\({re.escape(abi)}"), listing)
        return os.fsdecode(found.group(1)) if found else None

    ctypes.util.find_library = from_the_cache
    try:
        yield
    finally:
        ctypes.util.find_library = original


_quiet_asyncssh_dsa_warning()

with _native_libraries_from_the_loader_cache():
    import asyncssh  # noqa: E402,F401 - first import of asyncssh, after the filter, with the cache lookup

__all__ = ["EdgeBackend", "FleetResult", "fleet_json", "fleet_summary"]
_LAZY = {"EdgeBackend": "backends.edge.backend", "FleetResult": "backends.edge.fleet",
         "fleet_json": "backends.edge.fleet", "fleet_summary": "backends.edge.fleet"}


def __getattr__(name: str) -> object:
    """The backend and the fleet helpers are imported on first use: `envdeck run` imports
    this package (asyncssh) and the links (backends/edge/early.py) to connect its nodes
    before the config models, which the backend needs, are imported."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
