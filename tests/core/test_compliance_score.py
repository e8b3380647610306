"""The compliance score's rule and its one text: the share of controls (rules) that pass, rounded
down to 0.1, never 100% while one fails, only what a rule assessed counted, and not inflatable by
creating compliant objects (tui/core/compliance_score.py, EnvState.compliance)."""

from __future__ import annotations

import pytest

from backends.kubernetes.compliance import controls_for
from tui.core.compliance_score import ComplianceScore, format_score, score_percent
from tui.core.env_state import EnvState
from tui.core.model import Finding, Resource, Severity


@pytest.mark.parametrize("passing, controls, percent, text", [
    (1093, 1123, 97.3, "97.3%"),      # 97.328...
    (2, 3, 66.6, "66.6%"),            # 66.66..., not 66.7
    (4999, 5000, 99.9, "99.9%"),      # 99.98: rounded to 100.0 before
    (99_999, 100_000, 99.9, "99.9%"),
    (5000, 5000, 100.0, "100%"),
    (0, 7, 0.0, "0.0%"),
    (0, 0, None, "—"),
])
def test_score_is_rounded_down_and_below_100_with_a_failing_control(passing, controls, percent, text):
    score = ComplianceScore(assessed=controls, clean=passing, controls=controls, failing=controls - passing)
    assert score.percent == percent == score_percent(passing, controls)
    assert score.text() == text == format_score(percent)


@pytest.mark.parametrize("value, text", [(99.96, "99.9%"), (99.6, "99.6%"), (73.0, "73.0%"), (100.0, "100%")])
def test_format_never_rounds_a_reported_value_up(value, text):
    assert format_score(value) == text


def _pod(i: int, *, rules: tuple[str, ...] = ()) -> Resource:
    """A bare pod as the kubernetes backend makes it: every pod-spec control evaluated, a finding per rule broken."""
    rid = f"kubernetes/Pod/p{i}"
    return Resource(id=rid, backend="kubernetes", kind="Pod", name=f"p{i}", assessed=True,
                    controls=controls_for("Pod"),
                    findings=[Finding(rule, Severity.MEDIUM, f"breaks {rule}", rid) for rule in rules])


def _state(resources: list[Resource]) -> EnvState:
    return EnvState(name="staging", repair="observe", resources={"kubernetes": {r.id: r for r in resources}})


def test_compliant_objects_do_not_inflate_the_score():
    """Breaker finding, session 11: 3,000 bare compliant pods lifted 58.8% to 98.8% (the score counted
    resources). Controls: the two rules the bad pods break fail however many pods pass them."""
    bad = [_pod(i, rules=("k8s-no-limits", "k8s-image-latest")) for i in range(5)]
    controls = len(controls_for("Pod"))  # 7
    before = _state(bad).compliance()
    assert (before.controls, before.failing, before.passing) == (controls, 2, controls - 2)
    assert before.percent == 71.4 and before.detail() == "5 of 7 controls pass"
    after = _state(bad + [_pod(100 + i) for i in range(3000)]).compliance()
    assert after.percent == before.percent == 71.4
    assert (after.assessed, after.clean) == (3005, 3000)  # the resources are still counted, and shown


def test_unassessed_resources_do_not_count_and_one_failing_control_never_reads_100():
    configmaps = [Resource(id=f"kubernetes/ConfigMap/c{i}", backend="kubernetes", kind="ConfigMap", name=f"c{i}")
                  for i in range(5000)]
    state = _state([_pod(1, rules=("k8s-no-readiness-probe",)), *(_pod(10 + i) for i in range(500)), *configmaps])
    score = state.compliance()
    assert (score.assessed, score.clean, score.controls, score.failing) == (501, 500, 7, 1)
    assert state.compliance_score() == 85.7
    data = state.to_json(include_resources=False)
    assert (data["compliance_score"], data["compliance_assessed"], data["compliance_clean"],
            data["compliance_controls"], data["compliance_controls_failing"]) == (85.7, 501, 500, 7, 1)


def test_a_finding_counts_as_an_evaluated_control_and_a_stored_row_keeps_them():
    rid = "kubernetes/ConfigMap/c1"
    with_finding = Resource(id=rid, backend="kubernetes", kind="ConfigMap", name="c1",
                            findings=[Finding("k8s-no-limits", Severity.MEDIUM, "no limits", rid)])
    assert _state([with_finding]).compliance_score() == 0.0  # one control, failing
    pod = _pod(2)
    again = Resource.from_json(pod.to_json())
    assert again.assessed is True and again.controls == controls_for("Pod")
    old_row = with_finding.to_json()
    del old_row["assessed"], old_row["controls"]  # stored before both: its findings tell
    old = Resource.from_json(old_row)
    assert old.assessed is True and old.controls == ("k8s-no-limits",)
