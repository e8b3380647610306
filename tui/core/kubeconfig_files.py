"""The files a kubeconfig names for the context in use, found as the official client's loader
finds them (kubernetes.config.kube_config), so that what envdeck checks is what it then opens.

- `paths` is one file or an `os.pathsep`-separated list, as `$KUBECONFIG`: missing files are
  skipped, the first file to name a cluster, user or context wins, and `current-context` is the
  LAST file's that sets one (the python client's merge; kubectl takes the first);
- the context is the one asked for, else `current-context`; only its user and cluster count
  (another context's files are never opened);
- a relative path is joined to the directory of the file the entry came from (`abspath`, not
  `realpath`, as the loader): the user's file for `tokenFile`, the CLUSTER's file for
  `certificate-authority`, `client-certificate`, `client-key` and the exec plugin's working
  directory (the loader's own rule: a relative plugin path is resolved there by Popen); kubectl
  (the shell action) joins the user's files to the USER's file: both are named where they differ;
- an inline `*-data` value wins over its file, as in the loader (the file is then not opened);
- a named file or program is checked where the kernel opens it: the joined path is never
  normalised (`team/../plugin`, `team` a symlink, is the plugin beside the link's target), its
  real path and each symlink followed on the way are named (`resolved`).

Nothing here raises: a file that cannot be read or parsed, or a context that does not exist,
yields what could be found (the loader reports the rest when it runs)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.core.config_read import read_regular_file

#: what each named file is: a secret (must not be readable by others), a file that decides trust
#: (must not be changeable by others), a program envdeck runs as you, or a place where a program
#: named without a `/` is looked for before where it is found (nobody else may be able to put one there)
SECRET, TRUSTED, PROGRAM, SEARCHED = "secret", "trusted", "program", "searched"


@dataclass(frozen=True, slots=True)
class NamedFile:
    kubeconfig: str  # the kubeconfig file whose entry names it
    field: str       # where in it, e.g. users[alice].user.client-key
    noun: str        # what it is, for people: "client key"
    path: Path       # the file, resolved as the loader resolves it
    role: str        # SECRET, TRUSTED or PROGRAM


@dataclass(frozen=True, slots=True)
class _Entry:
    value: dict[str, Any]
    source: str  # the kubeconfig file it came from


def kubeconfig_files(paths: str) -> list[str]:
    """The existing files of `paths` (one path or an os.pathsep-separated list), ~ expanded."""
    found = []
    for path in paths.split(os.pathsep):
        if path and os.path.exists(os.path.expanduser(path)):
            found.append(os.path.expanduser(path))
    return found


def _load(path: str) -> dict[str, Any] | None:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in: a big kubeconfig is read fast
    try:
        data = yaml.load(read_regular_file(Path(path)).decode("utf-8", errors="replace"), Loader=loader)  # noqa: S506
    except Exception:  # noqa: BLE001 - unreadable or not YAML: the loader reports it
        return None
    return data if isinstance(data, dict) else None


def _merged(paths: str) -> tuple[dict[str, dict[str, _Entry]], str | None]:
    """The named clusters, users and contexts (first file wins) and the current context (last wins)."""
    named: dict[str, dict[str, _Entry]] = {"clusters": {}, "users": {}, "contexts": {}}
    current = None
    for path in kubeconfig_files(paths):
        data = _load(path)
        if data is None:
            continue
        for item, entries in named.items():
            listed = data.get(item)
            for entry in listed if isinstance(listed, list) else []:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    entries.setdefault(entry["name"], _Entry(entry, path))
        if isinstance(data.get("current-context"), str):
            current = data["current-context"]
    return named, current


def _section(entry: _Entry | None, key: str) -> dict[str, Any]:
    value = entry.value.get(key) if entry is not None else None
    return value if isinstance(value, dict) else {}


def _base(entry: _Entry | None) -> str:
    return os.path.abspath(os.path.dirname(entry.source)) if entry is not None else ""


def resolved(path: str) -> list[Path]:
    """Where the kernel finds `path` (absolute, joined but never normalised: `link/..` is the
    parent of the link's TARGET), then each symlink it follows on the way, by its real place:
    whoever can replace one of them decides what is opened. The real file first. Without a `..`
    the path itself (`untrusted` follows its symlinks and checks each)."""
    path = os.path.join(os.getcwd(), path)
    if ".." not in path.split("/"):
        return [Path(os.path.normpath(path))]  # only `.` and `//` go: the same file
    current, links = "/", []
    pending = [part for part in path.split("/") if part]
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        if not os.path.islink(candidate) or len(links) >= 40:  # ELOOP: the open fails
            current = candidate
            continue
        links.append(Path(candidate))
        try:
            target = os.readlink(candidate)
        except OSError:
            current = candidate
            continue
        if target.startswith("/"):
            current = "/"
        pending = [p for p in target.split("/") if p] + pending
    return [Path(current), *links]


def _file(section: dict[str, Any], key: str, base: str) -> list[Path]:
    """`section[key]` joined to `base` as the loader does, then `resolved` (none when inline data
    wins or absent)."""
    value = section.get(key)
    if not isinstance(value, str) or not value or f"{key}-data" in section:
        return []
    return resolved(os.path.join(base, value))


def _program(plugin: dict[str, Any], cwd: str) -> list[tuple[Path, str]]:
    """The exec credential plugin's program (PROGRAM): a path with a `/` (relative to the plugin's
    working directory), or a bare name looked up in the PATH the plugin gets (the kubeconfig's `env`
    may set it, else this process's, else os.defpath: Popen's own search, relative entries from the
    working directory; the first executable file wins), with each candidate before it (SEARCHED:
    whoever can create it there decides what runs)."""
    command = plugin.get("command")
    if not isinstance(command, str) or not command:
        return []
    env = plugin.get("env")
    named = [e.get("value") for e in env if isinstance(e, dict) and e.get("name") == "PATH"] \
        if isinstance(env, list) else []
    search = named[-1] if named and isinstance(named[-1], str) else os.environ.get("PATH", os.defpath)
    return _command(command, cwd, search)


def _command(command: str, cwd: str, search: str) -> list[tuple[Path, str]]:
    """Where Popen finds `command` from `cwd`: a path with a `/` as the kernel resolves it (no ~
    expansion, `resolved`), a bare name in `search`'s directories (each resolved) with each
    candidate before it (SEARCHED)."""
    if "/" in command:
        return [(path, PROGRAM) for path in resolved(os.path.join(cwd, command))]
    found: list[tuple[Path, str]] = []
    for folder in dict.fromkeys(search.split(os.pathsep)):
        real, *links = resolved(os.path.join(cwd, folder))
        candidate = real / command
        if shutil.which(command, path=str(real)):
            return found + [(path, PROGRAM) for path in links] + [(candidate, PROGRAM)]
        found.append((candidate, SEARCHED))
    return found


def named_files(paths: str, context: str | None = None) -> list[NamedFile]:
    """The files the kubeconfig(s) `paths` name for `context` (else the current context)."""
    named, current = _merged(paths)
    ctx = named["contexts"].get(context or current or "")
    settings = _section(ctx, "context")
    user_name, cluster_name = settings.get("user"), settings.get("cluster")
    user_entry = named["users"].get(user_name) if isinstance(user_name, str) else None
    cluster_entry = named["clusters"].get(cluster_name) if isinstance(cluster_name, str) else None
    user, cluster = _section(user_entry, "user"), _section(cluster_entry, "cluster")
    cluster_base = _base(cluster_entry)
    found: list[NamedFile] = []

    def add(entry: _Entry | None, field: str, noun: str, paths: list[Path], role: str) -> None:
        if entry is not None:  # a symlink on the way (after the file) decides which file, its target is no secret
            found.extend(NamedFile(entry.source, field, noun, path, TRUSTED if n and role == SECRET else role)
                         for n, path in enumerate(paths))

    users, clusters = f"users[{user_name}].user", f"clusters[{cluster_name}].cluster"
    # the loader joins the user's files to the cluster entry's directory, kubectl (the shell
    # action's `kubectl exec`) to the user entry's: where they differ, both are checked
    user_bases = list(dict.fromkeys([cluster_base, _base(user_entry)]))
    add(cluster_entry, f"{clusters}.certificate-authority", "certificate authority",
        _file(cluster, "certificate-authority", cluster_base), TRUSTED)
    for base in user_bases:
        add(user_entry, f"{users}.client-certificate", "client certificate",
            _file(user, "client-certificate", base), TRUSTED)
        add(user_entry, f"{users}.client-key", "client key", _file(user, "client-key", base), SECRET)
        plugin = user.get("exec")
        if isinstance(plugin, dict):
            for program, role in _program(plugin, base):
                add(user_entry, f"{users}.exec.command", "exec credential plugin", [program], role)
    if "token" not in user:
        add(user_entry, f"{users}.tokenFile", "token file", _file(user, "tokenFile", _base(user_entry)), SECRET)
    provider = _section(_Entry(user, ""), "auth-provider").get("config")
    if isinstance(provider, dict):  # gcp's cmd-path and oidc's CA, as the loader opens them (from the cwd)
        command = provider.get("cmd-path")
        if isinstance(command, str) and command.split():
            # the loader's split: the whole cmd-path when cmd-args is set, else its first word
            # (any whitespace); Popen then finds it from the cwd or on this process's PATH
            program = command if "cmd-args" in provider else command.split()[0]
            for path, role in _command(program, os.getcwd(), os.environ.get("PATH", os.defpath)):
                add(user_entry, f"{users}.auth-provider.config.cmd-path", "credential command", [path], role)
        add(user_entry, f"{users}.auth-provider.config.idp-certificate-authority",
            "identity provider's certificate authority", _file(provider, "idp-certificate-authority", os.getcwd()),
            TRUSTED)
    return found
