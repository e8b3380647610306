"""`envdeck env ...`: environments created from templates (issue 15).

    envdeck env list [--json]
    envdeck env plan NAME --template T [--param k=v]... [--json]
    envdeck env create NAME --template T [--param k=v]... [--ttl D] [--wait] [--json]
    envdeck env clone SOURCE NAME [--ttl D] [--wait] [--json]
    envdeck env destroy NAME [--yes] [--wait] [--json]
    envdeck env sleep NAME [--wait] [--json]
    envdeck env wake NAME [--wait] [--json]
    envdeck env extend NAME DURATION [--json]

Everything goes through `Session.env_*` (the service checks the policy and audits). With
`--wait` the command carries the operation out in this process and prints one line per step
change; without it the operation is handed to the reconciler and the command returns at
once. Exit codes as elsewhere: 0 ok, 1 failed ("NAME: step S failed: reason" on stderr),
2 usage (a bad --param/--ttl, a missing --yes), 3 denied.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tui.cli import sigint
from tui.cli.interrupt import EXIT_INTERRUPTED
from tui.cli.opening import load, open_session
from tui.cli.output import ask, print_json, say, write_line
from tui.cli.table_fit import Column, cut_end, fit_table, terminal_width
from tui.core.config import parse_duration
from tui.core.env_state import LifecycleChanged
from tui.core.errors import EnvdeckError, LifecycleFailed
from tui.core.holder_kind import described
from tui.core.lifecycle.list_rows import list_row
from tui.core.lifecycle.service import span_text, ttl_cap_note
from tui.core.model import iso, now_utc, parse_iso
from tui.core.sanitize import clean
from tui.core.session import Session

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DENIED = 0, 1, 2, 3


class Usage(Exception):
    """Bad command-line input: the message is printed, exit 2."""


def parse_params(items: list[str]) -> dict[str, str]:
    """`--param k=v` split on the first "=" (the value may contain "=")."""
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise Usage(f"--param {item!r}: expected KEY=VALUE")
        params[key] = value
    return params


def parse_ttl(option: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        reason = str(exc)
        if "is not a duration" in reason:  # the config's own examples (500ms, 30s) do not fit a lifetime
            reason = "not a duration: e.g. 30m, 4h, 2d"
        raise Usage(f"{option} {text!r}: {reason}") from None


async def cmd_env(args: argparse.Namespace) -> int:
    handler = _VERBS[args.env_command]
    try:
        return await handler(args)
    except Usage as exc:
        say(f"envdeck: {exc}")
        return EXIT_USAGE
    except LifecycleFailed as exc:
        say(str(exc))  # "NAME: step S failed: reason"
        return EXIT_FAILED
    except asyncio.CancelledError:  # ctrl+c (tui/cli/interrupt.py) during --wait: what was done stays recorded
        if getattr(args, "wait", False):
            progress = getattr(args, "progress", None)   # set by _operate once the verb may change anything
            say(progress.interrupted_line(args.env_command) if progress is not None else
                f"envdeck: interrupted (Ctrl-C) before {args.name}'s {args.env_command} started: nothing was done")
            return EXIT_INTERRUPTED
        raise


# -- verbs ---------------------------------------------------------------------------------------

STEP_KEEP = 35  # `env list` on a terminal: the STEP column (which step failed and why) gives way
# first but only down to this many columns; under it only once TEMPLATE, OWNER and NAME are cut to
# their minimum and ORPHANS is left out. On a wide terminal it gets all the other columns leave.


def step_cell(step: dict[str, Any]) -> str:
    """`env list`'s STEP: the step and its reason, whole (piped as it is; on a terminal the
    table cuts it at its end with "…" to the room the terminal leaves it)."""
    return " ".join(x for x in (step.get("id", ""), step.get("reason", "")) if x) or "-"


def expires_cell(expires_at: str | None, now: datetime) -> str:
    """`env list`'s EXPIRES on a terminal: `in 3h12m` or `expired 5m ago` (piped: the ISO time)."""
    at = parse_iso(expires_at)
    if at is None:
        return "-"
    seconds = int((at - now).total_seconds())
    return f"in {span_text(seconds)}" if seconds >= 0 else f"expired {span_text(-seconds)} ago"


