"""Files the config names that `envdeck check` verifies, each reported at its place in the
config (`PATH:LINE:COL: where: message`, like every other config problem).

- an edge node's `identity_file` that does not exist is an error: the node can never log in;
- an edge section's `known_hosts` that does not exist is a warning: every host is unknown until
  trusted, and the admin action trust-host-key creates the file;
- an edge section's `ssh_config` another user could change or replace, or any file it Includes
  (its ProxyCommand runs as you), is refused like a kubeconfig (below; `_ssh_config_phrases`);
- a named kubeconfig or ssh_config that does not exist yet is a warning (it is checked when it
  appears: a missing file is recorded with the answer, never kept as trusted), and an error
  when another user could be the one to create it (`who_can_create`);
- a `known_hosts` or `identity_file` that another user could change or replace is a
  warning (`untrusted`, the same rule as for the config file itself and OpenSSH's StrictModes):
  the file, a symlink on its path or a directory above it owned by another user (root aside), or
  writable by others (a directory: unless sticky); an `identity_file` others can read, too
  (group-writable is fine when the group is the owner's private group, `paths.private_group`,
  as Debian's OpenSSH StrictModes says: no one else is in it);
- what the edge backend refuses at run time, as OpenSSH does (`refused_phrases`: an `identity_file`
  of yours readable by group or others (sshkey_perm_ok: another owner's key, a team's read-only
  deploy key, is used while no other user can change or replace it), a `known_hosts` another user can write) is an error instead: `check`
  exits 2, and making the environment's backends raises the same placed lines (`refuse_untrusted`,
  from backends/registry.py: `run` and `status` exit 2 like any config error; the TUI makes its
  backends without it and shows each backend's own refusal as its error) while each node's
  link refuses to connect with it (backends/edge/link.py), so no login happens with such a file;
- an environment's or a template's kubeconfig (its `kubernetes.kubeconfig`, else $KUBECONFIG or
  ~/.kube/config, placed at its `kubernetes` key) and a template's `kubernetes.manifests` files:
  whatever lets another user change or replace them (`untrusted`) is an error too, and refused at
  run time as OpenSSH refuses a ~/.ssh/config with bad owner or permissions: the kubeconfig decides
  which programs envdeck runs as you and which API server it trusts, a manifest what `env create`
  applies. So are the files the kubeconfig's context names (tui/core/kubeconfig_files.py): a client
  key or token file others can read (as a private key) or another user can change or replace, a
  certificate authority, client certificate or exec credential plugin another user can change or
  replace. Making an environment's backends
  raises the placed lines (`refuse_untrusted`), the kubernetes backend refuses to load such a
  kubeconfig (backends/kubernetes/connection.py: a template's environment too) and re-checks it
  before its exec plugin can run again, and `env plan/create` refuses such a template
  (`template_refusals`, tui/core/lifecycle/render.py);
- an `aws.identity_file` (the AWS shell's `ssh -i` key) is an edge `identity_file`'s peer: readable by
  others, refused (an error, and at run time); another user could change it, a warning.

The run-time answers follow the files (`refused_phrases`): a file fixed while envdeck runs counts
at once, and one made unsafe is refused at its next use.

Only the environments the user can see (`visible`, as every other part of `check`): a hidden
environment's files are neither named nor counted. The template pools (`edge_pools:`) are checked
like the templates are shown, for everyone. At run time the edge backend names a missing file in
the node's error (backends/edge/link.py, hostkeys.py).
"""

from __future__ import annotations

import glob
import os
import shlex
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.core.config_read import read_regular_file
from tui.core.config_yaml import compose_with_marks, locate
from tui.core.errors import ConfigError
from tui.core.kubeconfig_files import PROGRAM, SEARCHED, SECRET, TRUSTED, NamedFile, named_files
from tui.core.paths import writable_by_owner_alone
from tui.core.ssh_config_files import MAX_DEPTH, includes, matches, walked_directories

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
    context: str | None = None  # a kubeconfig: the context whose files count (None: its current one)
    paths: str = ""          # a kubeconfig: the os.pathsep-separated files, as $KUBECONFIG (else `path`)
    note: str = ""           # said after the kind: where the file comes from when the config does not name it


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


