"""Start-up: building the command line imports nothing heavy, and `bench.startup --quick`
runs. No timings asserted (bench/startup.py measures and records them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.bench.test_bench_quick import run_bench

ROOT = Path(__file__).resolve().parents[2]
# What a verb's handler imports when it runs; never while the parser is built
# (`envdeck --version`, `--help`, and every verb before its handler).
HEAVY = ("pydantic", "textual", "asyncssh", "boto3", "botocore", "kubernetes", "yaml", "aiosqlite",
         "psycopg", "aiohttp", "rich", "tui.core.config", "tui.core.session", "backends.registry",
         "tui.core.model", "tui.core.compare")  # diff --help lists the compared fields only when shown


def test_building_the_parser_imports_nothing_heavy():
    code = ("import json, sys\nfrom tui.cli import build_parser\nbuild_parser()\n"
            "print(json.dumps(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    heavy = sorted({m for m in loaded for h in HEAVY if m == h or m.startswith(h + ".")})
    assert heavy == [], f"the parser imports {heavy}: move the verb's add_*_parser to a light module"


# What `envdeck run` imports only once its nodes' connections have started (tui/cli/fleet.py):
# the session, the store and what they bring, loaded while the SSH handshakes go on.
AFTER_CONNECTING = ("tui.core.session", "tui.core.store", "tui.core.reconciler", "aiosqlite", "psycopg",
                    "tui.core.lifecycle.engine", "tui.core.promote", "tui.core.logsetup", "tui.cli.commands",
                    "textual", "boto3", "botocore", "kubernetes")


def test_the_run_handler_leaves_the_session_for_after_connecting():
    code = "import json, sys\nimport tui.cli.fleet\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    early = sorted({m for m in loaded for h in AFTER_CONNECTING if m == h or m.startswith(h + ".")})
    assert early == [], f"`run` imports {early} before it starts connecting: import them where they are used"
    assert "tui.cli.fleet" in loaded


def test_diff_help_still_lists_every_compared_field():
    from tui.core.compare.fields import FIELD_NAMES

    proc = subprocess.run([sys.executable, "-m", "tui.cli", "diff", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "1000"})
    assert proc.returncode == 0, proc.stderr
    assert f"(repeatable): {', '.join(FIELD_NAMES)}, or a path like image[sidecar]" in proc.stdout, proc.stdout


def test_version_prints_without_importing_the_handlers():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tui.cli", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0 and proc.stdout.startswith("envdeck "), proc.stdout + proc.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "tui.cli" in imported
    assert not imported & {"asyncio", "pydantic", "asyncssh", "textual", "tui.core.session"}, sorted(imported)


def test_startup_bench_quick(tmp_path):
    doc = run_bench("startup", tmp_path)
    res = doc["results"]
    assert {"p50_s", "cpu_p50_s", "python_floor_p50_s"} <= set(res["version"])
    assert res["imports_parser"]["modules"] > 0 and res["imports_run"]["heaviest"]
    dead = res["status_dead"]
    assert set(dead) == {"edge_silent", "edge_refused"}
    for case in dead.values():  # the dead node is reported unreachable (exit 1), not a traceback
        assert case["exit"] == 1 and case["reachable"] == [False], case
        assert {"start_s", "command_s", "exit_s", "after_start_s"} <= set(case)
    run = res["run_vs_xargs"]
    if "skipped" not in run:
        assert run["ok"] == run["total"] and run["ratio_p50"] > 0
    assert "envdeck --version < 150 ms" in doc["goals"]
