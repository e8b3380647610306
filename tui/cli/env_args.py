"""The `envdeck env VERB ...` argument parser (light: imported by `envdeck --help`); the
verbs themselves are in tui/cli/env_cmd.py, imported only when `env` runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_env_parser(add: Callable[[str, Callable, str], argparse.ArgumentParser],
                   common: argparse.ArgumentParser, handler: Callable) -> None:
    """`envdeck env VERB ...` (called from tui.cli.build_parser)."""
    env = add("env", handler,
              "environments from templates: list, plan, create, clone, destroy, sleep, wake, extend")
    verbs = env.add_subparsers(dest="env_command", metavar="VERB", required=True)

    def verb(name: str, help_text: str) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    def wait(p: argparse.ArgumentParser) -> None:
        p.add_argument("--wait", action="store_true",
                       help="carry the operation out here and return when it is done or failed "
                            "(default: hand it to the reconciler and return at once)")

    def template_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", metavar="NAME")
        p.add_argument("--template", "-t", required=True, metavar="T", help="template name (config `templates:`)")
        p.add_argument("--param", action="append", default=[], metavar="K=V",
                       help="template parameter (repeatable)")

    verb("list", "managed environments: state, current or failed step, expiry, orphans")
    template_args(verb("plan", "the ordered steps (in waves) a create would run; nothing is done"))
    p = verb("create", "create an environment from a template")
    template_args(p)
    p.add_argument("--ttl", metavar="D", help="lifetime (e.g. 2h; default: the template's ttl)")
    wait(p)
    p = verb("clone", "create NAME from SOURCE's template and parameters (or a config environment's desired state)")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--ttl", metavar="D", help="lifetime (e.g. 2h; default: the template's ttl)")
    wait(p)
    p = verb("destroy", "tear an environment down in reverse order, then sweep for leftovers")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", action="store_true", help="do not ask to type the name")
    wait(p)
    for name, text in (("sleep", "scale to zero / stop, remembering the values before"),
                       ("wake", "restore what sleep remembered")):
        p = verb(name, text)
        p.add_argument("name", metavar="NAME")
        wait(p)
    p = verb("extend", "set the expiry to now + DURATION (refused if that is earlier than "
                          "the expiry it has, or past the template's max_ttl)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("duration", metavar="DURATION", help="from now, e.g. 30m, 4h, 2d")
