"""Files the config names that `envdeck check` verifies, each reported at its place in the
config (`PATH:LINE:COL: where: message`, like every other config problem).

- an edge node's `identity_file` that does not exist is an error: the node can never log in;
- an edge section's `known_hosts` that does not exist is a warning: every host is unknown until
  trusted, and the admin action trust-host-key creates the file;
- a `known_hosts`, `identity_file` or `ssh_config` that another user could change or replace is a
  warning (`untrusted`, the same rule as for the config file itself and OpenSSH's StrictModes):
  the file, a symlink on its path or a directory above it owned by another user (root aside), or
  writable by others (a directory: unless sticky); an `identity_file` others can read, too;
- what the edge backend refuses at run time, as OpenSSH does (`refused_phrases`: an `identity_file`
  readable by group or others, a `known_hosts` another user can write) is an error instead: `check`
  exits 2, and making the environment's backends raises the same placed lines (`refuse_untrusted`,
  from backends/registry.py: `run`, `status`, the TUI exit 2 like any config error) while each node's
  link refuses to connect with it (backends/edge/link.py), so no login happens with such a file;
- an environment's or a template's `kubernetes.kubeconfig` and a template's `kubernetes.manifests`
  files: whatever lets another user change or replace them (`untrusted`) is an error too, and
  refused at run time as OpenSSH refuses a ~/.ssh/config with bad owner or permissions: the
  kubeconfig decides which programs envdeck runs as you (exec credential plugins: a plugin it
  names by path that another user can replace is refused too), a manifest what `env create` applies. Making an environment's backends raises the placed lines
  (`refuse_untrusted`), the kubernetes backend refuses to load such a kubeconfig
  (backends/kubernetes/connection.py: a template's environment too) and `env plan/create`
  refuses such a template (`template_refusals`, tui/core/lifecycle/render.py);
- an `aws.identity_file` (the AWS shell's key) another user could change, or others can read, is
  a warning (ssh itself refuses a key others can read when the shell opens).

Only the environments the user can see (`visible`, as every other part of `check`): a hidden
environment's files are neither named nor counted. The template pools (`edge_pools:`) are checked
like the templates are shown, for everyone. At run time the edge backend names a missing file in
the node's error (backends/edge/link.py, hostkeys.py).
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.core.config_read import read_regular_file
from tui.core.config_yaml import compose_with_marks, locate
from tui.core.errors import ConfigError

if TYPE_CHECKING:  # the edge links call run_time_refusal before the models are imported (envdeck run)
    from tui.core.config import EdgeConfig, EnvdeckConfig


@dataclass(frozen=True, slots=True)
class FileReference:
    loc: tuple[Any, ...]   # where in the config (environments, NAME, edge, nodes, 0, identity_file)
    path: Path             # the file, ~ expanded
    required: bool         # missing: an error (else a warning)
    why: str               # what a missing file means
    private: bool = False  # a private key: must not be readable by others either
    must_exist: bool = True  # a missing file is reported (ssh_config: optional)
    kind: str = ""           # what it is when the key does not say (a manifest's key is its index)


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


def _cluster_references(at: tuple[Any, ...], section: Any) -> Iterator[FileReference]:
    """An environment's or a template's `kubernetes.kubeconfig` and `aws.identity_file` (a template's
    only when it names no placeholder: its file is known once rendered, and refused then)."""
    kubernetes, aws = getattr(section, "kubernetes", None), getattr(section, "aws", None)
    if kubernetes is not None and kubernetes.kubeconfig and "{" not in kubernetes.kubeconfig:
        yield FileReference(at + ("kubernetes", "kubeconfig"), Path(kubernetes.kubeconfig).expanduser(), False,
                            "", must_exist=False)
    if aws is not None and aws.identity_file and "{" not in aws.identity_file:
        yield FileReference(at + ("aws", "identity_file"), Path(aws.identity_file).expanduser(), False, "",
                            private=True, must_exist=False, kind="aws_identity_file")


def _template_references(name: str, template: Any, source: str) -> Iterator[FileReference]:
    at = ("templates", name)
    yield from _cluster_references(at, template)
    if template.kubernetes is not None:
        from tui.core.lifecycle.template import manifest_path

        for index, entry in enumerate(template.kubernetes.manifests):  # a missing one: template_check's
            yield FileReference(at + ("kubernetes", "manifests", index), manifest_path(entry, source), False, "",
                                must_exist=False, kind="manifest")


def references(cfg: EnvdeckConfig, visible: Iterable[str] | None = None) -> list[FileReference]:
    """The files of the environments in `visible` (all when None), of the templates and of the
    template pools."""
    shown = None if visible is None else set(visible)
    found: list[FileReference] = []
    for name, env in cfg.environments.items():
        if shown is None or name in shown:
            if env.edge is not None:
                found.extend(_edge_references(("environments", name, "edge"), env.edge))
            found.extend(_cluster_references(("environments", name), env))
    for name, template in cfg.templates.items():
        found.extend(_template_references(name, template, cfg.source))
    for name, pool in cfg.edge_pools.items():
        found.extend(_edge_references(("edge_pools", name), pool))
    return found


# --- who could change a file --------------------------------------------------------------------------

def _foreign(uid: int) -> bool:
    return uid not in (0, os.geteuid())


def _trust_problems(st: os.stat_result, what: str) -> list[str]:
    """What lets another user change or replace a file (`what` "file") or a directory on a file's
    path (`what` "directory": a sticky one lets only a file's owner rename or remove it): its owner
    (root aside) and its group/world write bits, one phrase each (the caller names the path)."""
    directory = what == "directory"
    place, can = ("a directory on its path ", "replace the file") if directory else ("", "change it")
    found = []
    if _foreign(st.st_uid):
        found.append(f"{place}is owned by another user (uid {st.st_uid}), who can {can}")
    if not (directory and st.st_mode & stat.S_ISVTX):
        writable = "world-writable" if st.st_mode & 0o002 else "group-writable" if st.st_mode & 0o020 else ""
        if writable:
            found.append(f"{place}is {writable}{' without the sticky bit' if directory else ''}; others can {can}")
    return found


def _unprotected_key(real: Path | str, st: os.stat_result) -> str | None:
    if st.st_mode & 0o077:
        return (f"{real}: a private key readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                "ssh refuses such a key (UNPROTECTED PRIVATE KEY FILE): chmod 600 it")
    return None


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
            found.extend(f"{d}: {problem}" for problem in _trust_problems(st, "directory"))

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
    found.extend(f"{real}: {problem}" for problem in _trust_problems(st, "file"))
    key = _unprotected_key(real, st) if private else None
    if key:
        found.append(key)
    directory(real.parent)
    return found


# --- what is refused at run time ------------------------------------------------------------------------

#: the files refused at run time (`run_time_refusal`), as OpenSSH refuses them
REFUSED_KINDS = ("identity_file", "known_hosts", "kubeconfig", "manifest")
#: refused when another user can change or replace them at all (`untrusted`: the file, a symlink or
#: a directory on its path): a kubeconfig decides which programs envdeck runs (exec credential
#: plugins), a template's manifest what `env create` applies
_REFUSED_WHOLE = ("kubeconfig", "manifest")


@functools.cache
def refused_phrases(path: str, kind: str) -> tuple[str, ...]:
    """Why the edge backend must not use `path` at all (empty: it may), as OpenSSH does at run time:
    an `identity_file` readable by group or others ("UNPROTECTED PRIVATE KEY FILE", ssh ignores such
    a key), a `known_hosts` another user can write (owned by them, root aside, or group/world-writable:
    whoever can write it decides which host keys are trusted). One stat per file per process (the
    answer is kept: a file fixed while envdeck runs counts from its next start). The phrases are
    `untrusted`'s for the same file; a missing file is not refused here (reported apart).
    A `kubeconfig` or a template's `manifest` is refused for every finding of `untrusted`: its
    owner, its write bits, a symlink or a directory on its path another user controls."""
    if kind in _REFUSED_WHOLE:
        found = untrusted(Path(path))
        if kind == "kubeconfig":  # the programs it runs: a plugin another user can replace runs as you too
            found += [f"{os.path.realpath(path)} names the exec credential plugin {finding}"
                      for command in _exec_plugins(Path(path)) for finding in untrusted(command)]
        return tuple(found)
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return ()
    if kind == "identity_file":
        key = _unprotected_key(real, st)
        return (key,) if key else ()
    if kind == "known_hosts":
        return tuple(f"{real}: {problem}" for problem in _trust_problems(st, "file"))
    return ()


def _exec_plugins(kubeconfig: Path) -> list[Path]:
    """The exec credential plugins a kubeconfig names by path (`users[].user.exec.command` with a
    `/`; relative to the kubeconfig's directory, as kubectl resolves them); a bare name is looked
    up in your $PATH, your own environment. Empty when the file cannot be read or parsed (the
    loader says why)."""
    import yaml

    try:
        data = yaml.safe_load(read_regular_file(kubeconfig).decode("utf-8", errors="replace"))
    except Exception:  # noqa: BLE001 - unreadable or not YAML: the loader reports it
        return []
    users = data.get("users") if isinstance(data, dict) else None
    found: list[Path] = []
    for entry in users if isinstance(users, list) else []:
        user = entry.get("user") if isinstance(entry, dict) else None
        plugin = user.get("exec") if isinstance(user, dict) else None
        command = plugin.get("command") if isinstance(plugin, dict) else None
        if isinstance(command, str) and "/" in command:
            found.append(Path(os.path.realpath(kubeconfig)).parent / Path(command).expanduser())
    return found


def run_time_refusal(path: str | Path, kind: str) -> str | None:
    """`refused_phrases` as one text, or None when the file may be used."""
    phrases = refused_phrases(str(path), kind)
    return "; ".join(phrases) if phrases else None


_WHY_TRUSTED = {"known_hosts": "whoever can change it decides which host keys envdeck trusts",
                "identity_file": "whoever can change it decides which key envdeck logs in with",
                "ssh_config": "whoever can change it decides how envdeck connects",
                "kubeconfig": "whoever can change it decides which cluster and credentials envdeck uses and "
                              "which programs it runs as you (exec credential plugins)",
                "manifest": "whoever can change it decides what envdeck env create applies to the cluster",
                "aws_identity_file": "whoever can change it decides which key the AWS shell logs in with"}
_LABEL = {"aws_identity_file": "identity_file"}


def _kind(ref: FileReference) -> str:
    return ref.kind or str(ref.loc[-1])


def _label(kind: str) -> str:
    return _LABEL.get(kind, kind)


def refused_message(path: str | Path, kind: str, where: str) -> str | None:
    """The run-time refusal of a `kubeconfig` or a template's `manifest` (`refused_phrases`) as one
    sentence naming the file and `where` the config names it; None when it may be used."""
    refusal = run_time_refusal(path, kind)
    if refusal is None:
        return None
    return f"{where}: {_label(kind)} {refusal}; {_WHY_TRUSTED[kind]}: refused, envdeck does not use it"


def check_files(cfg: EnvdeckConfig, visible: Iterable[str] | None = None) -> FileProblems:
    """The config's files (of the environments in `visible` and the template pools) that do not
    exist or that others could change, placed in the config file `cfg.source`. What the edge
    backend refuses at run time (`refused_phrases`) is an error, the rest a warning."""
    found: list[tuple[FileReference, str, bool]] = []  # (reference, text, an error)
    for ref in references(cfg, visible):
        if not os.path.lexists(ref.path) or (ref.must_exist and not ref.path.exists()):
            if ref.must_exist:
                found.append((ref, f"no such file {str(ref.path)!r}: {ref.why}", ref.required))
            continue
        refused = refused_phrases(str(ref.path), _kind(ref))
        findings = untrusted(ref.path, private=ref.private)
        for finding in findings:
            if finding in refused:
                found.append((ref, _refused_text(ref, finding), True))
            else:
                found.append((ref, f"{_label(_kind(ref))} {finding}; {_WHY_TRUSTED[_kind(ref)]}", False))
        found += [(ref, _refused_text(ref, phrase), True) for phrase in refused if phrase not in findings]
    problems = FileProblems([], [])
    for line, error in _placed(cfg, found):
        (problems.errors if error else problems.warnings).append(line)
    return problems


def _refused_text(ref: FileReference, phrase: str) -> str:
    if _kind(ref) == "identity_file":
        return f"identity_file {phrase}; refused: envdeck does not log in with it"
    return f"{_kind(ref)} {phrase}; {_WHY_TRUSTED[_kind(ref)]}: refused, envdeck does not use it"


def refuse_untrusted(cfg: EnvdeckConfig, env: str, edge: EdgeConfig | None) -> None:
    """Raise ConfigError (`PATH:LINE:COL: where: message` lines, as any config error) when the
    environment's edge section names an `identity_file` or `known_hosts` the edge backend refuses
    (`refused_phrases`); called when the environment's backends are made, before any connect.
    Costs one stat per file per process; the config file is read again only to place a refusal.
    An environment created from a template (not in the config file: nothing to place, and a running
    lifecycle must not fail on it) is left to its links, which refuse each node with the file named,
    and to the kubernetes backend, which refuses its kubeconfig when it loads it. The environment's
    `kubernetes.kubeconfig` is refused here too (`_REFUSED_WHOLE`)."""
    refs = list(_edge_references(("environments", env, "edge"), edge)) if edge is not None else []
    declared = cfg.environments.get(env)
    if declared is not None:  # its kubeconfig (which programs run as you), else refused when loaded
        refs += [ref for ref in _cluster_references(("environments", env), declared) if _kind(ref) in REFUSED_KINDS]
    found = [(ref, _refused_text(ref, phrase), True)
             for ref in refs for phrase in refused_phrases(str(ref.path), _kind(ref))]
    if not found:
        return
    data, marks = _source(cfg)
    if isinstance(data, dict) and env not in (data.get("environments") or {}):
        return
    raise ConfigError([line for line, _ in _placed(cfg, found, (data, marks))])


def template_refusals(cfg: EnvdeckConfig, template: str, kubeconfig: str | None, *,
                      manifests: bool = True) -> list[str]:
    """Why `env create` must not use template `template`'s files (`PATH:LINE:COL: where: message`
    each, empty: it may): its `manifests` (when `manifests`; a clone makes its own) and the
    `kubeconfig` it renders to that another user can change or replace (`refused_phrases`)."""
    tpl = cfg.templates.get(template)
    refs: list[FileReference] = []
    if tpl is not None and manifests:
        refs += [ref for ref in _template_references(template, tpl, cfg.source) if _kind(ref) == "manifest"]
    if kubeconfig:
        refs.append(FileReference(("templates", template, "kubernetes", "kubeconfig"),
                                  Path(kubeconfig).expanduser(), False, "", must_exist=False))
    found = [(ref, _refused_text(ref, phrase), True)
             for ref in refs for phrase in refused_phrases(str(ref.path), _kind(ref))]
    return [line for line, _ in _placed(cfg, found)]


def _source(cfg: EnvdeckConfig) -> tuple[Any, dict]:
    """The config file's data and marks, or (None, {}) when it cannot be read again."""
    try:
        return compose_with_marks(read_regular_file(Path(cfg.source)).decode("utf-8"), cfg.source)
    except Exception:  # noqa: BLE001 - the file changed since it was loaded: places unknown
        return None, {}


def _placed(cfg: EnvdeckConfig, found: list[tuple[FileReference, str, bool]],
            composed: tuple[Any, dict] | None = None) -> list[tuple[str, bool]]:
    """Each (reference, message, an error) as `PATH:LINE:COL: where: message` in `cfg.source`."""
    if not found:
        return []
    source = cfg.source
    data, marks = composed if composed is not None else _source(cfg)
    placed = []
    for ref, message, error in found:
        if data is not None:
            line, col, path = locate(data, marks, ref.loc)
            where = ".".join(str(p) for p in path)
        else:
            line, col, where = 1, 1, ".".join(str(p) for p in ref.loc)
        placed.append((f"{source}:{line}:{col}: {where}: {message}", error))
    return placed
