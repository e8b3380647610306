"""`envdeck doctor`: is everything envdeck needs in place? One line per check.

With a config, each environment's backends are checked. Without one, doctor still
checks what it can without it (AWS credentials, kubeconfig contexts, the SSH agent,
known_hosts, the state directory), shows where a config is looked for and points
at `envdeck demo`. Every line goes through the sanitiser (`report_line`): paths,
context names and server messages are outside text. Secrets are never printed:
credentials are reported by where they come from, never by value.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import stat
import struct
from pathlib import Path

from tui.cli.output import report_folded, report_line
from tui.core.config import file_warnings, read_regular_file
from tui.core.errors import ConfigError, EnvdeckError, StateError
from tui.core.identity import current_user
from tui.core.paths import config_home, config_path, state_dir

EXIT_USAGE = 2


def _line(status: str, text: str) -> None:
    report_folded(f"{status:<5} {text}", indent="      ")


async def run_doctor(args: argparse.Namespace, load) -> int:
    path = config_path(args.config)
    if not os.path.lexists(path):
        return await _without_config(args, path)
    problems = 0
    cfg = load(args)
    if args.env:  # before anything is printed: a hidden environment shows nothing
        await _refuse_unseen_env(args, cfg)
    from tui.core.policy import Policy

    visible = Policy(cfg, current_user()).visible_environments()  # the ones the user can see only
    _line("ok", f"config {path}: {len(visible)} environment(s)")
    for warning in file_warnings(path):
        problems += 1
        _line("WARN", warning)
    problems += await _state(state_dir(args.state_dir), cfg)
    problems += await _environments(args, cfg)
    return 1 if problems else 0


async def _refuse_unseen_env(args: argparse.Namespace, cfg) -> None:
    """`--env NAME` where NAME does not exist or the user has no role: refused like every
    other verb (exit 3, the same words for both, the attempt audited)."""
    from tui.core.model import Origin
    from tui.core.policy import Policy
    from tui.core.session import refuse_unseen_environment
    from tui.core.store import open_store

    policy = Policy(cfg, current_user(), read_only=args.read_only)
    if args.env in policy.visible_environments():
        return
    store = await open_store(cfg, state_dir(args.state_dir))
    try:
        await refuse_unseen_environment(store, policy, args.env, Origin.CLI)
    finally:
        await store.close()


def _saved_logs_dir(sdir: Path) -> int:
    """The Logs view saves into `logs/` of the state directory: when it exists, it must be the
    user's own real directory (tui/core/own_dir.py), else a FAIL line (1)."""
    from tui.core.own_dir import own_dir_problem

    problem = own_dir_problem(Path(sdir).expanduser() / "logs")
    if problem:
        _line("FAIL", f"state: saved logs: {problem}")
        return 1
    return 0


async def _state(sdir: Path, cfg=None) -> int:
    """The store in the state directory: opened (created if new), integrity and journal mode.
    A state directory envdeck refuses (another user's, writable by others, a symlinked
    envdeck.log) or a corrupt store is a FAIL line saying why and what to do. A PostgreSQL
    store (`state.url`, $ENVDECK_STATE_URL): its URL (never a password), server and schema."""
    from tui.core.store import corrupt_message, open_store, shown_url, state_url

    try:
        url = state_url(cfg)
        store = await open_store(cfg, sdir, recover=False)
    except StateError as exc:
        _line("FAIL", f"state: {exc}")
        return 1
    try:
        check = await store.integrity_check()
        mode = await store.journal_mode()
        version = await store.schema_version()
    except StateError as exc:
        _line("FAIL", f"state: {exc}")
        return 1
    finally:
        await store.close()
    if _saved_logs_dir(sdir):
        return 1
    if url is not None:
        _line("ok", f"state {shown_url(url)}: {mode}, schema {version}")
        return 0
    if check != "ok":
        _line("FAIL", f"state: {corrupt_message(store.path, 'integrity check: ' + check)}")
        return 1
    from tui.core.paths import describe_state_dir

    _line("ok", f"state {sdir}: {describe_state_dir(store.path.parent)}; integrity ok, journal {mode}")
    return 0


