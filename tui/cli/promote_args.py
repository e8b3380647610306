"""The arguments of `envdeck versions` and `envdeck promote` (tui/cli/promote_cmd.py runs
them). Kept apart so that building the command line (`envdeck --version`, `--help`, every
other verb) does not import the session, the config models and the backends they need."""

from __future__ import annotations


def add_promote_parsers(add, versions_handler, promote_handler) -> None:
    p = add("versions", versions_handler,
            "the version each environment runs per component (images, task definitions, Lambda and edge versions)")
    p.add_argument("envs", nargs="*", metavar="ENV", help="only these environments (default: all you can see)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("promote", promote_handler,
            "bring environment A's versions to B in health-gated waves (--plan shows the changes, --apply runs them)")
    p.add_argument("a", nargs="?", metavar="A", help="the environment whose versions are promoted")
    p.add_argument("b", nargs="?", metavar="B", help="the environment that gets them (admin needed to apply)")
    p.add_argument("--component", action="append", default=[], metavar="NAME",
                   help="only this component (a role such as kubernetes/Deployment/web, or Deployment/web, or web; "
                        "repeatable)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--plan", action="store_true", help="list the changes, in order; nothing is done")
    mode.add_argument("--apply", action="store_true", help="run the changes in waves; prints the promotion's id")
    mode.add_argument("--rollback", metavar="ID", help="restore B's versions and desired state before promotion ID")
    mode.add_argument("--resume", metavar="ID", help="carry on promotion ID left unfinished (a killed envdeck)")
    mode.add_argument("--list", action="store_true",
                      help="the promotions into the environments you can see, newest first")
    p.add_argument("--yes", action="store_true", help="do not ask (required without a terminal)")
    p.add_argument("--timeout", metavar="D", default="5m",
                   help="how long each wave may take to turn healthy (default 5m)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
