"""`envdeck versions [ENV]... [--json]` and `envdeck promote` (docs/compare.md, "Versions and
promotion").

- `versions`: every environment the user may see (or those named) observed once (never a
  repair); a row per component (a role: tui/core/compare/roles.py), a column per environment,
  the rows whose versions differ marked `≠` (among the environments that run the component; one
  an environment does not run is `—`, marked and counted apart, not as differing).
- `promote A B [--component NAME]... --plan | --apply [--yes] [--timeout D]`: the plan lists,
  in order, the changes that make B's components run A's versions; `--apply` runs them in
  waves, each gated on a fresh observation of B, and prints the promotion's id. On a terminal
  it shows the plan and asks first unless `--yes` (`--rollback` likewise shows what it undoes); without a terminal `--yes` is required (exit 2).
- `promote --rollback ID [--yes]`: B's versions and desired state before promotion ID, in waves;
  an unfinished ID is stopped first (fenced: whoever carries it on stops at its next step).
- `promote --resume ID`: carries on a promotion a killed envdeck left unfinished (a finished
  wave is not repeated); `promote --list`: the promotions into the environments the user sees.

`versions` ends 1 when a backend could not be observed (the matrix is printed without its
versions, stderr names it). Exit codes: 0 ok (the plan printed, the promotion succeeded), 1 a promotion that stopped
(B partly promoted: stderr names the components), 2 usage (an unknown promotion id too), 3 denied (admin in B needed for
apply/rollback/resume, refused before any backend call and audited), 130 interrupted (Ctrl-C: the promotion
stays `running` where it stopped, its open audit rows end `interrupted`; `--resume ID` carries it on,
`--rollback ID` stops whoever carries it on at its next step and undoes it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tui.cli.interrupt import EXIT_INTERRUPTED
from tui.cli.opening import load, open_session
from tui.cli.output import ask, print_json, report_folded, report_line, say, warn
from tui.cli.table_fit import Column, cut_id, cut_start, fit_table, terminal_width
from tui.core.compare.versions import ComponentRow, VersionMatrix
from tui.core.config import parse_duration
from tui.core.errors import InvalidRequest, NotFound
from tui.core.model import iso, now_utc
from tui.core.promote.records import Promotion, PromotionPlan, PromotionState, PromotionStep
from tui.core.sanitize import clean

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


# -- versions ---------------------------------------------------------------------------
def row_mark(row: ComponentRow) -> str:
    """`≠` where the environments running it run different versions, `—` where the ones running
    it agree but some environment does not run it, else blank."""
    return "≠" if row.versions_differ else "—" if row.absent else " "


def matrix_lines(matrix: VersionMatrix, width: int | None = None) -> list[str]:
    """The matrix; `width` (a terminal's): the component's kind and the versions' middles cut
    to fit it (an image keeps its registry start and its tag)."""
    head = ["", "COMPONENT", *matrix.envs]
    rows = [[row_mark(row), row.role,
             *(row.versions[e].text if e in row.versions else "—" for e in matrix.envs)] for row in matrix.rows]
    if width is not None:
        columns = [Column(""), Column("COMPONENT", min_width=24, cut=cut_id),
                   *(Column(e, min_width=14, cut=cut_start) for e in matrix.envs)]
        return fit_table(columns, rows, width)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in [head, *rows]]


async def cmd_versions(args: argparse.Namespace) -> int:
    cfg = load(args)
    session = await open_session(args, cfg, envs=list(args.envs) or None)
    try:
        matrix = await session.promotions().versions(list(args.envs) or None)
    finally:
        await session.close()
    done = EXIT_FAILED if matrix.unreachable else EXIT_OK
    if args.json:
        print_json({"generated_at": iso(now_utc()), **matrix.to_json()})
    elif not matrix.rows:
        say("no versioned components (Kubernetes workloads, ECS services, Lambda functions, edge services) found")
    else:
        for line in matrix_lines(matrix, terminal_width()):
            report_line(line)
        say(matrix.summary())
    for where, why in matrix.unreachable.items():
        warn(f"{where} is unreachable: its versions are missing ({why})")
    return done


# -- promote ----------------------------------------------------------------------------
def plan_lines(plan: PromotionPlan) -> list[str]:
    what = f"rollback of {plan.rollback_of} in {plan.b}" if plan.rollback_of else f"promote {plan.a} → {plan.b}"
    lines = [f"{what}: {len(plan.changes)} change(s) in {len(plan.waves)} wave(s)"]
    for change in plan.changes:
        lines.append(f"  wave {change.wave}: {change.describe()}")
    for skipped in plan.skipped:
        lines.append(f"  skipped {skipped.component}: {skipped.reason}")
    return lines


def _step_line(promotion: Promotion, step: PromotionStep) -> str:
    text = f"{promotion.id} wave {step.change.wave} {step.change.resource}: {step.state}"
    return f"{text} — {step.message}" if step.message else text


class _Progress:
    """Prints a line on stderr per step whose state or message changed; keeps the promotion it
    last saw (a Ctrl-C names it, and how to carry it on)."""

    def __init__(self) -> None:
        self.shown: dict[int, tuple[str, str]] = {}
        self.last: Promotion | None = None

    def __call__(self, promotion: Promotion) -> None:
        self.last = promotion
        for step in promotion.steps:
            now = (str(step.state), step.message)
            if self.shown.get(step.seq) != now:
                self.shown[step.seq] = now
                print(clean(_step_line(promotion, step)), file=sys.stderr)

    def interrupted_line(self) -> str:
        promotion = self.last
        if promotion is None:
            return "envdeck: interrupted (Ctrl-C) before any change was made"
        return (f"envdeck: interrupted (Ctrl-C); promotion {promotion.id} stopped after {promotion.waves_done} of "
                f"{len(promotion.plan.waves)} wave(s): `envdeck promote --resume {promotion.id}` carries it on "
                f"(so does the reconciler leading its environment); `envdeck promote --rollback {promotion.id}` "
                "undoes it")


def _asks(args: argparse.Namespace) -> bool:
    """Whether `_confirm` will ask (a terminal and no --yes)."""
    return not args.yes and sys.stdin.isatty()


def _show_plan(plan: PromotionPlan, *, unfinished: bool = False) -> None:
    """The plan `--plan` prints, on stderr (stdout stays the --json document's), before the question."""
    for line in plan_lines(plan):
        say(line)
    if unfinished:
        say("  (the promotion is unfinished: it is stopped first, and what it changed by then is undone)")


def _confirm(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise InvalidRequest("--yes is required without a terminal (nothing was done)")
    return ask(question + " [y/N] ").strip().lower() in ("y", "yes")


def _result(args: argparse.Namespace, promotion: Promotion) -> int:
    if args.json:
        print_json(promotion.to_json())
    else:
        report_line(f"promotion {promotion.id}")
    if promotion.state == PromotionState.SUCCEEDED:
        say(promotion.summary())
        return EXIT_OK
    say(promotion.summary())
    return EXIT_FAILED


def _list(args: argparse.Namespace, promotions: list[Promotion]) -> int:
    if args.json:
        print_json({"promotions": [{k: v for k, v in p.to_json().items() if k not in ("plan", "steps")}
                                   for p in promotions]})
        return EXIT_OK
    if not promotions:
        say("no promotions")
        return EXIT_OK
    for p in promotions:
        kind = f"rollback of {p.rollback_of}" if p.rollback_of else f"{p.a} → {p.b}"
        report_folded(f"{p.id}  {iso(p.created_at)}  {p.user}  {kind}  {p.state}  "
                    f"{p.waves_done}/{len(p.plan.waves)} wave(s)" + (f"  {p.reason}" if p.reason else ""))
    return EXIT_OK


async def _known(service, pid: str) -> Promotion:
    """The promotion `pid`; an id that names none (or one of an environment the user may not
    see) is a usage error (exit 2), like every other wrong argument."""
    try:
        return await service.get(pid)
    except NotFound as exc:
        raise InvalidRequest(f"{exc} (envdeck promote --list shows the promotions)") from None


def _usage(args: argparse.Namespace) -> str | None:
    if args.list:
        return "--list takes no A, B or --component" if (args.a or args.b or args.component) else None
    if args.rollback or args.resume:
        if args.a or args.b or args.component:
            return "--rollback/--resume take a promotion id alone (no A, B or --component)"
        return None
    if not (args.a and args.b):
        return "promote needs A and B (or --rollback ID / --resume ID)"
    if not (args.plan or args.apply):
        return "promote A B needs --plan or --apply"
    return None


async def cmd_promote(args: argparse.Namespace) -> int:
    problem = _usage(args)
    if problem is not None:
        say(f"envdeck: {problem}")
        return EXIT_USAGE
    try:
        timeout_s = parse_duration(args.timeout)
    except ValueError as exc:
        say(f"envdeck: --timeout: {exc}")
        return EXIT_USAGE
    progress = _Progress()
    try:
        return await _promote(args, timeout_s, progress)
    except asyncio.CancelledError:  # Ctrl-C (tui/cli/interrupt.py): the steps and audit rows say where it stopped
        say(progress.interrupted_line())
        return EXIT_INTERRUPTED


async def _promote(args: argparse.Namespace, timeout_s: float, progress: _Progress) -> int:
    cfg = load(args)
    session = await open_session(args, cfg)
    try:
        service = session.promotions(timeout_s=timeout_s, on_change=progress)
        if args.list:
            return _list(args, await service.list())
        if args.plan:
            plan = await service.plan(args.a, args.b, args.component)
            if args.json:
                print_json(plan.to_json())
            else:
                for line in plan_lines(plan):
                    report_line(line)
            return EXIT_OK
        if args.resume:
            await _known(service, args.resume)
            return _result(args, await service.resume(args.resume))
        if args.rollback:
            original = await _known(service, args.rollback)
            running = original.state == PromotionState.RUNNING
            undo = service.rollback_plan(original)
            if not (undo.changes or running) or original.rollback_of or original.state == PromotionState.ROLLED_BACK:
                return _result(args, await service.rollback(args.rollback))   # refused, saying why: no question
            if _asks(args):   # what it would undo (so far, for an unfinished one), before the question
                _show_plan(undo, unfinished=running)
            if not _confirm(args, f"Roll back promotion {original.id} in {original.b}?"):
                say("nothing done")
                return EXIT_FAILED
            return _result(args, await service.rollback(args.rollback))
        if _asks(args):   # the changes it would make, before the question (apply plans afresh)
            plan = await service.plan(args.a, args.b, args.component)
            if not plan.changes:
                say(f"{args.b} already runs {args.a}'s versions: nothing to promote")
                return EXIT_OK
            _show_plan(plan)
        if not _confirm(args, f"Promote {args.a}'s versions to {args.b}?"):
            say("nothing done")
            return EXIT_FAILED
        promotion = await service.apply(args.a, args.b, args.component)
        if promotion is None:
            if args.json:
                print_json({"id": None, "a": args.a, "b": args.b, "state": "nothing to promote"})
            say(f"{args.b} already runs {args.a}'s versions: nothing to promote")
            return EXIT_OK
        return _result(args, promotion)
    finally:
        await session.close()
