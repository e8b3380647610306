"""The arguments of `envdeck diff` (tui/cli/diff_cmd.py runs it). Kept apart so that
building the command line (`envdeck --version`, `--help`, every other verb) does not
import the session, the config models and the backends that `diff` needs to run."""

from __future__ import annotations

from tui.core.compare.fields import FIELD_NAMES
from tui.core.model import BACKENDS


def add_diff_parser(add, handler) -> None:
    p = add("diff", handler, "compare two environments live: resources matched by role, the fields that differ, "
                             "what only one has (exit 0 same, 1 different)")
    p.add_argument("a", metavar="A", help="environment A")
    p.add_argument("b", metavar="B", help="environment B")
    p.add_argument("--backend", action="append", choices=BACKENDS, metavar="NAME",
                   help="only this backend: aws, kubernetes or edge (repeatable)")
    p.add_argument("--ignore", action="append", default=[], metavar="FIELD",
                   help=f"leave this field out, besides the config's compare.ignore (repeatable): "
                        f"{', '.join(FIELD_NAMES)}, or a path like image[sidecar]")
    p.add_argument("--json", action="store_true", help="machine-readable output")