async def _environments(args: argparse.Namespace, cfg) -> int:
    from backends.registry import create_backends
    from tui.core.config_files import untrusted
    from tui.core.policy import Policy

    problems = 0
    policy = Policy(cfg, current_user(), read_only=args.read_only)
    names = [args.env] if args.env else policy.visible_environments()
    for name in names:
        env_cfg = cfg.environments.get(name)
        if env_cfg is None:
            _line("FAIL", f"{name}: no such environment")
            problems += 1
            continue
        role = policy.role(name)
        _line("ok", f"{name}: you are {current_user()} ({role.label if role else 'no role'})")
        if env_cfg.aws is not None and env_cfg.aws.identity_file:  # the AWS shell's key
            for finding in untrusted(Path(os.path.expanduser(env_cfg.aws.identity_file)), private=True):
                problems += 1
                _line("WARN", f"{name}/aws: identity_file {finding}")
        if env_cfg.edge:
            problems += _untrusted_edge_files(name, env_cfg.edge)
            problems += _known_hosts(name, env_cfg.edge)
        try:
            backends = create_backends(name, env_cfg, cfg)
        except ConfigError as exc:  # a file refused at run time: edge keys, a kubeconfig (tui/core/config_files.py)
            for problem in exc.problems:
                problems += 1
                part = next((p for p in ("edge", "aws") if f": environments.{name}.{p}." in problem), "kubernetes")
                _line("FAIL", f"{name}/{part}: {problem}")
            continue
        for bname, backend in backends.items():
            try:
                await backend.start()
                summary = await asyncio.wait_for(backend.check(), timeout=max(15.0, cfg.defaults.timeout * 2))
                _line("ok", f"{name}/{bname}: {summary}")
                for note in getattr(backend, "doctor_notes", list)():
                    _line("info", f"{name}/{note}")
            except (EnvdeckError, TimeoutError, OSError) as exc:
                problems += 1
                _line("FAIL", f"{name}/{bname}: {exc or type(exc).__name__}")
            finally:
                await backend.close()
    return problems


def _untrusted_edge_files(env: str, edge) -> int:
    """The known_hosts (the default one too), the identity files and a configured ssh_config that
    another user could change or replace (a private key: read too): a WARN line each, counted."""
    from tui.core.config_files import untrusted

    files = [("known_hosts", edge.known_hosts or "~/.ssh/known_hosts", False)]
    files += [("ssh_config", edge.ssh_config, False)] if edge.ssh_config else []
    files += [(f"node {node.name} identity_file", node.identity_file, True)
              for node in edge.nodes if node.identity_file]
    problems = 0
    for what, name, private in files:
        for finding in untrusted(Path(os.path.expanduser(name)), private=private):
            problems += 1
            _line("WARN", f"{env}/edge: {what} {finding}")
    return problems


def _known_hosts(env: str, edge) -> int:
    path = Path(os.path.expanduser(edge.known_hosts or "~/.ssh/known_hosts"))
    try:
        text = path.read_text(errors="replace")
    except OSError:
        _line("FAIL", f"{env}/edge: known_hosts {path} cannot be read; host keys cannot be verified")
        return 1
    missing = []
    for node in edge.nodes:
        names = {node.host, f"[{node.host}]:{node.port}" if node.port and node.port != 22 else node.host}
        if not any(n in text for n in names) and "|1|" not in text:
            missing.append(node.name)
    if missing:
        _line("WARN", f"{env}/edge: no known_hosts entry for {', '.join(missing)} ({path})")
        return 1
    _line("ok", f"{env}/edge: known_hosts {path} covers {len(edge.nodes)} node(s)")
    return 0


# --- without a config ----------------------------------------------------------------

async def _without_config(args: argparse.Namespace, path: Path) -> int:
    """No config file: check what does not need one, then say where a config is looked for."""
    _line("FAIL", f"config {path}: no such file")
    given = f"--config {args.config}" if args.config else "--config PATH (not given)"
    env_value = os.environ.get("ENVDECK_CONFIG")
    report_line(f"      envdeck looks for its config at: {given}, else $ENVDECK_CONFIG "
                f"({env_value if env_value else 'not set'}), else {config_home() / 'envdeck.yaml'}")
    _aws_credentials()
    _kubeconfig()
    _ssh_agent()
    _known_hosts_file()
    _state_dir_without_config(state_dir(args.state_dir))
    report_line("      to see envdeck work without any account: envdeck demo "
                "(it prints a config you can copy as a starting point)")
    return EXIT_USAGE


def _aws_credentials() -> None:
    try:
        import boto3
        from botocore.exceptions import BotoCoreError

        session = boto3.Session()
        creds = session.get_credentials()
    except ImportError:
        _line("info", "aws: boto3 is not installed")
        return
    except (BotoCoreError, ValueError, OSError) as exc:  # e.g. a profile that does not exist
        _line("WARN", f"aws: credentials cannot be resolved: {exc}")
        return
    if creds is None:
        _line("info", "aws: no credentials found (environment, ~/.aws/credentials, ~/.aws/config, SSO, "
                      "instance role)")
        return
    profile = session.profile_name or "default"
    region = session.region_name or "no default region"
    # where they come from, never what they are
    _line("ok", f"aws: credentials found ({creds.method}; profile {profile}; {region})")


