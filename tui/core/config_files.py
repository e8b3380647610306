"""Files the config names that `envdeck check` verifies, each reported at its place in the
config (`PATH:LINE:COL: where: message`, like every other config problem).

- an edge node's `identity_file` that does not exist is an error: the node can never log in;
- an edge section's `known_hosts` that does not exist is a warning: every host is unknown until
  trusted, and the admin action trust-host-key creates the file;
- a `known_hosts`, `identity_file` or `ssh_config` that another user could change or replace is a
  warning (`untrusted`, the same rule as for the config file itself and OpenSSH's StrictModes):
  the file, a symlink on its path or a directory above it owned by another user (root aside), or
  writable by others (a directory: unless sticky); an `identity_file` others can read, too.

Only the environments the user can see (`visible`, as every other part of `check`): a hidden
environment's files are neither named nor counted. The template pools (`edge_pools:`) are checked
like the templates are shown, for everyone. At run time the edge backend names a missing file in
the node's error (backends/edge/link.py, hostkeys.py).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
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
    private: bool = False  # a private key: must not be readable by others either
    must_exist: bool = True  # a missing file is reported (ssh_config: optional)


@dataclass(slots=True)
class FileProblems:
    errors: list[str]
    warnings: list[str]


def _edge_references(at: tuple[Any, ...], edge: EdgeConfig) -> Iterator[FileReference]:
    if edge.known_hosts:
        yield FileReference(at + ("known_hosts",), Path(edge.known_hosts).expanduser(), False,
                            "every node's host key is unknown until trusted (the admin action "
                            "trust-host-key creates the file)")
    if edge.ssh_config:
        yield FileReference(at + ("ssh_config",), Path(edge.ssh_config).expanduser(), False, "",
                            must_exist=False)
    for index, node in enumerate(edge.nodes):
        if node.identity_file:
            yield FileReference(at + ("nodes", index, "identity_file"), Path(node.identity_file).expanduser(),
                                True, f"node {node.name} cannot log in", private=True)


def references(cfg: EnvdeckConfig, visible: Iterable[str] | None = None) -> list[FileReference]:
    """The files of the environments in `visible` (all when None) and of the template pools."""
    shown = None if visible is None else set(visible)
    found: list[FileReference] = []
    for name, env in cfg.environments.items():
        if env.edge is not None and (shown is None or name in shown):
            found.extend(_edge_references(("environments", name, "edge"), env.edge))
    for name, pool in cfg.edge_pools.items():
        found.extend(_edge_references(("edge_pools", name), pool))
    return found


# --- who could change a file --------------------------------------------------------------------------

def _others_may_write(st: os.stat_result, *, directory: bool) -> str | None:
    if directory and st.st_mode & stat.S_ISVTX:
        return None  # sticky: only a file's owner (or the directory's) can rename or remove it
    if st.st_mode & 0o002:
        return "is world-writable"
    if st.st_mode & 0o020:
        return "is group-writable"
    return None


def _foreign(uid: int) -> bool:
    return uid not in (0, os.geteuid())


def untrusted(path: Path, *, private: bool = False) -> list[str]:
    """What lets another user than the one running envdeck change or replace `path` (or read it,
    `private`): one phrase per finding, each naming the file or directory. Empty when it is safe
    or does not exist (a missing file is reported apart)."""
    path = Path(os.path.abspath(path))
    if not os.path.lexists(path):
        return []
    found: list[str] = []
    checked: set[Path] = set()

    def directory(folder: Path) -> None:
        for d in [folder, *folder.parents]:
            if d in checked:
                return
            checked.add(d)
            try:
                st = d.stat()
            except OSError:
                return
            if _foreign(st.st_uid):
                found.append(f"{d}: a directory on its path is owned by another user (uid {st.st_uid}), "
                             "who can replace the file")
            problem = _others_may_write(st, directory=True)
            if problem:
                found.append(f"{d}: a directory on its path {problem} without the sticky bit; "
                             "others can replace the file")

    # symbolic links on the way (the file itself or a directory of its path)
    prefix = Path(path.anchor)
    for part in path.parts[1:]:
        prefix = prefix / part
        if os.path.islink(prefix):
            try:
                st = prefix.lstat()
            except OSError:
                break
            if _foreign(st.st_uid):
                found.append(f"{prefix}: a symlink on its path is owned by another user (uid {st.st_uid}), "
                             f"who can point it elsewhere (now {os.path.realpath(prefix)})")
            directory(Path(os.path.realpath(prefix.parent)))
    real = Path(os.path.realpath(path))  # never raises, a symlink loop included
    try:
        st = real.stat()
    except OSError:
        return found
    if _foreign(st.st_uid):
        found.append(f"{real}: is owned by another user (uid {st.st_uid}), who can change it")
    problem = _others_may_write(st, directory=False)
    if problem:
        found.append(f"{real}: {problem}; others can change it")
    if private and st.st_mode & 0o077:
        found.append(f"{real}: a private key readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                     "ssh refuses such a key (UNPROTECTED PRIVATE KEY FILE): chmod 600 it")
    directory(real.parent)
    return found


_WHY_TRUSTED = {"known_hosts": "whoever can change it decides which host keys envdeck trusts",
                "identity_file": "whoever can change it decides which key envdeck logs in with",
                "ssh_config": "whoever can change it decides how envdeck connects"}


def _kind(ref: FileReference) -> str:
    return str(ref.loc[-1])


def check_files(cfg: EnvdeckConfig, visible: Iterable[str] | None = None) -> FileProblems:
    """The config's files (of the environments in `visible` and the template pools) that do not
    exist or that others could change, placed in the config file `cfg.source`."""
    found: list[tuple[FileReference, str, bool]] = []  # (reference, text, an error)
    for ref in references(cfg, visible):
        if not os.path.lexists(ref.path) or (ref.must_exist and not ref.path.exists()):
            if ref.must_exist:
                found.append((ref, f"no such file {str(ref.path)!r}: {ref.why}", ref.required))
            continue
        for finding in untrusted(ref.path, private=ref.private):
            found.append((ref, f"{_kind(ref)} {finding}; {_WHY_TRUSTED[_kind(ref)]}", False))
    problems = FileProblems([], [])
    if not found:
        return problems
    source = cfg.source
    try:
        data, marks = compose_with_marks(read_regular_file(Path(source)).decode("utf-8"), source)
    except Exception:  # noqa: BLE001 - the file changed since it was loaded: places unknown
        data, marks = None, {}
    for ref, message, error in found:
        if data is not None:
            line, col, path = locate(data, marks, ref.loc)
            where = ".".join(str(p) for p in path)
        else:
            line, col, where = 1, 1, ".".join(str(p) for p in ref.loc)
        (problems.errors if error else problems.warnings).append(f"{source}:{line}:{col}: {where}: {message}")
    return problems

