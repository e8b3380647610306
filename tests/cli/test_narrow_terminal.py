"""The CLI's human output on an 80-column terminal (on-call finding, session 9: `status` rows,
`audit` rows and `run` lines wrapped at 80 columns inside words and numbers, `status --summary`
cut who leads, an audit message showed a Python dict). On a terminal the output is sized to it;
piped it is what it always was (scripts read it); `--json` is untouched.

`run` and `audit` run on a real 80x24 pseudo-terminal against the edge simulator (a real SSH
server); the table functions are fed what `status --json` gives."""

from __future__ import annotations

import asyncio
import io
import sys
from contextlib import redirect_stdout
from datetime import UTC, datetime

import yaml

from backends.sim.edge.simulator import EdgeSimulator
from tests.helpers import envdeck_env, repo_root
from tests.terminal import TerminalSession, visible_text
from tui.cli.audit_lines import audit_line, audit_lines
from tui.cli.output import status_table
from tui.cli.status_summary import summary_lines
from tui.cli.table_fit import cut_id, fold_words
from tui.core.shown_value import plain_value, shown_value

REMOTE = "14:47:01 up 3 days, 2:03, 1 user, load average: 0.31, 0.25, 0.20"
LONG_NODE = "gateway-with-a-long-name-02"


def _on_pty(*args: str) -> tuple[int, str]:
    """envdeck on an 80x24 pty (no COLUMNS: the terminal's own size is read)."""
    env = envdeck_env(PYTHONPATH=str(repo_root()), TERM="xterm-256color")
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    with TerminalSession([sys.executable, "-m", "tui.cli", *args], env=env, cwd=repo_root(), rows=24,
                         cols=80) as term:
        code = term.wait_exit(timeout=120)
        return code, visible_text(bytes(term.out)).replace("\r\n", "\n")


async def test_run_and_audit_on_an_80_column_terminal(tmp_path):
    async with EdgeSimulator(nodes=["gw-01", LONG_NODE], seed=3) as sim:
        config = tmp_path / "envdeck.yaml"
        config.write_text(yaml.safe_dump({"environments": {"lab": {"edge": sim.edge_config_dict()}}}))
        config.chmod(0o600)
        common = ("--config", str(config), "--state-dir", str(tmp_path / "state"))
        # the pty is read by blocking calls: in a thread, so that the simulator (this loop) answers
        code, text = await asyncio.to_thread(_on_pty, "run", *common, "lab", "--yes", "--", f"echo {REMOTE}")
    assert code == 0, text
    lines = text.splitlines()
    # the remote line never broken by envdeck's columns: whole on a line of its own below its node
    for node in ("gw-01", LONG_NODE):
        at = next(i for i, line in enumerate(lines) if line.startswith(node + " "))
        assert lines[at].split()[1:3] == ["exit", "0"], lines
        assert lines[at + 1] == "  " + REMOTE, lines
    assert all(len(line) <= 80 for line in lines), lines

    code, text = await asyncio.to_thread(_on_pty, "audit", *common)
    assert code == 0, text
    lines = [line for line in text.splitlines() if line.strip()]
    # ORIGIN (who acted) is never left out at 80; each header word sits over its column
    assert lines[0].split() == ["ID", "TIME", "USER", "ENV", "ORIGIN", "RESULT", "ACTION", "TARGET",
                                "MESSAGE"], lines
    assert all(len(line) <= 80 for line in lines), lines
    rows = [line for line in lines[1:] if not line.startswith(" " * 7)]
    assert [row.split()[4:7] for row in rows] == [["cli", "succeeded", "run"]] * 2, lines
    _assert_header_over_columns(lines[0], rows)
    # the target (a resource id) is never cut
    assert any(f"edge/node/{LONG_NODE}" in line for line in lines), lines


def _assert_header_over_columns(header: str, rows: list[str]) -> None:
    """ID ends where the ids end (numbers right-aligned); TIME … RESULT and ACTION start where
    their cells start on every row (cells have no spaces but a compact time of another day)."""
    words = header.split()[:7]
    starts = [header.index(w) for w in words]
    for row in rows:
        assert row[:starts[1]].rstrip().endswith(row.split()[0]) and len(row[:starts[1]].rstrip()) == \
            starts[0] + len("ID"), (header, row)
        for at in starts[1:]:
            assert row[at - 1] == " " and row[at] != " ", (header, row, at)


