"""The scripting subcommands: check, status, reconcile, act, audit, logs, doctor."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

from tui.cli import desired
from tui.cli.opening import load, open_session
from tui.cli.output import ask, mark_pending, print_json, report_folded, status_table, write_line
from tui.core.env_state import RepairPerformed, TimelineAdded
from tui.core.errors import InvalidRequest, PolicyDenied
from tui.core.heap import settle_heap
from tui.core.model import AuditResult, iso, now_utc
from tui.core.sanitize import clean
from tui.core.session import Session
from tui.core.shown_value import shown_value

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DENIED = 0, 1, 2, 3


def cmd_check(args: argparse.Namespace) -> int:
    from tui.core.identity import current_user
    from tui.core.lifecycle.template_check import template_summary
    from tui.core.policy import Policy

    cfg = load(args)
    from tui.cli.output import warn
    from tui.core.config_files import check_files
    from tui.core.errors import ConfigError

    # only the environments the user can see, as every other verb (names cannot be probed)
    visible = Policy(cfg, current_user()).visible_environments()
    # their edge files: an identity_file missing (error), a known_hosts missing, or any of them
    # that another user could change (warnings); a hidden environment's are neither named nor counted
    files = check_files(cfg, visible)
    for text in files.warnings:
        warn(text)
    if files.errors:
        raise ConfigError(files.errors)
    if not cfg.environments and not cfg.templates:
        write_line(f"{cfg.source}: valid, but no environments are defined")
    for name, env in cfg.environments.items():
        if name not in visible:
            continue
        parts = []
        if env.aws:
            parts.append(f"aws {env.aws.region} tags {','.join(f'{k}={v}' for k, v in env.aws.tags.items())}"
                         f" ({len(env.aws.desired)} desired)")
        if env.kubernetes:
            parts.append(f"kubernetes ns {env.kubernetes.namespace}"
                         f"{' ctx ' + env.kubernetes.context if env.kubernetes.context else ''}"
                         f" ({len(env.kubernetes.desired)} desired)")
        if env.edge:
            services = sum(len(n.services) for n in env.edge.nodes)
            parts.append(f"edge {len(env.edge.nodes)} nodes, {services} services")
        report_folded(f"{name}: repair={env.repair}; " + ("; ".join(parts) if parts else "no backends"))
    hidden = len(cfg.environments) - len(visible)
    if hidden:
        write_line(f"{hidden} more environment(s) defined where you have no role")
    for name, template in cfg.templates.items():
        report_folded(template_summary(name, template))
    return EXIT_OK


def _refused_apart(refused: list[str]) -> Any:
    """The production backends, but an environment whose files are refused (a kubeconfig or key
    another user controls: `refuse_untrusted`) gets backends that refuse at use (their error is the
    refusal, as in the TUI) and its placed lines are kept in `refused`: the others are shown."""
    from backends.registry import create_backends
    from tui.core.errors import ConfigError

    def factory(env: str, env_cfg: Any, config: Any) -> Any:
        try:
            return create_backends(env, env_cfg, config)
        except ConfigError as exc:
            refused.extend(exc.problems)
            return create_backends(env, env_cfg, config, refuse=False)
    return factory


async def cmd_status(args: argparse.Namespace) -> int:
    cfg = load(args)
    refused: list[str] = []  # said after the other environments are shown, then exit 2
    session = await open_session(args, cfg, args.env, backends_factory=_refused_apart(refused))
    try:
        await session.observe()  # observes only: repairs belong to `reconcile`
        # a leader (another live process) still on its first pass of a backend: wait for it, bounded
        pending = await session.await_leaders_first_pass(cfg.defaults.timeout)
        envs = [session.state(name).to_json() for name in session.environments()]
    finally:
        await session.close()
    mark_pending(envs, pending)  # never shown as unreachable: pending, and exit 1 (not all observed)
    if args.json:
        print_json({"generated_at": iso(now_utc()), "environments": envs})
    elif args.summary:
        from tui.cli.status_summary import status_summary

        status_summary(envs)
    else:
        from tui.cli.table_fit import terminal_width

        status_table(envs, terminal_width())  # piped: None, every column whole as before
    for line in dict.fromkeys(refused):
        print(clean(line), file=sys.stderr)
    if refused:
        return EXIT_USAGE
    unreachable = any(not b["reachable"] for e in envs for b in e["backends"].values())
    return EXIT_FAILED if unreachable else EXIT_OK


async def cmd_reconcile(args: argparse.Namespace) -> int:
    cfg = load(args)
    session = await open_session(args, cfg, args.env)
    try:
        if args.once:
            return await _reconcile_once(args, session)
        return await _reconcile_forever(args, session)
    finally:
        await session.close()


async def _reconcile_once(args: argparse.Namespace, session: Session) -> int:
    for name in session.environments():
        if args.repair and session.state(name).repair == "observe":
            print(f"envdeck: {name} is in 'observe' mode: drifts are reported, not repaired", file=sys.stderr)
    for promotion in await session.promotions().resume_unfinished():  # issue 18: left by a killed envdeck
        print(clean(f"envdeck: {promotion.summary()}"), file=sys.stderr)
    records = await session.reconcile_once(repair=args.repair)
    for name in session.environments():
        held = session.repairs_held(name) if session.state(name).all_drifts() else None
        if held is not None:
            print(f"envdeck: not repaired: {held}", file=sys.stderr)
        led = session.state(name).lease_note  # another live process leads it (issue 16)
        if led and session.state(name).all_drifts() and session.state(name).repair != "observe":
            print(f"envdeck: not repaired: {led}", file=sys.stderr)
    out = []
    failed = denied = False
    for name in session.environments():
        state = session.state(name)
        reps = records.get(name, [])
        failed |= any(r.result == AuditResult.FAILED for r in reps)
        denied |= any(r.result == AuditResult.DENIED for r in reps)
        failed |= any(b.reachable is False for b in state.backends.values())
        out.append({"name": name, "health": str(state.health()), "repair": state.repair,
                    "backends": {b: s.to_json() for b, s in state.backends.items()},
                    "drifts": [d.to_json() for d in state.all_drifts()],
                    "repairs": [r.to_json() for r in reps],
                    **{k: v for k, v in state.to_json(include_resources=False).items()
                       if k in ("desired_overlays", "repair_holds", "leader", "epoch", "lease_age_s",
                                "lease_note")}})
    if args.json:
        print_json({"environments": out})
    else:
        for env in out:
            write_line(f"{env['name']}: {len(env['drifts'])} drift(s), {len(env['repairs'])} repair(s)")
            for d in env["drifts"]:
                report_folded(f"  drift  {d['resource']} {d['field']}: desired {shown_value(d['desired'])}, "
                              f"actual {shown_value(d['actual'])}")
            for r in env["repairs"]:
                report_folded(f"  repair {r['resource']} {r['field']}: {r['action']} {r['result']} {r['message']}")
            for o in env["desired_overlays"]:
                report_folded(f"  overlay {o['resource']} {o['field']} = {shown_value(o['value'])} (by {o['user']}; "
                              "`envdeck desired` to list or drop)")
            for h in env["repair_holds"]:
                report_folded(f"  held   {h['resource']}: automatic repair held until {h['until']}")
    if failed:
        return EXIT_FAILED
    return EXIT_DENIED if denied else EXIT_OK


async def _reconcile_forever(args: argparse.Namespace, session: Session) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    def on_change(change: Any) -> None:
        if isinstance(change, TimelineAdded):
            for e in change.entries:
                line = {"env": change.env, **e} if args.json else (
                    f"{e['at']} {change.env} {e['kind']:<7} {e['resource']} {e['reason']}: {e['message']}")
                write_line(json.dumps(line, default=str) if args.json else line)
        elif isinstance(change, RepairPerformed) and not args.json:
            pass  # already in the timeline entries

    session.subscribe(on_change)
    heap = settle_heap()  # a long-running process with a big inventory: no long full-GC pauses
    try:
        await session.start_reconciling()
        write_line(f"envdeck reconciling {', '.join(session.environments())} (ctrl+c to stop)") if not args.json else None
        await stop.wait()
    finally:
        heap.unsettle()
    return EXIT_OK


def _parse_params(items: list[str]) -> dict[str, str]:
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidRequest(f"--param {item!r}: expected KEY=VALUE")
        params[key] = value
    return params


async def cmd_act(args: argparse.Namespace) -> int:
    cfg = load(args)
    params = _parse_params(args.param)
    session = await open_session(args, cfg, args.env)
    try:
        # role, --read-only, membership, the action and its parameters are checked (and a
        # denial audited) before anything is asked or done
        resource, spec = await session.prepare_action(args.env, args.resource, args.action, params)
        args.resource = resource.id  # a Name given in place of the id: the id from here on
        # against the desired state of an `auto` environment: asked (or flagged) before anything
        try:
            override = desired.choose(args, session, resource, params)
        except desired.Refused as refused:
            return refused.code
        if spec.mutating and not args.yes:
            if not sys.stdin.isatty():
                print(f"envdeck: {args.action} on {args.resource} changes things: pass --yes "
                      "(stdin is not a terminal, so envdeck cannot ask)", file=sys.stderr)
                return EXIT_USAGE
            expected = resource.name if spec.destructive else "yes"
            prompt = (f"{spec.title} {clean(args.resource)} in {args.env}? "
                      f"Type {'the resource name' if spec.destructive else 'yes'} to confirm: ")
            if ask(prompt).strip() != expected:
                print("envdeck: not confirmed; nothing was done", file=sys.stderr)
                return EXIT_FAILED
        why = " ".join([args.action, *args.param])
        if override is not None:
            await desired.apply(session, args.env, override, why)
        try:
            result = await session.act(args.env, args.resource, args.action, params)
        except BaseException:
            await desired.after(session, args.env, override, False, why)
            raise
        note = await desired.after(session, args.env, override, result.ok, why)
    finally:
        await session.close()
    if args.json:
        print_json({"env": args.env, "resource": args.resource, "action": args.action, "ok": result.ok,
                    "message": result.message, "data": result.data,
                    "desired": None if override is None else override.choice})
    else:
        write_line(f"{args.action} {args.resource}: {'ok' if result.ok else 'failed'}"
                   f"{' — ' + result.message if result.message else ''}{note}")
    return EXIT_OK if result.ok else EXIT_FAILED


async def cmd_audit(args: argparse.Namespace) -> int:
    cfg = load(args)
    # nothing observed (envs=[]): the session decides which rows the user may read, the
    # destroyed environments they had a role in included
    session = await open_session(args, cfg, envs=[])
    from tui.cli.audit_lines import MESSAGE_SHOWN, audit_lines
    from tui.core.audit_filter import AuditFilter

    args.where = AuditFilter(user=getattr(args, "user", None), action=getattr(args, "action", None),
                             target=getattr(args, "target", None), since=getattr(args, "since", None))
    from tui.cli.output import say, warn
    from tui.core.audit_rows import PARAMS_SUMMARY, unreadable_note

    if args.json:  # read and printed in batches: memory stays that of a batch whatever --limit is
        try:
            entries = await _print_audit_json(session, args)
        finally:
            await session.close()
        note = unreadable_note(entries)
        if note:
            warn(note)
        return EXIT_OK
    try:  # the text shows MESSAGE_SHOWN characters of a message (params only unreadable): no more is read
        entries = await session.audit_entries(args.env, limit=args.limit, message_max=MESSAGE_SHOWN,
                                              params_max=PARAMS_SUMMARY, where=args.where)
    finally:
        await session.close()
    note = unreadable_note(entries)  # rows a member wrote by hand: shown, with one line saying so
    if note:
        warn(note)
    if not entries and args.where:  # said on stderr: an empty listing is not mistaken for an empty trail
        say(f"envdeck: no audit row matches {args.where.described()}" + (f" in {args.env}" if args.env else ""))
    from tui.cli.table_fit import terminal_width

    # the newest N rows, oldest first: the newest at the bottom, where a terminal's reader
    # looks (as journalctl); --reverse: newest first (as git log). --json keeps newest first.
    # On a terminal: a header and columns sized to it; piped: a line per row as before.
    rows = entries if args.reverse else list(reversed(entries))
    for line in audit_lines(rows, now_utc(), terminal_width()):
        write_line(line)
    return EXIT_OK


AUDIT_JSON_BATCH = 200


async def _print_audit_json(session: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """`audit --json` written row by row as read, AUDIT_JSON_BATCH rows at a time (the same text
    as print_json of the whole list); returns the rows with unreadable params (for the note)."""
    from tui.cli.output import json_text

    bad: list[dict[str, Any]] = []
    left, before, first, opened = int(args.limit), None, True, False
    while left > 0:
        batch = await session.audit_entries(args.env, limit=min(AUDIT_JSON_BATCH, left), before_id=before,
                                            where=getattr(args, "where", None))
        if not opened:  # after the first batch is read: a refusal or an unreadable store prints nothing on stdout
            sys.stdout.write('{\n  "entries": [')
            opened = True
        for entry in batch:
            text = json_text(entry).replace("\n", "\n    ")
            sys.stdout.write(("\n    " if first else ",\n    ") + text)
            first = False
            if entry.get("params_error"):
                bad.append({"id": entry["id"], "params_error": entry["params_error"]})
        if len(batch) < min(AUDIT_JSON_BATCH, left):
            break
        left -= len(batch)
        before = batch[-1]["id"]
    if not opened:
        sys.stdout.write('{\n  "entries": [')
    sys.stdout.write("]\n}\n" if first else "\n  ]\n}\n")
    return bad


async def cmd_logs(args: argparse.Namespace) -> int:
    cfg = load(args)
    session = await open_session(args, cfg, args.env)
    tty = sys.stdout.isatty()
    try:
        async for line in session.logs(args.env, args.resource, follow=args.follow, tail=args.tail,
                                       container=args.container, previous=args.previous):
            text = f"{line.source} {line.text}" if line.source and _many_sources(args) else line.text
            sys.stdout.write((clean(text.expandtabs(8)) if tty else text.replace("\n", " ")) + "\n")
            if args.follow:
                sys.stdout.flush()
    except PolicyDenied:
        raise
    finally:
        await session.close()
    return EXIT_OK


def _many_sources(args: argparse.Namespace) -> bool:
    kind = args.resource.split("/")[1] if args.resource.count("/") >= 2 else ""
    return kind not in ("Pod", "service", "node")


async def cmd_doctor(args: argparse.Namespace) -> int:
    from tui.cli.doctor import run_doctor

    return await run_doctor(args, load)
