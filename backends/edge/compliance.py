"""Host compliance rules, evaluated on the probe sample (no extra round trip).

Rule ids (stable, part of the JSON contract): ssh-root-login, ssh-password-auth,
disk-full, clock-skew, reboot-required.
"""

from __future__ import annotations

from backends.edge.probe import HostSample
from tui.core.model import Finding, Severity

DISK_FULL_PERCENT = 90.0
CLOCK_SKEW_S = 5.0


def host_controls(sample: HostSample, clock_skew_s: float | None) -> tuple[str, ...]:
    """The rules `host_findings` evaluates on this sample (sshd's only when its config was read,
    the clock's only when the skew was measured)."""
    return ((("ssh-root-login", "ssh-password-auth") if sample.sshd else ()) + ("disk-full",)
            + (("clock-skew",) if clock_skew_s is not None else ()) + ("reboot-required",))


def host_findings(resource: str, sample: HostSample, clock_skew_s: float | None) -> list[Finding]:
    findings: list[Finding] = []
    where = sample.sshd_source or "sshd"
    root = sample.sshd.get("permitrootlogin")
    if root == "yes":
        findings.append(Finding("ssh-root-login", Severity.HIGH,
                                f"sshd permits root login with a password (PermitRootLogin yes, from {where})",
                                resource))
    elif root in ("prohibit-password", "forced-commands-only"):
        findings.append(Finding("ssh-root-login", Severity.LOW,
                                f"sshd permits root login with a key (PermitRootLogin {root}, from {where})",
                                resource))
    if sample.sshd.get("passwordauthentication") == "yes":
        findings.append(Finding("ssh-password-auth", Severity.MEDIUM,
                                f"sshd accepts password authentication (PasswordAuthentication yes, from {where})",
                                resource))
    for mount, used in sorted(sample.disks.items()):
        if used > DISK_FULL_PERCENT:
            severity = Severity.CRITICAL if used >= 98.0 else Severity.HIGH
            findings.append(Finding("disk-full", severity,
                                    f"file system {mount} is {used:.0f}% full (limit {DISK_FULL_PERCENT:.0f}%)",
                                    resource))
    if clock_skew_s is not None and abs(clock_skew_s) > CLOCK_SKEW_S:
        ahead = "ahead of" if clock_skew_s > 0 else "behind"
        findings.append(Finding("clock-skew", Severity.MEDIUM,
                                f"clock is {abs(clock_skew_s):.0f} s {ahead} this machine "
                                f"(limit {CLOCK_SKEW_S:.0f} s)", resource))
    if sample.reboot_required:
        findings.append(Finding("reboot-required", Severity.LOW,
                                "a reboot is pending (/var/run/reboot-required exists)", resource))
    return findings