def test_audit_at_80_columns_shows_who_acted_under_its_header():
    """On-call finding: at 80 columns ORIGIN was left out (a reconciler's `scale` read as if root
    had scaled), and RESULT's header was not over its column."""
    now = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    entries = [{"id": 130, "at": "2026-12-07T14:46:46Z", "user": "root", "env": "pr-5", "origin": "reconciler",
                "result": "succeeded", "action": "scale", "target": "kubernetes/Deployment/web",
                "message": "scale requested (replicas: 3)"},
               {"id": 131, "at": "2026-12-07T14:47:02Z", "user": "root", "env": "pr-5", "origin": "cli",
                "result": "failed", "action": "read", "target": "kubernetes/ConfigMap/app-config",
                "message": "forbidden"},
               {"id": 1312, "at": "2026-12-06T09:03:12.123456+00:00", "user": "a-rather-long-user-name",
                "env": "production-eu-west", "origin": "ttl", "result": "succeeded", "action": "destroy",
                "target": "aws/ec2-instance/i-0cfb70dd7a50c2814", "message": ""}]
    lines = audit_lines(entries, now, 80)
    assert all(len(line) <= 80 for line in lines), lines
    header = lines[0]
    assert header.split() == ["ID", "TIME", "USER", "ENV", "ORIGIN", "RESULT", "ACTION", "TARGET",
                              "MESSAGE"], lines
    rows = [line for line in lines[1:] if not line.startswith(" " * 7)]
    assert len(rows) == 3, lines
    origin, result = header.index("ORIGIN"), header.index("RESULT")
    assert [row[origin:result].strip() for row in rows] == ["reconciler", "cli", "ttl"], lines
    assert rows[0].split()[:7] == ["130", "14:46:46", "root", "pr-5", "reconciler", "succeeded", "scale"], lines
    assert "12-06 09:03:12" in rows[2], lines  # another day: month-day and time, never cut
    for row in rows:  # a compact time of another day has a space: check past TIME on it
        assert row[header.index("USER") - 1] == " ", (header, row)
    _assert_header_over_columns(header, rows[:2])
    # wide: the stored time whole; piped: the line scripts read, ORIGIN in it as always
    assert "2026-12-06T09:03:12.123456+00:00" in audit_lines(entries, now, 200)[3]
    assert audit_lines(entries, now, None) == [audit_line(e, now) for e in entries]
    assert " reconciler " in audit_line(entries[0], now)


def _env_json() -> dict:
    resources = [{"backend": "aws", "kind": "ec2-instance", "name": "web-1", "status": "running",
                  "id": "aws/ec2-instance/i-0cfb70dd7a50c2814", "health": "Healthy", "drift": None,
                  "findings": []},
                 {"backend": "kubernetes", "kind": "HorizontalPodAutoscaler", "name": "api-autoscaler",
                  "id": "kubernetes/HorizontalPodAutoscaler/api-autoscaler", "status": "2/3 targets healthy",
                  "health": "Progressing", "drift": "Drifted", "findings": [{}, {}]}]
    return {"name": "staging", "health": "Degraded", "drift": "Drifted", "repair": "propose",
            "leader": "alice@ops-bastion-01.internal.example.com:12345",
            "backends": {"aws": {"reachable": True, "observed_at": None, "error": None},
                         "kubernetes": {"reachable": True, "observed_at": None, "error": None}},
            "resources": resources,
            "faults": [{"severity": "medium", "resource": "aws/ec2-instance/i-0cfb70dd7a50c2814",
                        "reason": "CpuHigh", "message": "the CPU is above 90% for 15 minutes; see "
                        "https://console.example.com/cloudwatch/home?region=us-east-1#alarm/web-1-cpu-high"}],
            "drifts": [{"resource": "kubernetes/Deployment/web", "field": "image",
                        "desired": {"api": "ghcr.io/acme/api:2.5.0"}, "actual": {"api": "ghcr.io/acme/api:2.4.1"}}]}


def _printed(width: int | None) -> list[str]:
    out = io.StringIO()
    with redirect_stdout(out):
        status_table([_env_json()], width)
    return out.getvalue().splitlines()


def test_status_fits_80_columns_and_is_unchanged_when_piped():
    lines = _printed(80)
    assert lines[0].startswith("staging  health=Degraded") and len(lines[0]) <= 80
    header = next(line for line in lines if line.startswith("ID "))
    assert header.split() == ["ID", "STATUS", "HEALTH", "DRIFT", "FINDINGS"]   # BACKEND/KIND in the ID
    assert any(line.startswith("aws/ec2-instance/i-0cfb70dd7a50c2814 ") for line in lines), lines
    # a long id loses part of its kind, never its name
    assert any(line.startswith("kubernetes/") and "…/api-autoscaler" in line for line in lines), lines
    url = "https://console.example.com/cloudwatch/home?region=us-east-1#alarm/web-1-cpu-high"
    for line in lines:   # folded at spaces: only a word longer than a line (the URL) passes 80
        assert len(line) <= 80 or line.strip() == url, line
    assert any(line.strip() == url for line in lines)
    assert "desired api=ghcr.io/acme/api:2.5.0, actual api=ghcr.io/acme/api:2.4.1" in " ".join(
        " ".join(lines).split())

    piped = _printed(None)
    assert piped[1].split() == ["BACKEND", "KIND", "NAME", "ID", "STATUS", "HEALTH", "DRIFT", "FINDINGS"]
    assert piped[0].endswith("faults=1  [aws ok (-), kubernetes ok (-)]"), piped[0]
    assert piped[2].split() == ["aws", "ec2-instance", "web-1", "aws/ec2-instance/i-0cfb70dd7a50c2814", "running",
                                "Healthy", "-", "0"]
    assert any(line.startswith("  fault medium   aws/ec2-instance/") and line.endswith(url) for line in piped)


