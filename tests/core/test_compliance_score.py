"""The compliance score's rule and its one text: rounded down to 0.1, never 100% while a finding
exists, only assessed resources counted (tui/core/compliance_score.py, EnvState.compliance)."""

from __future__ import annotations

import pytest

from tui.core.compliance_score import ComplianceScore, format_score, score_percent
from tui.core.env_state import EnvState
from tui.core.model import Finding, Resource, Severity


@pytest.mark.parametrize("clean, assessed, percent, text", [
    (1093, 1123, 97.3, "97.3%"),      # 97.328...
    (2, 3, 66.6, "66.6%"),            # 66.66..., not 66.7
    (4999, 5000, 99.9, "99.9%"),      # 99.98: rounded to 100.0 before
    (99_999, 100_000, 99.9, "99.9%"),
    (5000, 5000, 100.0, "100%"),
    (0, 7, 0.0, "0.0%"),
    (0, 0, None, "—"),
])
def test_score_is_rounded_down_and_below_100_with_a_finding(clean, assessed, percent, text):
    score = ComplianceScore(assessed, clean)
    assert score.percent == percent == score_percent(clean, assessed)
    assert score.text() == text == format_score(percent)


@pytest.mark.parametrize("value, text", [(99.96, "99.9%"), (99.6, "99.6%"), (73.0, "73.0%"), (100.0, "100%")])
def test_format_never_rounds_a_reported_value_up(value, text):
    assert format_score(value) == text


def _res(i: int, *, assessed: bool, finding: bool = False) -> Resource:
    rid = f"kubernetes/ConfigMap/c{i}"
    return Resource(id=rid, backend="kubernetes", kind="ConfigMap", name=f"c{i}", assessed=assessed,
                    findings=[Finding("k8s-no-limits", Severity.MEDIUM, "no limits", rid)] if finding else [])


def test_unassessed_resources_do_not_count_and_30_findings_never_read_100():
    resources = [_res(i, assessed=True, finding=i < 30) for i in range(110)]  # 80 of 110 clean
    resources += [_res(1000 + i, assessed=False) for i in range(5000)]
    state = EnvState(name="staging", repair="observe", resources={"kubernetes": {r.id: r for r in resources}})
    assert (state.compliance().assessed, state.compliance().clean) == (110, 80)
    assert state.compliance_score() == 72.7
    assert state.compliance().detail() == "80 of 110"
    data = state.to_json(include_resources=False)
    assert (data["compliance_score"], data["compliance_assessed"], data["compliance_clean"]) == (72.7, 110, 80)


def test_a_finding_counts_as_assessed_and_a_stored_row_keeps_the_flag():
    with_finding = _res(1, assessed=False, finding=True)
    state = EnvState(name="e", repair="observe", resources={"kubernetes": {with_finding.id: with_finding}})
    assert state.compliance_score() == 0.0
    clean = _res(2, assessed=True)
    assert Resource.from_json(clean.to_json()).assessed is True
    assert Resource.from_json(_res(3, assessed=False).to_json()).assessed is False
    old_row = with_finding.to_json()
    del old_row["assessed"]  # stored before the flag: its findings show it was assessed
    assert Resource.from_json(old_row).assessed is True
