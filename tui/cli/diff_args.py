"""The arguments of `envdeck diff` (tui/cli/diff_cmd.py runs it). Kept apart so that
building the command line (`envdeck --version`, `--help`, every other verb) does not
import the session, the config models and the backends that `diff` needs to run."""

from __future__ import annotations

from tui.core.backend_names import BACKENDS


class _FieldNames:
    """The comparable fields, listed in `--ignore`'s help only when help is shown: importing
    them (tui.core.compare, the model) was a fifth of `envdeck --version`'s own imports."""

    def __str__(self) -> str:
        from tui.core.compare.fields import FIELD_NAMES

        return ", ".join(FIELD_NAMES)


def add_diff_parser(add, handler) -> None:
    p = add("diff", handler, "compare two environments live: resources matched by role, the fields that differ, "
                             "what only one has (exit 0 same, 1 different)")
    p.add_argument("a", metavar="A", help="environment A")
    p.add_argument("b", metavar="B", help="environment B")
    p.add_argument("--backend", action="append", choices=BACKENDS, metavar="NAME",
                   help="only this backend: aws, kubernetes or edge (repeatable)")
    ignore = p.add_argument("--ignore", action="append", default=[], metavar="FIELD",
                            help="leave this field out, besides the config's compare.ignore (repeatable): "
                                 "%(field_names)s, or a path like image[sidecar]")
    ignore.field_names = _FieldNames()  # argparse fills %(name)s from the action's attributes
    p.add_argument("--json", action="store_true", help="machine-readable output")