def test_summary_keeps_the_leader_when_it_cuts():
    env = _env_json()
    line = summary_lines([env], 80)[1]
    # "repair=propose led by" went first, then the end of the leader's host: user and pid stay
    assert len(line) <= 80 and line.endswith("  alice@ops-bas…:12345"), line
    assert summary_lines([env], 110)[1].endswith(f"1  {env['leader']}")
    assert summary_lines([env], 125)[1].endswith(f"  propose, led by {env['leader']}")
    assert summary_lines([env], 130)[1].endswith(f"  repair=propose led by {env['leader']}")
    whole = summary_lines([env], None)[1]
    assert whole.endswith(f"repair=propose led by {env['leader']}"), whole
    env["leader"] = "a-service-account-with-a-very-long-name@a-host-with-an-even-longer-name.example.com:4242"
    line = summary_lines([env], 80)[1]
    assert len(line) <= 80 and line.startswith("staging ") and line.endswith(":4242"), line
    assert "a-service" in line and "…" in line


def test_audit_lines_keep_words_and_scripts_keep_their_lines():
    now = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    e = {"id": 7, "at": "2026-12-07T14:46:46Z", "user": "a-rather-long-user-name", "env": "production-eu-west",
         "origin": "reconciler", "result": "succeeded", "action": "set-desired-capacity",
         "target": "aws/autoscaling-group/production-eu-west-workers",
         "message": "set-desired-capacity requested for aws/autoscaling-group/production-eu-west-workers "
                    "(desired_capacity: 3)"}
    lines = audit_lines([e], now, 80)
    assert lines[0].startswith("ID TIME") and all(len(line) <= 80 for line in lines), lines
    words = " ".join(lines[1:]).split()
    for word in (e["action"], e["target"], *e["message"].split()):
        assert word in words, (word, lines)   # never cut inside a word
    assert audit_lines([e], now, None) == [audit_line(e, now)]   # piped: no header, one line per row


def test_values_for_people():
    assert shown_value({"api": "ghcr.io/acme/api:2.5.0", "sidecar": "envoy:1.30"}) == \
        "api=ghcr.io/acme/api:2.5.0, sidecar=envoy:1.30"
    assert plain_value({"api": "ghcr.io/acme/api:2.5.0"}) == "api=ghcr.io/acme/api:2.5.0"
    assert shown_value("running") == "'running'" and shown_value(3) == "3" and shown_value(["a", "b"]) == "a, b"
    assert cut_id("aws/ec2-instance/i-0cfb70dd7a50c2814", 30) == "aws/ec2-i…/i-0cfb70dd7a50c2814"
    assert fold_words("load average: 0.31, 0.25", 12) == ["load", "  average:", "  0.31, 0.25"]


def test_xray_folds_a_long_reason_inside_the_tree():
    from tui.cli.xray_cmd import tree_lines
    from tui.core.model import Health
    from tui.core.xray import XrayNode

    reason = "CrashLoopBackOff: back-off 5m0s restarting failed container=api pod=api-54fvjbvv9d-mtpxj_staging"
    node = XrayNode("kubernetes/Pod/api-1", "Pod", "api-1", Health.DEGRADED, Health.DEGRADED, relation="selects",
                    reason=reason)
    leaf = XrayNode("kubernetes/Node/node-1", "Node", "node-1", Health.HEALTHY, Health.HEALTHY, relation="runs on")
    node.children.append(leaf)
    lines = tree_lines([node], width=60)
    assert all(len(line) <= 60 for line in lines) and lines[0].startswith("└── selects: Pod/api-1"), lines
    assert [line.startswith("    │   ") for line in lines[1:-1]] == [True] * (len(lines) - 2), lines
    assert lines[-1] == "    └── runs on: Node/node-1  Healthy", lines
    assert " ".join(" ".join(lines).replace("│", " ").split()).endswith(reason.split()[-1] + " └── runs on: Node/node-1 Healthy")
    assert tree_lines([node]) == [f"└── selects: Pod/api-1  Degraded  — {reason}", lines[-1]]   # piped: whole


def test_diff_lines_break_between_their_parts():
    from tui.cli.table_fit import fold_parts

    parts = ["~ aws/autoscaling-group/workers ", "(staging: aws/autoscaling-group/staging-workers",
             "prod: aws/autoscaling-group/prod-workers)"]
    assert fold_parts(parts, None) == ["  ".join(parts)]   # piped: the one line, as before
    assert fold_parts(parts, 80) == ["~ aws/autoscaling-group/workers",
                                     "    (staging: aws/autoscaling-group/staging-workers",
                                     "    prod: aws/autoscaling-group/prod-workers)"]
