"""The compliance score: the share of CONTROLS that pass, and its one text.

A control is a compliance rule (`k8s-privileged`, `s3-encryption`, `ssh-root-login`, ...). It is
evaluated in an environment when a backend evaluated it on at least one resource there
(`Resource.controls`), and it passes when none of those resources has a finding of it: AWS
Security Hub's score (passed controls / controls with data). Counting resources instead let anyone
who can create cheap compliant objects inflate it: 3,000 bare compliant pods lifted 58.8% to 98.8%
(breaker finding, session 11); a thousand compliant pods pass no more controls than one. The
resources a rule assessed, and those of them without a finding, are still counted and shown
beside it (`1,093 of 1,123 resources clean`).

The percentage is rounded DOWN to 0.1 and never reaches 100 while one control fails (at most
99.9): every place that shows the score (overview, header, Compliance view, `envdeck status`, the
demo's summary) formats it here, so they all say the same.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_SCORE = "—"
MAX_WITH_FINDINGS_TENTHS = 999  # 99.9%
# The Compliance view's hint line: an 80-column terminal less the hint's padding of one column a side.
HINT_WIDTH = 78


@dataclass(frozen=True, slots=True)
class ComplianceScore:
    """How many controls were evaluated and how many of them fail; how many resources a rule
    assessed, and how many of those have no finding."""

    assessed: int
    clean: int
    controls: int = 0
    failing: int = 0

    @property
    def passing(self) -> int:
        return max(0, self.controls - self.failing)

    @property
    def percent(self) -> float | None:
        """0-100 rounded down to 0.1, at most 99.9 while a control fails; None: none evaluated."""
        return score_percent(self.passing, self.controls)

    def text(self) -> str:
        """`97.3%`, `100%`, or `—` when no control was evaluated."""
        return format_score(self.percent)

    def detail(self) -> str:
        """What the score counts: `5 of 7 controls pass`."""
        return f"{self.passing:,} of {self.controls:,} controls pass"

    def hint(self, findings: int, width: int = HINT_WIDTH) -> str:
        """The Compliance view's line, on one line of `width` columns while the numbers allow:
        `3 finding(s) · compliance 71.4% · 5 of 7 controls pass · 8 of 9 resources clean`; with
        larger counts the resources' part goes, then `pass`. The longest wording that fits wins."""
        head = f"{findings:,} finding(s) · compliance {self.text()} · {self.passing:,} of {self.controls:,} controls"
        wordings = (f"{head} pass · {self.clean:,} of {self.assessed:,} resources clean",
                    f"{head} pass · {self.clean:,} of {self.assessed:,} clean", f"{head} pass", head)
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