def default_kubeconfig() -> tuple[str, str]:
    """The kubeconfig file(s) used when the config names none, as kubectl and the loader find them
    (`$KUBECONFIG`, an os.pathsep-separated list, else ~/.kube/config) and how to say where from."""
    listed = os.environ.get("KUBECONFIG")
    return (listed, " ($KUBECONFIG)") if listed else ("~/.kube/config", " (~/.kube/config, the default)")


def kubeconfig_reference(loc: tuple[Any, ...], kubeconfig: str | None, context: str | None) -> FileReference:
    """The kubeconfig of a `kubernetes` section at `loc` (its `kubeconfig` key, else the default
    one, placed at the section) with the context whose files count."""
    context = context if context and "{" not in context else None
    if kubeconfig:
        return FileReference(loc + ("kubeconfig",), Path(kubeconfig).expanduser(), False, "", must_exist=False,
                             kind="kubeconfig", context=context)
    paths, note = default_kubeconfig()
    return FileReference(loc, Path(os.path.expanduser(paths.split(os.pathsep)[0] or ".")), False, "",
                         must_exist=False, kind="kubeconfig", context=context, paths=paths, note=note)


def _cluster_references(at: tuple[Any, ...], section: Any) -> Iterator[FileReference]:
    """An environment's or a template's `kubernetes.kubeconfig` (else the default one: $KUBECONFIG
    or ~/.kube/config) and `aws.identity_file` (a template's only when it names no placeholder: its
    file is known once rendered, and refused then)."""
    kubernetes, aws = getattr(section, "kubernetes", None), getattr(section, "aws", None)
    if kubernetes is not None and "{" not in (kubernetes.kubeconfig or ""):
        yield kubeconfig_reference(at + ("kubernetes",), kubernetes.kubeconfig, kubernetes.context)
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


def _group_writable(st: os.stat_result, place: Path | str) -> str:
    """How others can write `place`: "world-writable", "group-writable" (a group with members other
    than its owner: `writable_by_owner_alone`, the owner's private group, lets no one else in), or ""."""
    if st.st_mode & 0o002:
        return "world-writable"
    if st.st_mode & 0o020 and not writable_by_owner_alone(st, place):
        return "group-writable"
    return ""


def _trust_problems(st: os.stat_result, what: str, place: Path | str) -> list[str]:
    """What lets another user change or replace a file (`what` "file") or a directory on a file's
    path (`what` "directory": a sticky one lets only a file's owner rename or remove it): its owner
    (root aside) and its group/world write bits (a group with members besides the owner: its
    private group is the owner's alone, as Debian's OpenSSH StrictModes says), one phrase each with
    its fix (the caller names the path `place` first)."""
    directory = what == "directory"
    where, can = ("a directory on its path ", "replace the file") if directory else ("", "change it")
    found = []
    if _foreign(st.st_uid):
        fix = "keep the file in a directory of your own" if directory else "use a file of your own"
        found.append(f"{where}is owned by another user (uid {st.st_uid}), who can {can}: {fix}")
    if not (directory and st.st_mode & stat.S_ISVTX):
        writable = _group_writable(st, place)
        if writable:
            quoted = shlex.quote(str(place))
            fix = f"chmod go-w {quoted}" + (f" (or, for a shared directory, chmod +t {quoted})" if directory else "")
            found.append(f"{where}is {writable}{' without the sticky bit' if directory else ''}; others can {can}: "
                         f"{fix}")
    return found