def _no_backends(env: str, env_cfg: Any, cfg: Any) -> dict[str, Any]:
    """The backends of `env list` and `env plan`: none. They read the store and the templates
    only, so they never import (or build) an adapter: the Kubernetes client and aiohttp alone
    cost seconds of start-up (tests/lifecycle/test_env_read_imports.py)."""
    return {}


# On a terminal the STEP gives way first, down to STEP_KEEP; then TEMPLATE and OWNER (cut in the
# middle), then NAME, then the STEP alone; EXPIRES is short (relative); ORPHANS is shown only when
# some environment has one and left out before the STEP goes under STEP_KEEP (each orphan is
# listed on its own line below the table anyway).
LIST_COLUMNS = (Column("NAME", min_width=12), Column("TEMPLATE", min_width=8, give=1),
                Column("OWNER", min_width=8, give=1), Column("STATE"),
                Column("STEP", min_width=12, keep=STEP_KEEP, give=2, cut=cut_end), Column("EXPIRES"),
                Column("ORPHANS", right=True, drop=1))


async def _list(args: argparse.Namespace) -> int:
    session = await open_session(args, load(args), backends_factory=_no_backends)
    try:
        # destroyed ones stay listed while they left orphans (what the sweep could not delete)
        managed = [m for m in await session.env_list(include_destroyed=True)
                   if str(m.state) != "destroyed" or m.orphans]
    finally:
        await session.close()
    rows = [list_row(m) for m in managed]
    if args.json:
        print_json({"generated_at": iso(now_utc()), "environments": rows})
        return EXIT_OK
    if not rows:
        write_line("no managed environments (create one with `envdeck env create NAME --template T`)")
        return EXIT_OK
    width = terminal_width()
    now = now_utc()
    table = [["NAME", "TEMPLATE", "OWNER", "STATE", "STEP", "EXPIRES", "ORPHANS"]]
    for row in rows:
        table.append([row["name"], row["template"], row["owner"], row["state"], step_cell(row["step"] or {}),
                      (row["expires_at"] or "-") if width is None else expires_cell(row["expires_at"], now),
                      str(len(row["orphans"]))])
    if width is None:  # piped: every cell whole
        _table(table)
    else:  # a terminal: sized to it, the STEP given the room (LIST_COLUMNS)
        columns = LIST_COLUMNS if any(row["orphans"] for row in rows) else LIST_COLUMNS[:-1]
        for line in fit_table(columns, [cells[:len(columns)] for cells in table[1:]], width):
            write_line(line)
    for row in rows:
        for orphan in row["orphans"]:
            write_line(f"  orphan {row['name']} {orphan['backend']} {orphan['resource']}: {orphan['reason']}")
    return EXIT_OK


async def _plan(args: argparse.Namespace) -> int:
    params = parse_params(args.param)
    session = await open_session(args, load(args), backends_factory=_no_backends)
    try:
        plan = await session.env_plan(args.name, args.template, params)
    finally:
        await session.close()
    if args.json:
        print_json(plan.to_json())
        return EXIT_OK
    steps = {s.id: s for s in plan.steps}
    write_line(f"{plan.env}: {len(plan.steps)} step(s) from template {plan.template} in "
               f"{len(plan.waves)} wave(s); nothing was done")
    for number, wave in enumerate(plan.waves, start=1):
        write_line(f"wave {number}:")
        rows = []
        for step_id in wave:
            step = steps[step_id]
            after = ", ".join(step.depends_on)
            rows.append(["  " + step.backend, step.kind, step.id, f"after {after}" if after else ""])
        _table(rows)
    return EXIT_OK


async def _create(args: argparse.Namespace) -> int:
    params = parse_params(args.param)
    ttl_s = parse_ttl("--ttl", args.ttl)
    return await _operate(args, "create",
                          lambda s: s.env_create(args.name, args.template, params, ttl_s=ttl_s, wait=args.wait),
                          ttl_s=ttl_s)


