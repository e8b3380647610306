"""The compliance score: the share of ASSESSED resources without a finding, and its one text.

A resource counts only when a compliance rule looked at it (`Resource.assessed`: a workload's pod
template, an ownerless pod, an S3 bucket, a reachable edge host...). A ConfigMap, or a pod whose
template is judged on its Deployment, is neither compliant nor not: counting it let anyone who can
create cheap objects dilute real findings (5,000 ConfigMaps turned 73% into "100%").

The percentage is rounded DOWN to 0.1 and never reaches 100 while one assessed resource has a
finding (at most 99.9): every place that shows the score (overview, header, Compliance view,
`envdeck status`, the demo's summary) formats it here, so they all say the same.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_SCORE = "—"
MAX_WITH_FINDINGS_TENTHS = 999  # 99.9%
# The Compliance view's hint line: an 80-column terminal less the hint's padding of one column a side.
HINT_WIDTH = 78


@dataclass(frozen=True, slots=True)
class ComplianceScore:
    """How many resources a rule assessed, and how many of those have no finding."""

    assessed: int
    clean: int

    @property
    def percent(self) -> float | None:
        """0-100 rounded down to 0.1, at most 99.9 while a finding exists; None: nothing assessed."""
        return score_percent(self.clean, self.assessed)

    def text(self) -> str:
        """`97.3%`, `100%`, or `—` when no resource was assessed."""
        return format_score(self.percent)

    def detail(self) -> str:
        """What the score counts: `1,093 of 1,123`."""
        return f"{self.clean:,} of {self.assessed:,}"

    def hint(self, findings: int, width: int = HINT_WIDTH) -> str:
        """The Compliance view's line, on one line of `width` columns while the numbers allow:
        `3 finding(s) · compliance 88.8% · 8 of 9 assessed resources without a finding`; with larger
        counts `… · 1,093 of 1,123 assessed without a finding`, then `… assessed clean`. The longest
        wording that fits wins; none fits only with counts in the billions: the shortest is shown."""
        head = f"{findings:,} finding(s) · compliance {self.text()} · {self.detail()} assessed"
        wordings = (f"{head} resources without a finding", f"{head} without a finding", f"{head} clean")
        return next((w for w in wordings if len(w) <= width), wordings[-1])


def score_percent(clean: int, assessed: int) -> float | None:
    if assessed <= 0:
        return None
    clean = max(0, min(clean, assessed))
    tenths = 1000 * clean // assessed  # integers: no float rounding up to 100
    if clean < assessed:
        tenths = min(tenths, MAX_WITH_FINDINGS_TENTHS)
    return tenths / 10


def format_score(percent: float | None) -> str:
    """The score's text: one decimal (`97.3%`, `99.9%`, `0.0%`), `100%` only for no finding at all,
    `—` for no score. A value from elsewhere (the JSON of `status --json`) is floored again and kept
    below 100 unless it is exactly 100, so no caller can print a rounded-up `100%`."""
    if percent is None:
        return NO_SCORE
    if percent >= 100.0:
        return "100%"
    tenths = min(int(max(percent, 0.0) * 10 + 1e-9), MAX_WITH_FINDINGS_TENTHS)
    return f"{tenths // 10}.{tenths % 10}%"
