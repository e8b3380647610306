"""Files the config names that `envdeck check` verifies exist, each reported at its place in the
config (`PATH:LINE:COL: where: message`, like every other config problem).

- an edge node's `identity_file` that does not exist is an error: the node can never log in;
- an edge section's `known_hosts` that does not exist is a warning: every host is unknown until
  trusted, and the admin action trust-host-key creates the file.

Environments' `edge:` sections and the template pools' (`edge_pools:`) alike. At run time the edge
backend names the missing file in the node's error (backends/edge/link.py, hostkeys.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.core.config import EdgeConfig, EnvdeckConfig, read_regular_file
from tui.core.config_yaml import compose_with_marks, locate


@dataclass(frozen=True, slots=True)
class FileReference:
    loc: tuple[Any, ...]   # where in the config (environments, NAME, edge, nodes, 0, identity_file)
    path: Path             # the file, ~ expanded
    required: bool         # missing: an error (else a warning)
    why: str               # what a missing file means


@dataclass(slots=True)
class FileProblems:
    errors: list[str]
    warnings: list[str]


def _edge_references(at: tuple[Any, ...], edge: EdgeConfig) -> Iterator[FileReference]:
    if edge.known_hosts:
        yield FileReference(at + ("known_hosts",), Path(edge.known_hosts).expanduser(), False,
                            "every node's host key is unknown until trusted (the admin action "
                            "trust-host-key creates the file)")
    for index, node in enumerate(edge.nodes):
        if node.identity_file:
            yield FileReference(at + ("nodes", index, "identity_file"), Path(node.identity_file).expanduser(),
                                True, f"node {node.name} cannot log in")


def references(cfg: EnvdeckConfig) -> list[FileReference]:
    found: list[FileReference] = []
    for name, env in cfg.environments.items():
        if env.edge is not None:
            found.extend(_edge_references(("environments", name, "edge"), env.edge))
    for name, pool in cfg.edge_pools.items():
        found.extend(_edge_references(("edge_pools", name), pool))
    return found


def missing_files(cfg: EnvdeckConfig) -> FileProblems:
    """The config's files that do not exist, placed in the config file `cfg.source`."""
    missing = [ref for ref in references(cfg) if not ref.path.exists()]
    problems = FileProblems([], [])
    if not missing:
        return problems
    source = cfg.source
    try:
        data, marks = compose_with_marks(read_regular_file(Path(source)).decode("utf-8"), source)
    except Exception:  # noqa: BLE001 - the file changed since it was loaded: places unknown
        data, marks = None, {}
    for ref in missing:
        if data is not None:
            line, col, path = locate(data, marks, ref.loc)
            where = ".".join(str(p) for p in path)
        else:
            line, col, where = 1, 1, ".".join(str(p) for p in ref.loc)
        text = f"{source}:{line}:{col}: {where}: no such file {str(ref.path)!r}: {ref.why}"
        (problems.errors if ref.required else problems.warnings).append(text)
    return problems
