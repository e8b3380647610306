"""A workload's text of megabytes (an Event's message, a condition's message) is capped where
the Kubernetes backend reads it: TEXT_MAX characters at most, `… (cut: N characters)` at its
end, redacted before it is cut (a secret across the cut is hidden whole), and redacted once per
distinct text, not once per place it passes (store, feed, screens). Against the Kubernetes API
emulator; `envdeck status --json` for the stored timeline rows and the faults shown."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from tests.k8s_emulator_server import running_emulator
from tests.kubernetes.support import NS, by_id, eventually, status_environment
from tui.core import redaction
from tui.core.redaction import REDACT_MARGIN, TEXT_MAX

BIG = 3_000_000
# an AWS secret key's shape (40 characters, upper, lower, digits): redacted only when seen whole
SECRET = "wJalrXUtnFEMI7K7MDENGbPxRfiCYq3ZX9Kab5Qz"


def straddling(marker: str) -> str:
    """A message of BIG characters with SECRET across the place cap_text cuts it."""
    cut = TEXT_MAX - len(f"… (cut: {BIG} characters)")
    head = (marker + " ") + "x" * (cut - 20 - len(marker) - 2) + " "
    text = head + SECRET + " " + "Z" * BIG
    return text[:BIG]


def assert_capped(text: str, what: str) -> None:
    assert len(text) <= TEXT_MAX, f"{what}: {len(text)} characters kept"
    assert text.endswith(f"… (cut: {BIG} characters)"), f"{what}: no cut marker: …{text[-60:]!r}"
    assert not any(SECRET[i:i + 8] in text for i in range(len(SECRET) - 7)), f"{what}: part of the secret kept"


async def test_a_big_condition_message_and_event_are_capped_redacted_whole(emulator, backend):
    emulator.create_deployment(NS, "worker", replicas=1)
    emulator.set_deployment_condition(NS, "worker", "Progressing", "False", reason="ProgressDeadlineExceeded",
                                      message=straddling("condition"))
    emulator.add_event(NS, "Deployment", "worker", "BigaN", straddling("event"))

    async def observed():
        obs = await backend.observe()
        worker = by_id(obs).get("kubernetes/Deployment/worker")
        faults = {f.reason: f for f in obs.faults if f.resource == "kubernetes/Deployment/worker"} \
            if worker is not None else {}
        return (worker, faults) if {"ProgressDeadlineExceeded", "BigaN"} <= set(faults) else None

    worker, faults = await eventually(observed, "the worker's condition and event faults")
    [progressing] = [c for c in worker.attributes["conditions"] if c["type"] == "Progressing"]
    assert_capped(progressing["message"], "condition message")
    assert progressing["message"].startswith("condition xxx")
    assert_capped(faults["ProgressDeadlineExceeded"].message, "condition fault")
    assert_capped(faults["BigaN"].message, "event fault")
    assert faults["BigaN"].message.startswith("event xxx")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with running_emulator("bigtext-" + uuid.uuid4().hex) as thread:
        yield thread.emu, thread.emu.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig",
                                                      context="emulator")


def test_big_events_are_stored_and_shown_capped_and_redacted_once(cloud, tmp_path, monkeypatch):
    emu, kubeconfig = cloud
    ns = "big-" + uuid.uuid4().hex[:6]
    emu.create_deployment(ns, "keep", replicas=1)
    tags = [f"big{i}-{uuid.uuid4().hex[:8]}" for i in range(3)]
    for i, tag in enumerate(tags):
        emu.add_event(ns, "Deployment", "keep", f"BigaN{i}", straddling(tag))

    redacted: list[int] = []  # the length of every text redacted that holds one of the messages
    real = redaction._redact

    def counting(text: str, extra):
        if any(tag in text for tag in tags):
            redacted.append(len(text))
        return real(text, extra)

    monkeypatch.setattr(redaction, "_redact", counting)
    env = status_environment(tmp_path, kubeconfig, ns)
    shown = {f["reason"]: f["message"] for f in env["faults"]}
    for i, tag in enumerate(tags):
        assert_capped(shown[f"BigaN{i}"], f"fault {i} in status --json")
        assert shown[f"BigaN{i}"].startswith(tag)

    with sqlite3.connect(tmp_path / "state" / "envdeck.db") as db:
        rows = db.execute("SELECT reason, message FROM timeline WHERE reason LIKE 'BigaN%'").fetchall()
    assert {reason for reason, _ in rows} == {f"BigaN{i}" for i in range(3)}, rows
    for reason, message in rows:
        assert_capped(message, f"stored timeline row {reason}")

    # each message: its kept piece (plus the margin) once as it was read, the capped text once
    # after that (the store's and the published entry's redaction of it are one)
    assert max(redacted) <= TEXT_MAX + REDACT_MARGIN, f"a text of {max(redacted)} characters was redacted"
    assert len(redacted) <= 2 * len(tags), f"{len(redacted)} redactions for {len(tags)} messages"


def test_remembered_answers_follow_the_operators_patterns(monkeypatch):
    """redact_text remembers answers per text and per set of operator patterns: a pattern
    configured (or restored, as the in-process CLI helper does) after a text was redacted counts."""
    text = f"build {uuid.uuid4().hex[:6]}-ticket-12345 done"
    assert redaction.redact_text(text) == text
    monkeypatch.setattr(redaction, "_extra", redaction.compile_patterns([r"ticket-\d+"]))
    assert redaction.redact_text(text) == text.replace("ticket-12345", "***")
    monkeypatch.setattr(redaction, "_extra", ())
    assert redaction.redact_text(text) == text
