"""On-call findings on `envdeck versions` and `promote` (session 8), on the Kubernetes API
emulator shared by the module, the CLI's real entry point (in-process, or on a pseudo-terminal
where a prompt is concerned).

- A preview environment that runs none of staging's and prod's components made every row `≠`
  ("8 component(s), 8 differ"): absent (`—`) is marked and counted apart from a differing
  version, so staging and prod stay comparable at a glance; the JSON keeps `differs` and adds
  `versions_differ` and `absent`.
- `promote --apply` and `--rollback` asked [y/N] without showing the changes: the plan first.
"""

from __future__ import annotations

import json
import sys

from tests.helpers import repo_root
from tests.promote.conftest import Pair
from tests.terminal import TerminalSession


def _three(pair: Pair) -> None:
    """staging and prod (api differs, web and db alike) beside `pr-1`, whose namespace runs nothing."""
    for ns, api in ((pair.s, "api:2.0"), (pair.p, "api:1.0")):
        pair.emu.create_deployment(ns, "api", replicas=1, image=api)
        pair.emu.create_deployment(ns, "web", replicas=1, image="web:1.0")
        pair.emu.create_deployment(ns, "db", replicas=1, image="db:16")
    pair.config()
    path = pair.tmp / "envdeck.yaml"
    path.write_text(path.read_text() + f"""  pr-1:
    repair: observe
    kubernetes: {{kubeconfig: "{pair.kubeconfig}", context: emulator, namespace: pr-{pair.s}}}
""")


def test_an_environment_without_the_components_does_not_make_every_row_differ(pair: Pair):
    _three(pair)
    text = pair.envdeck("versions")
    assert text.returncode == 0, text.stderr
    rows = {line.split()[1] if line[0] in "≠—" else line.split()[0]: line for line in text.stdout.splitlines()[1:]}
    assert rows["kubernetes/Deployment/api"].startswith("≠"), text.stdout
    for same in ("kubernetes/Deployment/web", "kubernetes/Deployment/db"):
        assert rows[same].startswith("—") and not rows[same].startswith("≠"), text.stdout
    assert "3 component(s), 1 differ (≠); absent (—): 3 in pr-1" in text.stderr, text.stderr

    data = json.loads(pair.envdeck("versions", "--json").stdout)
    assert data["environments"] == ["staging", "prod", "pr-1"]
    by = {c["component"]: c for c in data["components"]}
    web, api = by["kubernetes/Deployment/web"], by["kubernetes/Deployment/api"]
    assert (web["differs"], web["versions_differ"], web["absent"]) == (True, False, ["pr-1"]), web
    assert (api["differs"], api["versions_differ"], api["absent"]) == (True, True, ["pr-1"]), api
    assert web["versions"]["pr-1"] is None and web["versions"]["prod"]["version"] == "web:1.0"

    # staging and prod alone: nothing absent, the summary as before
    two = pair.envdeck("versions", "staging", "prod")
    assert two.returncode == 0, two.stderr
    assert "3 component(s), 1 differ (≠)\n" in two.stderr and "absent" not in two.stderr, two.stderr
    assert not any(line.startswith("—") for line in two.stdout.splitlines()), two.stdout


def _answer_no(pair: Pair, *args: str) -> tuple[int, str]:
    """`envdeck ARGS` on a pseudo-terminal (so it asks), answering `n` at its [y/N]."""
    with TerminalSession([sys.executable, "-m", "tui.cli", *args], env=pair.cli_env(), cwd=repo_root()) as term:
        term.expect(b"[y/N]", timeout=90)
        term.send(b"n\r")
        code = term.wait_exit(timeout=60)
        return code, term.out.decode(errors="replace").replace("\r\n", "\n")


def test_promote_apply_and_rollback_show_their_changes_before_asking(pair: Pair):
    """`--apply` and `--rollback` asked [y/N] without saying what they would change: the plan
    (as `--plan` prints it) comes first. Answering n changes nothing (read on the emulator)."""
    pair.emu.create_deployment(pair.s, "web", replicas=1, image="web:2.0")
    pair.emu.create_deployment(pair.p, "web", replicas=1, image="web:1.0")
    pair.emu.create_deployment(pair.s, "api", replicas=1, image="api:1.0")
    pair.emu.create_deployment(pair.p, "api", replicas=1, image="api:1.0")
    code, out = _answer_no(pair, "promote", "staging", "prod", "--apply")
    assert code == 1 and "nothing done" in out, out
    plan = out.index("promote staging → prod: 1 change(s) in 1 wave(s)")
    change = out.index("wave 1: kubernetes/Deployment/web", plan)
    assert "api" not in out[plan:out.index("[y/N]")], "only what changes is listed"
    assert change < out.index("Promote staging's versions to prod? [y/N]"), out
    assert pair.images(pair.p) == {"web": "web:1.0", "api": "api:1.0"}, "answered n: nothing promoted"

    done = pair.envdeck("promote", "staging", "prod", "--apply", "--yes", "--timeout", "60s", "--json")
    assert done.returncode == 0, done.stderr
    pid = json.loads(done.stdout)["id"]
    assert pair.images(pair.p)["web"] == "web:2.0"
    code, out = _answer_no(pair, "promote", "--rollback", pid)
    assert code == 1 and "nothing done" in out, out
    undo = out.index(f"rollback of {pid} in prod: 1 change(s) in 1 wave(s)")
    assert undo < out.index("wave 1: kubernetes/Deployment/web", undo) < out.index(f"Roll back promotion {pid}"), out
    assert pair.images(pair.p)["web"] == "web:2.0", "answered n: nothing rolled back"

    # prod runs staging's versions now: said at once, nothing asked
    with TerminalSession([sys.executable, "-m", "tui.cli", "promote", "staging", "prod", "--apply"],
                         env=pair.cli_env(), cwd=repo_root()) as term:
        code = term.wait_exit(timeout=90)
        out = term.out.decode(errors="replace")
    assert code == 0 and "prod already runs staging's versions: nothing to promote" in out, out
    assert "[y/N]" not in out, out
