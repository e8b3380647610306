"""`envdeck diff A B [--backend NAME]... [--ignore FIELD]... [--json]`: environment A against
environment B, live (docs/compare.md).

Both environments are observed once (never a repair); resources are matched by role
(tui/core/compare/roles.py), compared on the fields of their kind, with the config's
`compare.ignore` plus `--ignore` left out. Secret and ConfigMap values are compared by
digests computed in memory with a salt of this run: the output says that a key's value
differs, never what it is. A viewer role in both environments suffices.

Exit codes, like diff(1): 0 no differences, 1 differences, 2 usage error or a backend could
not be observed (nothing to compare against), 3 an environment the user may not see (or
that does not exist), refused before any backend call.
"""

from __future__ import annotations

import argparse

from tui.cli.opening import load, open_session
from tui.cli.output import print_json, report_line, say
from tui.cli.table_fit import fold_parts, fold_words, terminal_width
from tui.core.compare.fields import FIELD_NAMES
from tui.core.compare.records import EnvDiff
from tui.core.errors import BackendError
from tui.core.model import iso, now_utc
from tui.core.sanitize import clean

EXIT_SAME, EXIT_DIFFERENT, EXIT_TROUBLE = 0, 1, 2


def _text(value: object) -> str:
    return "(absent)" if value is None else str(value)


def render(result: EnvDiff, columns: int | None = None) -> list[str]:
    """The report; `columns` (a terminal's width): a line wider than it is broken between its
    parts (`(staging: ID` / `prod: ID)`), never inside an id or a value. None: a line each."""
    a, b = result.a_env, result.b_env
    head = (f"{a} vs {b}: {result.matched} role(s) in both, {len(result.differing)} differ, "
            f"{len(result.only_in_a)} only in {a}, {len(result.only_in_b)} only in {b}")
    if result.ignored:
        head += f" (ignored: {', '.join(result.ignored)})"
    lines = fold_words(clean(head), columns, indent="    ")
    for pair in result.differing:
        lines += fold_parts([f"~ {pair.role} ", f"({a}: {pair.a_id}", f"{b}: {pair.b_id})"], columns)
        width = max(len(f.field) for f in pair.fields)
        for f in pair.fields:
            if f.hidden:
                what = "value differs (not shown)" if f.a is not None and f.b is not None else \
                    f"only in {a if f.a is not None else b} (value not shown)"
                lines.append(f"    {f.field.ljust(width)}  {what}")
            else:
                lines += fold_parts([f"    {f.field.ljust(width)}", f"{a}: {_text(f.a)}", f"{b}: {_text(f.b)}"],
                                    columns, indent=" " * (width + 6))
    lines += [part for o in result.only_in_a for part in fold_parts([f"- only in {a}: {o.role} ", f"({o.id})"], columns)]
    lines += [part for o in result.only_in_b for part in fold_parts([f"+ only in {b}: {o.role} ", f"({o.id})"], columns)]
    return lines


def _bad_ignores(names: list[str]) -> list[str]:
    return [n for n in names if n.split("[", 1)[0].split(".", 1)[0] not in FIELD_NAMES]


async def cmd_diff(args: argparse.Namespace) -> int:
    bad = _bad_ignores(args.ignore)
    if bad:
        say(f"envdeck: --ignore {bad[0]!r}: unknown field; one of {', '.join(FIELD_NAMES)}")
        return EXIT_TROUBLE
    if args.a == args.b:
        say("envdeck: diff needs two different environments")
        return EXIT_TROUBLE
    cfg = load(args)
    session = await open_session(args, cfg, envs=[args.a, args.b])  # an unseen one: exit 3 here
    try:
        result = await session.compare(args.a, args.b, backends=args.backend, ignore=args.ignore)
    except BackendError as exc:
        say(f"envdeck: cannot compare: {exc}")
        return EXIT_TROUBLE
    finally:
        await session.close()
    if args.json:
        print_json({"generated_at": iso(now_utc()), **result.to_json()})
    else:
        for line in render(result, terminal_width()):
            report_line(line)
    return EXIT_SAME if result.equal else EXIT_DIFFERENT