async def _clone(args: argparse.Namespace) -> int:
    ttl_s = parse_ttl("--ttl", args.ttl)
    return await _operate(args, "clone",
                          lambda s: s.env_clone(args.source, args.name, ttl_s=ttl_s, wait=args.wait),
                          ttl_s=ttl_s)


async def _destroy(args: argparse.Namespace) -> int:
    if not args.yes:
        # destroyed already: said (exit 0) before any question or the --yes a pipe needs
        gone = await _destroyed_before_asking(args)
        if gone is not None:
            return _said_destroyed(args, gone)
        if not sys.stdin.isatty():
            say(f"envdeck: destroying {args.name} deletes everything it created: pass --yes "
                "(stdin is not a terminal, so envdeck cannot ask)")
            return EXIT_USAGE
        answer = ask(f"Destroy environment {args.name} and everything it created? "
                     "Type its name to confirm: ")
        if answer.strip() != args.name:
            say("envdeck: not confirmed; nothing was done")
            return EXIT_FAILED
    return await _operate(args, "destroy", lambda s: s.env_destroy(args.name, wait=args.wait))


async def _destroyed_before_asking(args: argparse.Namespace) -> Any:
    """`_already_destroyed`, read from the store alone (no backend built, as `env list`)."""
    session = await open_session(args, load(args), backends_factory=_no_backends)
    try:
        return await _already_destroyed(session, args.name)
    finally:
        await session.close()


async def _sleep(args: argparse.Namespace) -> int:
    return await _operate(args, "sleep", lambda s: s.env_sleep(args.name, wait=args.wait))


async def _wake(args: argparse.Namespace) -> int:
    return await _operate(args, "wake", lambda s: s.env_wake(args.name, wait=args.wait))


async def _extend(args: argparse.Namespace) -> int:
    duration_s = parse_ttl("DURATION", args.duration)
    assert duration_s is not None
    session = await open_session(args, load(args))
    try:
        gone = await _destroyed(session, args.name)
        if gone is not None:
            return _refused_destroyed(gone, "extend")
        managed = await session.env_extend(args.name, duration_s)
    finally:
        await session.close()
    if args.json:
        print_json(managed.to_json())
    else:
        write_line(f"{managed.name}: expires at {iso(managed.expires_at) or 'never'}")
    return EXIT_OK


_VERBS = {"list": _list, "plan": _plan, "create": _create, "clone": _clone, "destroy": _destroy,
          "sleep": _sleep, "wake": _wake, "extend": _extend}


# -- running an operation ---------------------------------------------------------------------------