def _kubeconfig() -> None:
    import yaml

    raw = os.environ.get("KUBECONFIG")
    files = [Path(p).expanduser() for p in raw.split(os.pathsep) if p] if raw else [Path("~/.kube/config").expanduser()]
    for kfile in files:
        try:
            present = kfile.exists()
        except PermissionError:  # in a directory this user may not enter
            _line("WARN", f"kubernetes: cannot read kubeconfig {kfile}: permission denied")
            continue
        if not present:
            _line("info", f"kubernetes: no kubeconfig at {kfile}")
            continue
        try:
            data = yaml.safe_load(read_regular_file(kfile).decode("utf-8", errors="replace"))
        except ConfigError as exc:
            _line("WARN", f"kubernetes: kubeconfig {exc.problems[0]}")
            continue
        except yaml.YAMLError:
            _line("WARN", f"kubernetes: kubeconfig {kfile}: not valid YAML")
            continue
        data = data if isinstance(data, dict) else {}
        contexts = [c.get("name") for c in data.get("contexts") or [] if isinstance(c, dict) and c.get("name")]
        current = data.get("current-context") or "none"
        if contexts:
            _line("ok", f"kubernetes: kubeconfig {kfile}: {len(contexts)} context(s): "
                        f"{', '.join(str(c) for c in contexts)}; current {current}")
        else:
            _line("WARN", f"kubernetes: kubeconfig {kfile}: no contexts")


def _ssh_agent() -> None:
    sock_path = os.environ.get("SSH_AUTH_SOCK")
    if not sock_path:
        _line("info", "ssh: no agent (SSH_AUTH_SOCK is not set); keys are read from identity files")
        return
    try:
        count = _agent_key_count(sock_path)
    except (OSError, ValueError) as exc:
        _line("WARN", f"ssh: agent at {sock_path} does not answer: {getattr(exc, 'strerror', None) or exc}")
        return
    _line("ok" if count else "WARN", f"ssh: agent at {sock_path} holds {count} key(s)")


def _agent_key_count(sock_path: str) -> int:
    """Ask the agent for its identities (SSH_AGENTC_REQUEST_IDENTITIES) and count them."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3.0)
        sock.connect(sock_path)
        sock.sendall(struct.pack(">IB", 1, 11))
        header = _recv_exact(sock, 4)
        (length,) = struct.unpack(">I", header)
        if not 5 <= length <= 256 * 1024:
            raise ValueError("unexpected answer")
        body = _recv_exact(sock, length)
    if body[0] != 12:  # SSH_AGENT_IDENTITIES_ANSWER
        raise ValueError("the agent refused to list its keys")
    return struct.unpack(">I", body[1:5])[0]


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ValueError("the agent closed the connection")
        data += chunk
    return data


def _known_hosts_file() -> None:
    path = Path("~/.ssh/known_hosts").expanduser()
    try:
        text = read_regular_file(path).decode("utf-8", errors="replace")
    except ConfigError:
        _line("info", f"ssh: no readable known_hosts at {path}; edge nodes' host keys cannot be verified yet")
        return
    entries = sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    _line("ok", f"ssh: known_hosts {path}: {entries} entr{'y' if entries == 1 else 'ies'}")


def _state_dir_without_config(sdir: Path) -> None:
    try:
        info = sdir.stat()
    except FileNotFoundError:
        from tui.core.paths import check_state_path

        try:  # the way to it must be safe before the first run creates it
            check_state_path(sdir)
        except StateError as exc:
            _line("FAIL", f"state: {exc}")
            return
        _line("info", f"state {sdir}: does not exist yet (created on the first run)")
        return
    except OSError as exc:
        _line("WARN", f"state {sdir}: {exc.strerror or exc}")
        return
    if not stat.S_ISDIR(info.st_mode):
        _line("FAIL", f"state {sdir}: is not a directory")
    elif not os.access(sdir, os.W_OK | os.X_OK):
        _line("FAIL", f"state {sdir}: is not writable")
    else:
        from tui.core.paths import check_state_dir, describe_state_dir

        try:  # another user's, writable by others, a planted symlink: said, nothing created
            check_state_dir(sdir)
        except StateError as exc:
            _line("FAIL", f"state: {exc}")
            return
        _line("ok", f"state {sdir}: exists and is writable; {describe_state_dir(sdir)}")
