"""`envdeck xray ENV RESOURCE_ID [--json]`: what a resource depends on and what depends on it.

Observes the environment once (like `status`; never a repair), accepts an AWS Name in place
of the id (`aws/KIND/NAME` like `act`, or the bare Name, native id or KIND/NAME: `staging-web`,
`web-1`, `Ingress/web`; several resources so named are listed, exit 2), and prints the tree
with box-drawing characters; every name, reason and status is outside text: cleaned in the
tree (report_line: a name cannot break a line of it or write an escape sequence, piped or not)
and escaped in JSON.
Exit codes as the other commands: 1 when the resource is not there or a backend was
unreachable (the tree then shows the last observation; a resource not found while a backend is
unreachable is reported as that backend being unreachable, not as "no resource"), 3 for an environment the user may
not see. A backend the environment's leader (another live process) has not observed yet is
pending, as in `status` (waited for up to defaults.timeout, then named `pending`, never
unreachable; JSON `pending_backends`); exit 1 then too (not everything was observed).
"""

from __future__ import annotations

import argparse

from tui.cli.opening import load, open_session
from tui.cli.output import print_json, report_line, warn
from tui.cli.table_fit import fold_words, terminal_width
from tui.core.errors import BackendUnreachable, NotFound
from tui.core.model import iso, now_utc, worst_health
from tui.core.sanitize import clean
from tui.core.xray import XrayNode, XrayTree, pending_reason, shown_names, target_in, xray_in

EXIT_OK, EXIT_FAILED = 0, 1


def node_line(node: XrayNode, name: str | None = None) -> str:
    parts = [f"{node.relation}: " if node.relation else "",
             f"{node.kind}/{node.name if name is None else name}  {node.health}"]
    if worst_health([node.health, node.rolled]) is not node.health:
        parts.append(f"  (below: {node.rolled})")
    if node.cycle:
        parts.append("  [cycle: already above]")
    if node.reason:
        parts.append(f"  — {node.reason}")
    return "".join(parts)


def tree_lines(nodes: list[XrayNode], prefix: str = "", width: int | None = None) -> list[str]:
    """The nodes under a heading, drawn with ├── └── │. `width` (a terminal's): a node's line
    wider than it is folded at spaces, its next lines under the node, inside the tree."""
    lines: list[str] = []
    for i, (node, name) in enumerate(zip(nodes, shown_names(nodes), strict=True)):
        last = i == len(nodes) - 1
        below = prefix + ("    " if last else "│   ")
        under = below + ("│   " if node.children or node.more or node.truncated else "    ")
        lines += fold_words(clean(f"{prefix}{'└── ' if last else '├── '}{node_line(node, name)}"), width,
                            indent=under)
        lines += tree_lines(node.children, below, width)
        if node.more:
            lines.append(f"{below}└── … {node.more} more")
        elif node.truncated:
            lines.append(f"{below}└── … (deeper levels not shown)")
    return lines


def render(tree: XrayTree, width: int | None = None) -> list[str]:
    root = tree.root
    head = f"{root.resource_id}  {root.health}"
    if worst_health([root.health, tree.rolled]) is not root.health:
        head += f"  (with what it depends on: {tree.rolled})"
    if root.reason:
        head += f"  — {root.reason}"
    lines = [*fold_words(clean(head), width, indent="    "), "depends on" + ("" if tree.depends_on else ": nothing known")]
    lines += tree_lines(tree.depends_on, width=width)
    lines.append("depended on by" + ("" if tree.depended_on_by else ": nothing known"))
    lines += tree_lines(tree.depended_on_by, width=width)
    return lines


async def cmd_xray(args: argparse.Namespace) -> int:
    cfg = load(args)
    session = await open_session(args, cfg, args.env)
    try:
        await session.observe()  # observes only, like `status`
        # a leader (another live process) still on its first pass of a backend: wait for it, bounded
        pending = sorted((await session.await_leaders_first_pass(cfg.defaults.timeout)).get(args.env, ()))
        state = session.state(args.env)
        backends = state.backends
        unreachable = sorted(name for name, b in backends.items() if b.reachable is not True and name not in pending)
        leader = state.leader if state.leader != "you" else None
        try:
            resource_id = await session.resolve_name(args.env, args.resource)  # aws/KIND/NAME, as `act`
            resource_id = target_in(session.state(args.env), resource_id)  # NAME, KIND/NAME, a native id
            tree = xray_in(session, args.env, resource_id)
        except NotFound:
            if not unreachable and not pending:
                raise
            # not found because it could not be looked: say that, not "no resource" (status says UNREACHABLE
            # or pending)
            why = "; ".join([pending_reason(name, leader) for name in pending]
                            + [f"{name} is unreachable" + (f": {backends[name].error}" if backends[name].error else "")
                               for name in unreachable])
            raise BackendUnreachable(f"{why} — cannot look {args.resource} up in {args.env}",
                                     backend=(pending + unreachable)[0]) from None
    finally:
        await session.close()
    if args.json:
        print_json({"generated_at": iso(now_utc()), "env": args.env, "unreachable_backends": unreachable,
                    "pending_backends": pending, **tree.to_json()})
    else:
        for line in render(tree, terminal_width()):  # piped: None, a line per node as before
            report_line(line)  # for people (scripts take --json): names cleaned, piped or not
    for name in pending:
        warn(f"{pending_reason(name, leader)}: its part of the tree is not known yet")
    for name in unreachable:
        warn(f"{name} is unreachable: its part of the tree is the last observation")
    return EXIT_FAILED if unreachable or pending else EXIT_OK