class Progress:
    """One line per step change of the environment being driven (from `LifecycleChanged`)."""

    def __init__(self, name: str, quiet: bool) -> None:
        self.name = name
        self.quiet = quiet
        self.seen: dict[str, tuple[str, str]] = {}
        self.state = ""
        self.by = ""   # another process carrying the operation out, which this one joined
        self.last: Any = None   # the environment as the last change showed it (a Ctrl-C says what was done)

    def joined(self, name: str, holder: str) -> None:
        """This command waits for an operation another live process carries out (LifecycleService.on_join)."""
        if name == self.name and not self.quiet:
            self.by = holder
            self._line(f"{name}: {described(holder)} is carrying it out already; joined it, waiting for it to end "
                       "(the steps below are its)")

    def start_from(self, managed: Any) -> None:
        """What the environment looked like before the operation (its steps are not news)."""
        self.state = str(managed.state)
        self.seen = {step.id: (str(step.state), step.message) for step in managed.steps}

    def __call__(self, change: Any) -> None:
        if not isinstance(change, LifecycleChanged) or change.env != self.name:
            return
        managed = change.managed
        self.last = managed
        if self.quiet or sigint.interrupted():   # after the ^C only its one line is printed
            return
        state = str(managed.state)
        # A state the operation starts in comes before its steps; the state it ends in comes after
        # the steps that led to it. Following another process through the store (polled), one read
        # carries the end state with the steps done since the read before: `destroyed` came first.
        ended = state != self.state and managed.operation is None
        if state != self.state and not ended:
            self.state = state
            self._line(f"{self.name}: {state}")
        for step in managed.steps:
            key = (str(step.state), step.message)
            if self.seen.get(step.id) == key:
                continue
            self.seen[step.id] = key
            if str(step.state) == "pending" and not step.message:
                continue
            self._line(f"{self.name}: {step.id} {step.state}" + (f" — {step.message}" if step.message else "")
                       + (f" (by {self.by})" if self.by else ""))
        if ended:
            self.state = state
            self._line(f"{self.name}: {state}")

    def interrupted_line(self, verb: str) -> str:
        """The one line of a Ctrl-C during `--wait`: for a create or clone, whether anything was
        created (nothing yet / which steps were done) and how to carry it on or remove it."""
        name, managed = self.name, self.last
        carry_on = "the same command (or the reconciler: a running TUI, `envdeck reconcile`) carries it on"
        if verb not in ("create", "clone"):
            return f"envdeck: interrupted (Ctrl-C); {name}'s {verb} stopped: {carry_on} from where it stopped"
        if managed is None:   # no change of the environment seen: the request had not reached a step
            return (f"envdeck: interrupted (Ctrl-C) before {name}'s {verb} had started a step: nothing was "
                    f"created (`envdeck env list` shows whether the request was recorded; "
                    f"`envdeck env destroy {name}` drops it)")
        done = [step.id for step in managed.steps if str(step.state) == "healthy"]
        going = [step.id for step in managed.steps if str(step.state) in ("creating", "waiting")]
        if not done and not going:
            return (f"envdeck: interrupted (Ctrl-C); {name}'s {verb} is recorded but no step had started, "
                    f"nothing was created: {carry_on}; `envdeck env destroy {name}` drops it")
        total = len(managed.steps)
        said = f"{len(done)} of {total} step(s) done" + (f" ({_some(done)})" if done else "")
        if going:
            said += f", {len(going)} under way ({_some(going)})"
        return (f"envdeck: interrupted (Ctrl-C); {name}'s {verb} stopped with {said}: {carry_on} from there; "
                f"`envdeck env destroy {name}` removes what was created")

    @staticmethod
    def _line(text: str) -> None:
        # progress is for people: always sanitised, even piped (stdout stays for --json)
        sys.stderr.write(clean(text) + "\n")
        sys.stderr.flush()