def _unprotected_key(real: Path | str, st: os.stat_result, what: str = "a private key",
                     why: str = "ssh refuses such a key (UNPROTECTED PRIVATE KEY FILE)") -> str | None:
    """A key of yours others can read, as OpenSSH's sshkey_perm_ok refuses it: only a key the user
    running ssh owns must be private to it (a team's deploy key root:team 0640 in a root:team 2750
    directory is read by its members; whether another user could change it is `untrusted`'s)."""
    if st.st_uid == os.geteuid() and st.st_mode & 0o077:
        return (f"{real}: {what} readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"{why}: chmod 600 {shlex.quote(str(real))}")
    return None


# --- answers kept while the files they were read from stay as they were ---------------------------------

#: a stat's fields that can change the answer: who owns it, its mode, which file it is, and for a
#: regular file its contents (a directory's or a link's times change with every entry made in it)
def _signature(st: os.stat_result | None) -> tuple[int, ...] | None:
    if st is None:
        return None
    who = (st.st_dev, st.st_ino, st.st_mode, st.st_uid, st.st_gid)
    return who + (st.st_size, st.st_mtime_ns, st.st_ctime_ns) if stat.S_ISREG(st.st_mode) else who


def _stat(path: Path | str, follow: bool) -> os.stat_result | None:
    try:
        return os.stat(path, follow_symlinks=follow)
    except OSError:
        return None


class _Seen:
    """The stats (and resolved paths) an answer was made from, to tell later whether it still holds."""

    __slots__ = ("deps", "_known")

    def __init__(self) -> None:
        self.deps: list[tuple[str, str, object]] = []
        self._known: set[tuple[str, str]] = set()  # each (path, how) once: files share directories

    def _note(self, path: Path | str, how: str, value: object) -> None:
        if (str(path), how) not in self._known:
            self._known.add((str(path), how))
            self.deps.append((str(path), how, value))

    def stat(self, path: Path | str, *, follow: bool = True) -> os.stat_result | None:
        st = _stat(path, follow)
        self._note(path, "stat" if follow else "lstat", _signature(st))
        return st

    def realpath(self, path: Path | str) -> str:
        real = os.path.realpath(path)  # never raises, a symlink loop included
        self._note(path, "real", real)
        return real

    def glob(self, pattern: str) -> list[str]:
        """The paths `pattern` matches (a directory's stat does not change when a file is added)."""
        found = matches(pattern)
        self._note(pattern, "glob", tuple(found))
        return found


def _now(path: str, how: str) -> object:
    if how == "real":
        return os.path.realpath(path)
    if how == "glob":
        return tuple(matches(path))
    return _signature(_stat(path, how == "stat"))


def _unchanged(deps: list[tuple[str, str, object]]) -> bool:
    for path, how, was in deps:
        now = _now(path, how)
        if now != was:
            return False
    return True


def untrusted(path: Path, *, private: bool = False, secret: str = "a private key",
              seen: _Seen | None = None) -> list[str]:
    """What lets another user than the one running envdeck change or replace `path` (or read it,
    `private`: it is `secret`): one phrase per finding, each naming the file or directory. Empty
    when it is safe or does not exist (a missing file is reported apart). `seen` records what it
    looked at."""
    seen = seen if seen is not None else _Seen()
    path = Path(os.path.abspath(path))
    if seen.stat(path, follow=False) is None:
        return []
    found: list[str] = []
    checked: set[Path] = set()

    def directory(folder: Path) -> None:
        for d in [folder, *folder.parents]:
            if d in checked:
                return
            checked.add(d)
            st = seen.stat(d)
            if st is None:
                return
            found.extend(f"{d}: {problem}" for problem in _trust_problems(st, "directory", d))

    # symbolic links on the way (the file itself or a directory of its path)
    prefix = Path(path.anchor)
    linked = False
    for part in path.parts[1:]:
        prefix = prefix / part
        st = seen.stat(prefix, follow=False)
        if st is None:
            break
        if stat.S_ISLNK(st.st_mode):
            linked = True
            if _foreign(st.st_uid):
                found.append(f"{prefix}: a symlink on its path is owned by another user (uid {st.st_uid}), "
                             f"who can point it elsewhere (now {seen.realpath(prefix)}): name the target instead")
            directory(Path(seen.realpath(prefix.parent)))
    # no symlink on the way (each part's lstat, kept, says so): the path is its own real path
    real = Path(seen.realpath(path)) if linked else path
    st = seen.stat(real)
    if st is None:
        return found
    found.extend(f"{real}: {problem}" for problem in _trust_problems(st, "file", real))
    why = "refused as ssh refuses an UNPROTECTED PRIVATE KEY FILE" if secret != "a private key" else None
    key = (_unprotected_key(real, st, secret, why) if why else _unprotected_key(real, st)) if private else None
    if key:
        found.append(key)
    directory(real.parent)
    return found


def who_can_create(folder: Path, what: str, seen: _Seen | None = None) -> list[str]:
    """What lets another user create `what` (a file not there yet, or a glob's next match) in
    `folder` (its first existing ancestor when missing): owned by another user (root aside) or
    writable by group/others, the sticky bit notwithstanding (it guards only existing names: in
    /tmp anyone can make a new one), or a directory above it another user controls."""
    seen = seen if seen is not None else _Seen()
    existing = Path(os.path.abspath(folder))
    while (st := seen.stat(existing)) is None and existing != existing.parent:
        existing = existing.parent
    if st is None:
        return []
    found = []
    if _foreign(st.st_uid):
        found.append(f"{existing}: {what} would appear in a directory owned by another user (uid {st.st_uid}), "
                     f"who can create it there: keep it in a directory of your own")
    writable = _group_writable(st, existing)
    if writable:
        found.append(f"{existing}: {what} would appear in a {writable} directory, where another user can create "
                     f"it first: keep it in a directory of your own")
    for d in existing.parents:
        above = seen.stat(d)
        if above is None:
            break
        found.extend(f"{d}: {problem}" for problem in _trust_problems(above, "directory", d))
    return found


# --- what is refused at run time ------------------------------------------------------------------------

#: the files refused at run time (`run_time_refusal`), as OpenSSH refuses them
REFUSED_KINDS = ("identity_file", "known_hosts", "kubeconfig", "manifest", "aws_identity_file", "ssh_config")
#: refused when another user can change or replace them at all (`untrusted`: the file, a symlink or
#: a directory on its path): a kubeconfig decides which programs envdeck runs (exec credential
#: plugins) and which API server it trusts, a template's manifest what `env create` applies, an
#: ssh_config (and every file it Includes) which ProxyCommand, LocalCommand or KnownHostsCommand run
#: as you (OpenSSH refuses a ~/.ssh/config with "Bad owner or permissions")
_REFUSED_WHOLE = ("kubeconfig", "manifest", "ssh_config")
#: the private keys: refused when others can read them (ssh's UNPROTECTED PRIVATE KEY FILE)
_KEYS = ("identity_file", "aws_identity_file")


class _Reasoned(str):
    """A refusal phrase that says why itself (a file a kubeconfig names): no reason is added."""

    __slots__ = ()


_NAMED_WHY = {
    SECRET: "whoever can read it holds your credentials to the cluster; whoever can change it decides them",
    TRUSTED: "whoever can change it decides which API server envdeck trusts and how it shows itself "
             "(a certificate authority of theirs lets them stand in for the cluster)",
    PROGRAM: "whoever can change it runs programs as you",
    SEARCHED: "whoever can put a program of that name there runs programs as you",
}


def _named_phrases(named: NamedFile, seen: _Seen, found_at: Path | None = None) -> list[str]:
    """Why the file a kubeconfig names must not be used: a secret others can read (or change), a
    certificate or program others can change or replace, a $PATH directory searched before where
    the plugin is found (`found_at`; not found anywhere, the plugin simply fails: nothing said here)."""
    if named.role == SEARCHED:  # not there (yet): who could be the one to put it there
        seen.stat(named.path, follow=False)  # recorded: one appearing there is seen at the next use
        if found_at is None:
            return []
        name = named.path.name
        findings = who_can_create(named.path.parent, f"a program named {name}", seen)
        fix = (f"name the plugin by its path in the kubeconfig (command: {found_at}) or remove that "
               f"directory from $PATH or make it yours alone")
        return [_Reasoned(f"{named.kubeconfig}: {named.field} names the exec credential plugin {name}, which $PATH "
                          f"finds at {found_at}, but it searches {named.path.parent} first: "
                          f"{finding.removesuffix(': keep it in a directory of your own')}; "
                          f"{_NAMED_WHY[named.role]}: {fix}") for finding in findings]
    findings = untrusted(named.path, private=named.role == SECRET, secret=f"a {named.noun}", seen=seen)
    return [_Reasoned(f"{named.kubeconfig}: {named.field} names the {named.noun} {finding}; "
                      f"{_NAMED_WHY[named.role]}") for finding in findings]


def unreadable_kubeconfigs(paths: str) -> list[str]:
    """The kubeconfig files of `paths` that exist but that you cannot read (made by `sudo kind
    create cluster`, say): the client cannot use them; each with its fix."""
    found = []
    for path in paths.split(os.pathsep):
        full = os.path.expanduser(path) if path else ""
        if full and os.path.exists(full) and not os.access(full, os.R_OK, effective_ids=True):
            found.append(f"{full}: cannot be read (permission denied): sudo chown \"$USER\" {shlex.quote(full)}")
    return found


def missing_plugins(paths: str, context: str | None) -> list[str]:
    """The exec credential plugins named without a `/` that $PATH finds nowhere (the client then
    fails to get credentials), one phrase each."""
    named = named_files(paths, context)
    found = {(n.kubeconfig, n.field, n.path.name) for n in named if n.role == PROGRAM}
    missing = dict.fromkeys((n.kubeconfig, n.field, n.path.name) for n in named
                            if n.role == SEARCHED and (n.kubeconfig, n.field, n.path.name) not in found)
    return [f"{kubeconfig}: {field} names the exec credential plugin {name}: not found on $PATH; the client "
            f"cannot get credentials until it is installed" for kubeconfig, field, name in missing]


def _kubeconfig_phrases(paths: str, context: str | None, seen: _Seen) -> list[str]:
    """A kubeconfig (or the os.pathsep-separated list of them, as $KUBECONFIG) another user can
    change or replace, and the files its context names that others can read (secrets) or change."""
    found: list[str] = []
    for path in paths.split(os.pathsep):
        if path:
            found += untrusted(Path(os.path.expanduser(path)), seen=seen)  # records a missing one too
    if found:  # its own words are not to be believed: not read further
        return found
    named_list = named_files(paths, context)
    found_at = {(n.kubeconfig, n.field, n.path.name): n.path for n in named_list if n.role == PROGRAM}
    for named in named_list:
        found += _named_phrases(named, seen, found_at.get((named.kubeconfig, named.field, named.path.name)))
        if named.role in (PROGRAM, SEARCHED):
            _runs.add((paths, context))
    return list(dict.fromkeys(found))  # a file and a symlink on its way may share a finding


def _ssh_config_phrases(path: str, seen: _Seen) -> list[str]:
    """An ssh_config another user can change or replace, and every file it Includes (glob
    expanded, relative ones from ~/.ssh, nested up to ssh's depth): each such file, and each
    directory in which another user could add a file an Include would pick up. An included
    file's finding names the including file and line."""
    found: list[str] = []
    read: set[str] = set()

    def visit(file: str, via: str, depth: int) -> None:
        problems = untrusted(Path(file), seen=seen)
        found.extend(via + problem for problem in problems)
        real = seen.realpath(file)
        if problems or depth >= MAX_DEPTH or real in read or not os.path.isfile(real):
            return  # its own words are not to be believed, or already read
        read.add(real)
        try:
            text = read_regular_file(Path(real)).decode("utf-8", errors="replace")
        except (ConfigError, OSError):
            return
        for include in includes(text):
            where = f"{file}:{include.line}: Include {include.pattern}: "
            if glob.has_magic(include.target):
                for folder in walked_directories(include.target):  # a `**` walks every one below
                    found.extend(where + problem for problem in who_can_create(folder, "a file it matches", seen))
                for match in seen.glob(include.target):
                    visit(match, where, depth + 1)
            elif seen.stat(include.target, follow=False) is not None:
                visit(include.target, where, depth + 1)
            else:  # not there yet: whoever can create it decides what it says
                found.extend(where + problem for problem in
                             who_can_create(Path(include.target).parent, "the included file", seen))

    if seen.stat(path, follow=False) is not None:  # a missing one is recorded: checked when it appears
        visit(path, "", 0)
    return found


_kept: dict[tuple[str, str, str | None], tuple[list[tuple[str, str, object]], tuple[str, ...]]] = {}
_runs: set[tuple[str, str | None]] = set()  # the kubeconfigs (and contexts) whose user runs a program


def runs_programs(ref: FileReference) -> bool:
    """Whether the kubeconfig of `ref` (trusted: `refused_message` said nothing) makes the loader
    run a program (an exec credential plugin, a credential command) when its credentials refresh."""
    return (_paths(ref), ref.context) in _runs


def refused_phrases(path: str, kind: str, context: str | None = None) -> tuple[str, ...]:
    """Why `path` must not be used at all (empty: it may), as OpenSSH does at run time: an
    `identity_file` (an edge node's or the AWS shell's) readable by group or others ("UNPROTECTED
    PRIVATE KEY FILE", ssh ignores such a key), a `known_hosts` another user can write (owned by
    them, root aside, or group/world-writable: whoever can write it decides which host keys are
    trusted). A `kubeconfig` (one path, or an os.pathsep-separated list as $KUBECONFIG) or a
    template's `manifest` is refused for every finding of `untrusted`: its owner, its write bits, a
    symlink or a directory on its path another user controls; a kubeconfig also for the files its
    context (`context`, else its current one) names (tui/core/kubeconfig_files.py): a client key or
    token file others can read, a certificate authority, client certificate or exec credential
    plugin another user can change or replace. Asked again, the answer is made again whenever one
    of the files (or directories) it was read from changed (stat: inode, mode, owner, size, times):
    a file fixed while envdeck runs counts at once, one made unsafe is refused at its next use.
    A missing file is not refused here (reported apart)."""
    if kind in _REFUSED_WHOLE:
        # keyed by the files as named now: "~" and relative names follow $HOME and the directory
        key = (os.pathsep.join(os.path.abspath(os.path.expanduser(p)) if p else p for p in path.split(os.pathsep)),
               kind, context)
        kept = _kept.get(key)
        if kept is not None and _unchanged(kept[0]):
            return kept[1]
        seen = _Seen()
        _runs.discard((path, context))
        if kind == "kubeconfig":
            found = _kubeconfig_phrases(path, context, seen)
        elif kind == "ssh_config":
            found = _ssh_config_phrases(os.path.abspath(os.path.expanduser(path)), seen)
        else:
            found = untrusted(Path(path), seen=seen)
        _kept[key] = (seen.deps, tuple(found))
        return tuple(found)
    st = _stat(path, True)  # one stat: these are asked at every connect of every node
    if st is None:
        return ()
    if kind in _KEYS:
        if not st.st_mode & 0o077:
            return ()
        key_phrase = _unprotected_key(os.path.realpath(path), st)
        if key_phrase:
            return (key_phrase,)
        # another user's key others may read (a team's deploy key, as ssh accepts it): used only
        # while no other user can change or replace it
        return tuple(untrusted(Path(path)))
    if kind == "known_hosts":
        real = os.path.realpath(path)
        return tuple(f"{real}: {problem}" for problem in _trust_problems(st, "file", real))
    return ()


def run_time_refusal(path: str | Path, kind: str) -> str | None:
    """`refused_phrases` as one text, or None when the file may be used."""
    phrases = refused_phrases(str(path), kind)
    return "; ".join(phrases) if phrases else None


_WHY_TRUSTED = {"known_hosts": "whoever can change it decides which host keys envdeck trusts",
                "identity_file": "whoever can change it decides which key envdeck logs in with",
                "ssh_config": "whoever can change it decides how envdeck connects and which commands it runs "
                              "as you (ProxyCommand, LocalCommand, KnownHostsCommand)",
                "kubeconfig": "whoever can change it decides which cluster and credentials envdeck uses and "
                              "which programs it runs as you (exec credential plugins)",
                "manifest": "whoever can change it decides what envdeck env create applies to the cluster",
                "aws_identity_file": "whoever can change it decides which key the AWS shell logs in with"}
_LABEL = {"aws_identity_file": "identity_file"}


def _kind(ref: FileReference) -> str:
    return ref.kind or str(ref.loc[-1])


def _label(kind: str) -> str:
    return _LABEL.get(kind, kind)


def _paths(ref: FileReference) -> str:
    return ref.paths or str(ref.path)


def _phrases(ref: FileReference) -> tuple[str, ...]:
    return refused_phrases(_paths(ref), _kind(ref), ref.context)


def refused_message(ref: FileReference, where: str) -> str | None:
    """The run-time refusal of a `kubeconfig` or a template's `manifest` (`refused_phrases`) as one
    line naming the file and `where` the config names it; None when it may be used."""
    phrases = _phrases(ref)
    return f"{where}: " + "; ".join(_refused_text(ref, phrase) for phrase in phrases) if phrases else None


def check_files(cfg: EnvdeckConfig, visible: Iterable[str] | None = None) -> FileProblems:
    """The config's files (of the environments in `visible` and the template pools) that do not
    exist or that others could change, placed in the config file `cfg.source`. What the edge
    backend refuses at run time (`refused_phrases`) is an error, the rest a warning."""
    found: list[tuple[FileReference, str, bool]] = []  # (reference, text, an error)
    for ref in references(cfg, visible):
        if _kind(ref) in _NOT_YET and not ref.paths and not os.path.lexists(ref.path):
            found += _not_there_yet(ref)
            continue
        if _kind(ref) in _REFUSED_WHOLE:  # every finding refused (a kubeconfig: a list of files, as $KUBECONFIG)
            phrases = _phrases(ref)
            found += [(ref, _refused_text(ref, phrase), True) for phrase in phrases]
            if ref.paths:  # $KUBECONFIG's (or the default's) missing entries: whoever creates one decides
                found += [(ref, _refused_text(ref, phrase), True) for phrase in _missing_entries(ref.paths)]
            if _kind(ref) == "kubeconfig" and not phrases:
                found += [(ref, f"kubeconfig{ref.note} {phrase}", False)
                          for phrase in unreadable_kubeconfigs(_paths(ref)) + missing_plugins(_paths(ref), ref.context)]
            continue
        if not os.path.lexists(ref.path) or (ref.must_exist and not ref.path.exists()):
            if ref.must_exist:
                found.append((ref, f"no such file {str(ref.path)!r}: {ref.why}", ref.required))
            if _kind(ref) == "known_hosts" and not os.path.lexists(ref.path):  # whoever makes it decides trust
                found += [(ref, f"known_hosts {phrase}; refused: whoever can create it decides which host keys "
                                f"are trusted", True) for phrase in who_can_create(ref.path.parent, "it")]
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


#: named files that may appear while envdeck runs (a kind cluster writes its kubeconfig): a missing
#: one is said, and the directory it would appear in checked
_NOT_YET = ("kubeconfig", "ssh_config")


def _missing_entries(paths: str) -> list[str]:
    """For each file of `paths` (os.pathsep-separated, as $KUBECONFIG) that does not exist, each way
    another user could be the one to create it (`who_can_create`: /tmp, a directory of theirs): the
    client reads it once it appears."""
    found: list[str] = []
    for path in dict.fromkeys(paths.split(os.pathsep)):
        full = Path(os.path.abspath(os.path.expanduser(path))) if path else None
        if full is not None and not os.path.lexists(full):
            found += [f"{full} does not exist yet: {phrase}" for phrase in who_can_create(full.parent, "it")]
    return found


def _not_there_yet(ref: FileReference) -> list[tuple[FileReference, str, bool]]:
    """A named kubeconfig or ssh_config that does not exist: a warning (it is checked when it
    appears, and refused then if another user controls it), and an error for each way another
    user could be the one to create it (`who_can_create`: /tmp, a directory of theirs)."""
    label = _label(_kind(ref))
    said = [(ref, f"{label} {ref.path} does not exist yet; it will be checked when it appears", False)]
    return said + [(ref, _refused_text(ref, phrase), True) for phrase in who_can_create(ref.path.parent, "it")]


def _refused_text(ref: FileReference, phrase: str) -> str:
    kind = _kind(ref)
    if kind == "identity_file":
        return f"identity_file {phrase}; refused: envdeck does not log in with it"
    if kind == "aws_identity_file":
        return f"identity_file {phrase}; refused: envdeck does not open the AWS shell with it"
    why = "" if isinstance(phrase, _Reasoned) else f"; {_WHY_TRUSTED[kind]}"
    return f"{_label(kind)}{ref.note} {phrase}{why}: refused, envdeck does not use it"


def refuse_untrusted(cfg: EnvdeckConfig, env: str, edge: EdgeConfig | None) -> None:
    """Raise ConfigError (`PATH:LINE:COL: where: message` lines, as any config error) when the
    environment's edge section names an `identity_file` or `known_hosts` the edge backend refuses
    (`refused_phrases`); called when the environment's backends are made, before any connect.
    Costs a few stats per file; the config file is read again only to place a refusal.
    An environment created from a template (not in the config file: nothing to place, and a running
    lifecycle must not fail on it) is left to its links, which refuse each node with the file named,
    and to the kubernetes backend, which refuses its kubeconfig when it loads it. The environment's
    kubeconfig (its `kubernetes.kubeconfig`, else $KUBECONFIG or ~/.kube/config, placed at its
    `kubernetes` section) and the files it names, and its `aws.identity_file`, are refused here too."""
    refs = list(_edge_references(("environments", env, "edge"), edge)) if edge is not None else []
    declared = cfg.environments.get(env)
    if declared is not None:  # its kubeconfig (which programs run as you), else refused when loaded
        refs += [ref for ref in _cluster_references(("environments", env), declared) if _kind(ref) in REFUSED_KINDS]
    found = [(ref, _refused_text(ref, phrase), True) for ref in refs for phrase in _phrases(ref)]
    if not found:
        return
    data, marks = _source(cfg)
    if isinstance(data, dict) and env not in (data.get("environments") or {}):
        return
    raise ConfigError([line for line, _ in _placed(cfg, found, (data, marks))])


def template_refusals(cfg: EnvdeckConfig, template: str, kubeconfig: str | None, *,
                      manifests: bool = True, context: str | None = None) -> list[str]:
    """Why `env create` must not use template `template`'s files (`PATH:LINE:COL: where: message`
    each, empty: it may): its `manifests` (when `manifests`; a clone makes its own), the
    `kubeconfig` it renders to (else the default one) and the files it names for `context`, and
    its `aws.identity_file`, as `refused_phrases` says."""
    tpl = cfg.templates.get(template)
    refs: list[FileReference] = []
    if tpl is not None:
        refs += [ref for ref in _template_references(template, tpl, cfg.source)
                 if (_kind(ref) == "manifest" and manifests) or _kind(ref) == "aws_identity_file"]
    refs.append(kubeconfig_reference(("templates", template, "kubernetes"), kubeconfig, context))
    found = [(ref, _refused_text(ref, phrase), True) for ref in refs for phrase in _phrases(ref)]
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
