"""Bounds on what a hostile workload or team member can make envdeck read, redact and print.

Audit: rows a member INSERTs by hand with 100 KB params cost `audit` at most PARAMS_MAX
characters each (`--json`, flagged `params_cut`/`params_length`) or PARAMS_SUMMARY (text), and
`--json` is read and printed in batches (the rows of more than one batch all come out, once).

Kubernetes events: a flood of Warning events makes at most FAULTS_PER_OBJECT faults per object
and FAULTS_MAX in all, plus one `EventsNotShown` fault counting the rest; the timeline of one
observation keeps EVENTS_PER_PASS with an `EventsNotShown` row likewise."""

from __future__ import annotations

import json
import sqlite3
import uuid

from backends.kubernetes.events import EVENTS_PER_PASS, FAULTS_MAX, FAULTS_PER_OBJECT, NOT_SHOWN
from tests.helpers import envdeck_inproc as envdeck  # the CLI's main() in this process
from tests.k8s_emulator_server import running_emulator
from tests.kubernetes.support import status_environment
from tests.store.hand_rows import COLUMNS, as_member, audit_args, recorded, repeated
from tui.core.audit_rows import PARAMS_MAX, PARAMS_SUMMARY
from tui.core.redaction import TEXT_MAX, WHOLE_REDACT_MAX, cap_text
from tui.core.store_sqlite import DB_NAME

BIG = 100_000
ROWS = 250  # more than one batch of `audit --json` (AUDIT_JSON_BATCH = 200)


def forge_big_params(any_store, request) -> None:
    """ROWS rows, each with a JSON object of BIG characters as params, INSERTed from outside."""
    numbers = f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS - 1}) "
    as_member(any_store, request, numbers + COLUMNS + "SELECT '2026-12-07T11:41:00Z','root','dev','x','big-' || i,"
              f"'{{\"k\": \"' || {repeated(any_store, 'A', BIG)} || '\"}}','cli','succeeded','m',1 FROM n")


async def test_audit_reads_big_params_cut_and_in_batches(any_store, request, tmp_path):
    await recorded(any_store, "small")
    forge_big_params(any_store, request)
    store = await any_store.open()
    try:  # the text listing's read: long params are left out, not called unreadable
        rows = await store.audit_entries("dev", limit=5, params_max=PARAMS_SUMMARY)
        assert all(r["params_cut"] and r["params_error"] is None and r["params"] == {} for r in rows)
        assert rows[0]["params_length"] == BIG + 9
    finally:
        await store.close()
    args = audit_args(any_store, tmp_path)
    as_json = envdeck("audit", "--json", "--limit", "1000", *args)
    assert as_json.returncode == 0, as_json.stderr
    entries = json.loads(as_json.stdout)["entries"]
    ids = [e["id"] for e in entries]
    assert len(entries) == ROWS + 1 and ids == sorted(set(ids), reverse=True)  # every row once, newest first
    big = [e for e in entries if e["action"].startswith("big-")]
    assert all(e["params_cut"] is True and e["params_length"] == BIG + 9 and e["params"] == {} for e in big)
    assert all(e["params_error"] == f"too long to read ({BIG + 9} characters)" for e in big)
    assert len(as_json.stdout) < ROWS * (PARAMS_MAX // 10)  # only the raw start of each is printed
    [small] = [e for e in entries if e["action"] == "small"]
    assert small["params"] == {"k": "v"} and small["params_cut"] is False
    assert f"{ROWS} audit rows with unreadable params" in as_json.stderr
    limited = json.loads(envdeck("audit", "--json", "--limit", "201", *args).stdout)["entries"]
    assert [e["id"] for e in limited] == ids[:201]
    text = envdeck("audit", "--limit", "1000", *args)
    assert text.returncode == 0, text.stderr
    assert len(text.stdout.splitlines()) == ROWS + 1 and "params unreadable" not in text.stdout


FLOOD_ONE_OBJECT = 300  # Warning events of distinct reasons about one Deployment
FLOOD_OBJECTS = 1_700   # Warning events about as many objects of a kind the inventory does not hold


def test_a_flood_of_warning_events_makes_capped_faults_and_timeline(tmp_path):
    with running_emulator("flood-" + uuid.uuid4().hex) as thread:
        emu = thread.emu
        kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig", context="emulator")
        ns = "flood-" + uuid.uuid4().hex[:6]
        emu.create_deployment(ns, "keep", replicas=1)
        for i in range(FLOOD_ONE_OBJECT):
            emu.add_event(ns, "Deployment", "keep", f"FloodA{i}", "y" * 200)
        for i in range(FLOOD_OBJECTS):
            emu.add_event(ns, "Widget", f"w{i}", "FloodB", "z" * 200)
        env = status_environment(tmp_path, kubeconfig, ns)
    flood = [f for f in env["faults"] if f["reason"].startswith("Flood")]
    on_keep = [f for f in flood if f["reason"].startswith("FloodA")]
    [more] = [f for f in env["faults"] if f["reason"] == NOT_SHOWN]
    assert len(on_keep) <= FAULTS_PER_OBJECT and len(flood) == FAULTS_MAX
    assert more["count"] == FLOOD_ONE_OBJECT + FLOOD_OBJECTS - FAULTS_MAX
    assert more["message"].startswith(f"{more['count']} more events not shown")
    with sqlite3.connect(tmp_path / "state" / DB_NAME) as db:
        rows = db.execute("SELECT reason, count FROM timeline WHERE kind = 'event'").fetchall()
    [left_out] = [count for reason, count in rows if reason == NOT_SHOWN]
    assert len(rows) == EVENTS_PER_PASS + 1  # the emulator's own Normal events count too
    assert left_out >= FLOOD_ONE_OBJECT + FLOOD_OBJECTS - EVENTS_PER_PASS


# cap_text: the context that makes a secret a secret, past the 1,024-character margin
LEAD = "w " * 1_990  # the secret starts just before the cut (TEXT_MAX less the marker)
PAD = " x" * 1_500
FAR_CONTEXT = (LEAD + "echo hunter2SECRET" + " " * 1_500 + "| sudo -S id" + PAD,
               LEAD + "https://user:hunter2SECRET" + "a" * 1_500 + "@host/" + PAD,
               LEAD + '{"password": "hunter2SECRET' + "b" * 2_000 + '", "x": "' + PAD + '"}')


def test_a_cut_text_is_redacted_whole_when_not_too_big():
    for text in FAR_CONTEXT:
        out = cap_text(text)
        assert len(text) > TEXT_MAX and len(out) <= TEXT_MAX and out.endswith(f"… (cut: {len(text)} characters)")
        assert "hunter2" not in out, out[:80]


def test_past_the_whole_redaction_bound_the_word_at_the_cut_is_left_out():
    """A text over WHOLE_REDACT_MAX: the margin only, and the word across the cut is not shown half."""
    for head in ("w " * 1_400, "w " * 1_400 + "a" * 1_200):  # the URL across the cut, or ending at it
        text = head + "https://user:hunter2SECRET" + "a" * 3_000 + "@host/ " + "z" * WHOLE_REDACT_MAX
        out = cap_text(text)
        assert len(out) <= TEXT_MAX and out.endswith(f"… (cut: {len(text)} characters)")
        assert "hunter2" not in out and "https" not in out