async def _operate(args: argparse.Namespace, verb: str, call: Callable[[Session], Any], *,
                   ttl_s: float | None = None) -> int:
    """`ttl_s`: a create's --ttl; capped to the template's max_ttl, it is said (stderr, and
    `notes` in the JSON), never silently; so is a --ttl not applied to an environment that exists
    already and is returned as it is (`ttl_kept_note`)."""
    session = await open_session(args, load(args))
    if verb == "destroy":
        gone = await _already_destroyed(session, args.name)
        if gone is not None:
            await session.close()
            return _said_destroyed(args, gone)
    if verb in ("sleep", "wake"):
        gone = await _destroyed(session, args.name)
        if gone is not None:
            await session.close()
            return _refused_destroyed(gone, verb)
    progress = Progress(args.name, quiet=not args.wait)
    args.progress = progress   # a Ctrl-C (cmd_env) says what was done from what it saw
    if args.wait and verb not in ("create", "clone"):
        with contextlib.suppress(EnvdeckError):  # the verb itself reports a missing or hidden name
            progress.start_from(await session.env_get(args.name))
    unsubscribe = session.subscribe(progress)
    session.lifecycle.on_join = progress.joined
    try:
        try:
            managed = await call(session)
        except LifecycleFailed:
            if args.json:  # scripts get the failed environment's row too (steps and reason)
                with contextlib.suppress(EnvdeckError):
                    print_json((await session.env_get(args.name)).to_json())
            raise
    finally:
        unsubscribe()
        await session.close()
    # a request handed over while the environment is `failed` (a destroy of a failed create): that
    # failure is the old operation's, not this one's (it has not started): no failure said, exit 0
    pending_after_failure = (not args.wait and str(managed.state) == "failed"
                             and str(managed.operation or "") == verb)
    # the environment found and returned as it is (a create asked again): its --ttl was not
    # applied, said as such; else a --ttl (or the template's) capped to max_ttl
    kept = session.lifecycle.kept.get(managed.name, "") if verb in ("create", "clone") else ""
    note = kept or ttl_cap_note(managed.spec.max_ttl_s, ttl_s)
    if note:
        say(note if kept else f"{managed.name}: {note}")
    if args.json:
        print_json({**managed.to_json(), "notes": [note] if note else []} if verb in ("create", "clone")
                   else managed.to_json())
    else:
        state = str(managed.state)
        if args.wait:
            expires = managed.expires_at and state in ("ready", "sleeping")
            write_line(f"{managed.name}: {verb} done, {state}"
                       + (f", expires at {iso(managed.expires_at)}" if expires else "")
                       + (f" (carried out by {progress.by}; this command joined it)" if progress.by else ""))
        else:
            was = f"{state} until it starts" if pending_after_failure else state
            write_line(f"{managed.name}: {verb} requested ({was}); the reconciler carries it out "
                       "(a running TUI, or `envdeck reconcile`); follow it with `envdeck env list`")
    if str(managed.state) == "failed" and not pending_after_failure:
        say(f"{managed.name}: step {managed.step or '?'} failed: {managed.reason or 'unknown reason'}")
        return EXIT_FAILED
    if args.wait and verb == "destroy" and managed.orphans:
        # never silently left: a teardown that could not delete everything is not a success
        for orphan in managed.orphans:
            say(f"{managed.name}: orphan {orphan.backend} {orphan.resource}: {orphan.reason}")
        say(f"{managed.name}: destroyed, but {len(managed.orphans)} orphan(s) left (see `envdeck env list`)")
        return EXIT_FAILED
    return EXIT_OK


async def _already_destroyed(session: Session, name: str) -> Any:
    """The environment `name` if it is destroyed and left nothing to sweep, and the user may see it
    (its owner or one with a role in it: `env_get`); else None (the service decides, and a name the
    user cannot see gets the same answer as an unknown one)."""
    try:
        managed = await session.env_get(name)
    except EnvdeckError:
        return None
    return managed if str(managed.state) == "destroyed" and not managed.orphans else None


async def _destroyed(session: Session, name: str) -> Any:
    """The environment `name` if it is destroyed (orphans or not) and the user may see it; else
    None (the service decides: a name the user cannot see is answered like an unknown one)."""
    try:
        managed = await session.env_get(name)
    except EnvdeckError:
        return None
    return managed if str(managed.state) == "destroyed" else None


def _refused_destroyed(managed: Any, verb: str) -> int:
    """`env extend/sleep/wake` of a destroyed environment: an operation its state does not
    allow, refused like the service's other `cannot VERB NAME` answers (exit 2), nothing done."""
    when = iso(managed.updated_at) if managed.updated_at else "an unknown time"
    say(f"envdeck: {managed.name} was destroyed at {when}; nothing to {verb}")
    return EXIT_USAGE


def _said_destroyed(args: argparse.Namespace, managed: Any) -> int:
    """`env destroy` of an environment destroyed already: a no-op, said as such (exit 0)."""
    when = iso(managed.updated_at) if managed.updated_at else "an unknown time"
    if args.json:
        print_json(managed.to_json())
    say(f"{managed.name} is already destroyed (at {when}); nothing was done")
    return EXIT_OK


def _some(ids: list[str], most: int = 4) -> str:
    """`a, b, c, d and 3 more`: step ids for one line."""
    return ", ".join(ids[:most]) + (f" and {len(ids) - most} more" if len(ids) > most else "")


def _table(rows: list[list[str]]) -> None:
    rows = [[clean(cell) for cell in row] for row in rows]  # measured as shown (a TAB is `^I`)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        write_line("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())

