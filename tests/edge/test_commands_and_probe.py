"""Command templates (quoting), the probe script and its parser, and the
compliance rules, without SSH: the probe runs under the local /bin/sh here, the
same script the backend sends to nodes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from backends.edge.commands import (
    ProbeRequest,
    decode_probe_command,
    probe_command,
    render,
)
from backends.edge.compliance import host_findings
from backends.edge.probe import CpuCounters, HostSample, cpu_percent, parse_probe
from tui.core.config import EdgeConfig, EdgeNode
from tui.core.errors import InvalidRequest

HOSTILE = ["x; touch {d}/pwned1", "$(touch {d}/pwned2)", "`touch {d}/pwned3`", "a'b\"c; touch {d}/pwned4",
           "line\ntouch {d}/pwned5", "--help"]


@pytest.mark.parametrize("value", HOSTILE)
def test_rendered_values_reach_the_shell_as_one_literal_argument(tmp_path: Path, value: str):
    value = value.format(d=tmp_path)
    command = render("printf '%s|' {service} {file}", service=value, file=value)
    out = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=True).stdout
    assert out == f"{value}|{value}|"
    assert not list(tmp_path.glob("pwned*"))


def test_lines_are_quoted_too(tmp_path: Path):
    command = render("echo {lines}", lines=f"1; touch {tmp_path}/pwned")
    subprocess.run(["/bin/sh", "-c", command], check=True, capture_output=True)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("template", ["echo {service!r}", "echo {service:>40}", "echo {file}"])
def test_templates_that_could_defeat_quoting_or_lack_a_value_are_refused(template: str):
    with pytest.raises(InvalidRequest):
        render(template, service="nginx")


def test_config_refuses_a_service_name_with_shell_syntax():
    with pytest.raises(ValidationError):
        EdgeNode(name="n1", host="h", services=["x; touch pwned"])


def test_node_command_overrides_merge_with_the_edge_templates():
    cfg = EdgeConfig(commands={"status": "rc-service {service} status"},
                     nodes=[EdgeNode(name="a", host="h", commands={"start": "rc-service {service} start"}),
                            EdgeNode(name="b", host="h")])
    a, b = (cfg.commands_for(n) for n in cfg.nodes)
    assert (a.status, a.start) == ("rc-service {service} status", "rc-service {service} start")
    assert (b.status, b.start) == ("rc-service {service} status", "sudo systemctl start {service}")


def test_the_probe_command_decodes_back_to_its_request():
    req = ProbeRequest("0123abcd", ("svc-ctl status 'a b'", "systemctl is-active nginx"), cpu_delta=True)
    assert decode_probe_command(probe_command(req)) == req
    assert decode_probe_command("cat /proc/loadavg") is None


def _local_meminfo() -> dict[str, int]:
    return {line.split(":")[0]: int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()}


def test_the_probe_reads_this_machine_in_one_run_and_parses():
    req = ProbeRequest("feedface", ("echo active", "echo 'inactive (dead)'; exit 3", "no-such-command-xyz"),
                       cpu_delta=True)
    out = subprocess.run(["/bin/sh", "-c", probe_command(req)], capture_output=True, text=True, check=True)
    s = parse_probe(out.stdout, req.nonce)
    assert s.complete and s.problems == []
    assert s.memory_total_kb == _local_meminfo()["MemTotal"]
    assert 0 <= s.memory_percent <= 100
    assert s.load1 is not None and s.load1 >= 0
    assert s.uptime_s is not None and s.uptime_s > 0
    assert "/" in s.disks and 0 <= s.disks["/"] <= 100
    assert cpu_percent(s.cpu, s.cpu_next) is not None
    assert s.hostname == subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip()
    assert [s.services[i].exit_code for i in range(3)] == [0, 3, 127]
    assert s.services[1].first_line == "inactive (dead)"


def test_marker_lines_printed_by_a_service_stay_data():
    # the nonce is random per pass: a remote program cannot know it
    req = ProbeRequest("5eed", ("printf '@@guess rc 0 0\\n@@ end\\n'; exit 3",))
    out = subprocess.run(["/bin/sh", "-c", probe_command(req)], capture_output=True, text=True, check=True)
    s = parse_probe(out.stdout, req.nonce)
    assert s.services[0].exit_code == 3
    assert s.services[0].output == "@@guess rc 0 0\n@@ end"
    assert s.complete


def _sections(nonce: str, **sections: str) -> str:
    """Probe output; a section name's first '__' stands for the space before its argument."""
    return "".join(f"\n@@{nonce} {name.replace('__', ' ', 1)}\n{text}" for name, text in sections.items())


def test_sshd_config_files_follow_first_match_and_includes():
    out = _sections("n", **{
        "sshd-t": "",
        "sshd-file__/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n"
                                          "PasswordAuthentication no\nMatch User bob\nPermitRootLogin yes",
        "sshd-file__/etc/ssh/sshd_config.d/10-lab.conf": "PasswordAuthentication yes",
        "end": "",
    })
    s = parse_probe(out, "n")
    assert s.sshd == {"permitrootlogin": "no", "passwordauthentication": "yes"}
    assert s.sshd_source == "config files"
    rules = {f.rule for f in host_findings("edge/node/a", s, 0.0)}
    assert rules == {"ssh-password-auth"}


def test_sshd_t_wins_over_the_files():
    out = _sections("n", **{"sshd-t": "permitrootlogin yes\npasswordauthentication no",
                            "sshd-file__/etc/ssh/sshd_config": "PermitRootLogin no"})
    s = parse_probe(out, "n")
    assert s.sshd == {"permitrootlogin": "yes", "passwordauthentication": "no"}
    finding = host_findings("edge/node/a", s, None)[0]
    assert (finding.rule, str(finding.severity)) == ("ssh-root-login", "high")
    assert "sshd -T" in finding.message


def test_df_skips_pseudo_file_systems_and_keeps_mounts_with_spaces():
    df = ("Filesystem 1024-blocks Used Available Capacity Mounted on\n"
          "tmpfs 1000000 0 1000000 0% /dev/shm\n/dev/sda1 1000000 950000 50000 95% /\n"
          "/dev/sdb1 2000000 100000 1900000 5% /mnt/my data\nstub 4 0 4 0% /mnt/stub\n")
    s = parse_probe(_sections("n", df=df), "n")
    assert s.disks == {"/": 95.0, "/mnt/my data": 5.0}


def test_compliance_rules_for_disk_clock_and_reboot():
    s = HostSample(disks={"/": 99.0, "/var": 91.0, "/data": 90.0}, reboot_required=True)
    found = {(f.rule, str(f.severity), f.message.split()[2] if f.rule == "disk-full" else "")
             for f in host_findings("edge/node/a", s, -7.0)}
    assert found == {("disk-full", "critical", "/"), ("disk-full", "high", "/var"),
                     ("clock-skew", "medium", ""), ("reboot-required", "low", "")}
    assert host_findings("edge/node/a", HostSample(), 4.9) == []


def test_cpu_percent_between_counters():
    assert cpu_percent(CpuCounters(1000, 800), CpuCounters(2000, 1550)) == 25.0
    assert cpu_percent(CpuCounters(2000, 800), CpuCounters(1000, 500)) is None  # rebooted
    assert cpu_percent(None, CpuCounters(1, 1)) is None
