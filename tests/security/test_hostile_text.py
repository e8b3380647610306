"""Hostile text: Rich markup, ANSI CSI, OSC 52 clipboard writes, OSC 0 titles, bidi
controls, NUL, C1 controls, DEL, 1 MB lines and invalid UTF-8, placed in resource names
and tags (moto EC2), log lines (moto CloudWatch Logs), command output (sshd) and config
values. On a terminal (a real pty, so isatty() is true) the CLI writes none of their
control characters; JSON output escapes them; the store keeps the raw data.

EC2 speaks XML, which cannot carry C0 controls (moto answers unparseable XML; real AWS
refuses them), so names get the markup/bidi/C1/DEL part of the corpus and the JSON
services (CloudWatch Logs) and SSH output get all of it.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.aws.arrange import instance
from tests.helpers import envdeck
from tests.security.access_setup import write_config
from tests.terminal import BIDI, CONTROL_CHARS, envdeck_on_pty, outside_controls
from tui.core.store import Store

CORPUS = {
    "markup": "[bold red]BOLD[/bold red]",
    "link": "[link=http://phish.example]CLICK[/link]",
    "unbalanced": "unbalanced [ [/] ]x",
    "csi": "\x1b[31mRED\x1b[0m",
    "osc52": "\x1b]52;c;ZXZpbA==\x07",
    "osc0": "\x1b]0;PWNED-TITLE\x07",
    "bidi": "abc\u202edcba\u2066x",
    "nul": "nul\x00byte",
    "c1": "c1\u009b31mX",
    "del": "del\x7fX",
}
XML_SAFE = ["markup", "link", "unbalanced", "bidi", "c1", "del"]
BIG = "big-" + "x" * 1_000_000


def aws_env(url: str) -> dict:
    return {"aws": {"region": "us-east-1", "endpoint_url": url, "tags": {"env": "dev"}}}


def assert_no_raw_controls(text: str) -> None:
    assert not [c for c in text if c in CONTROL_CHARS - {"\n"} or c in BIDI], "raw control characters"


async def test_resource_names_and_tags(tmp_path, aws, moto_url):
    ids = {key: instance(aws, "dev", CORPUS[key], note=CORPUS[key]) for key in XML_SAFE}
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": aws_env(moto_url)})
    state = tmp_path / "state"

    shown = envdeck_on_pty("status", "--config", str(cfg), "--state-dir", str(state))
    assert shown.returncode == 0, shown.text[-2000:]
    assert outside_controls(shown.text) == []
    for visible in ("[bold red]BOLD[/bold red]", "[link=http://phish.example]CLICK[/link]", "unbalanced [ [/] ]x",
                    "c1\\u009b31mX", "del␡X", "abc\\u202edcba"):
        assert visible in shown.text, f"{visible!r} is shown literally"

    piped = envdeck("status", "--config", str(cfg), "--state-dir", str(state))  # `status | less -R`, a tee'd file
    assert piped.returncode == 0, piped.stderr
    assert_no_raw_controls(piped.stdout)
    assert "[bold red]BOLD[/bold red]" in piped.stdout

    proc = envdeck("status", "--json", "--config", str(cfg), "--state-dir", str(state))
    assert proc.returncode == 0, proc.stderr
    assert_no_raw_controls(proc.stdout)
    [env] = json.loads(proc.stdout)["environments"]
    by_id = {r["id"]: r for r in env["resources"]}
    for key, iid in ids.items():
        resource = by_id[f"aws/ec2-instance/{iid}"]
        assert resource["name"] == CORPUS[key], "JSON carries the exact text"
        assert resource["attributes"]["tags"]["note"] == CORPUS[key]

    store = await Store.open(state)
    try:
        stored = {r.id: r for r in (await store.load_snapshot("dev"))["aws"]}
    finally:
        await store.close()
    for key, iid in ids.items():
        assert stored[f"aws/ec2-instance/{iid}"].name == CORPUS[key], "the store keeps the raw data"


def test_log_lines(tmp_path, aws, moto_url):
    logs = aws("logs")
    logs.create_log_group(logGroupName="app", tags={"env": "dev"})  # dev's group (a tag alone is not enough)
    logs.create_log_stream(logGroupName="app", logStreamName="web")
    now = int(time.time() * 1000)
    lines = list(CORPUS.values()) + [BIG]
    logs.put_log_events(logGroupName="app", logStreamName="web", logEvents=[
        {"timestamp": now + i, "message": text} for i, text in enumerate(lines)])
    iid = instance(aws, "dev", "web-1", **{"envdeck:log-group": "app"})
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": aws_env(moto_url)})
    args = ["logs", "dev", f"aws/ec2-instance/{iid}", "--tail", "50", "--config", str(cfg),
            "--state-dir", str(tmp_path / "state")]

    shown = envdeck_on_pty(*args)
    assert shown.returncode == 0, shown.text[-2000:]
    assert outside_controls(shown.text) == []
    for visible in ("␛[31mRED␛[0m", "␛]52;c;ZXZpbA==^G", "␛]0;PWNED-TITLE^G", "nul␀byte", "[bold red]BOLD"):
        assert visible in shown.text
    assert BIG in shown.text, "a 1 MB line arrives whole"

    piped = envdeck(*args)  # a script reading the logs gets the data as it is
    assert piped.returncode == 0, piped.stderr
    assert CORPUS["osc52"] in piped.stdout and CORPUS["csi"] in piped.stdout


HOSTILE_SCRIPT = r"""#!/bin/sh
printf 'first \033]0;PWNED-TITLE\007 \033[31mRED \342\200\256bidi \302\233c1 \377\376 bad-utf8\n'
printf '\033]52;c;ZXZpbA==\007 nul:\000: [bold]markup[/bold]\n'
head -c 1000000 /dev/zero | tr '\0' 'y'
printf '\n'
"""


def test_command_output(tmp_path, edge_lab):
    server = edge_lab.start_sshd("n1")
    edge_lab.trust(server)
    script = edge_lab.workdir / "hostile.sh"
    script.write_text(HOSTILE_SCRIPT)
    script.chmod(0o755)
    edge = edge_lab.config([edge_lab.node("gw-01", server)]).model_dump(mode="json", exclude_none=True)
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"edge": edge}})
    common = ["--config", str(cfg), "--state-dir", str(tmp_path / "state")]

    shown = envdeck_on_pty("run", "dev", "--yes", *common, "--", str(script))  # a terminal: asked unless --yes
    assert shown.returncode == 0, shown.text[-2000:]
    assert outside_controls(shown.text) == []
    assert "first ␛]0;PWNED-TITLE^G ␛[31mRED \\u202ebidi \\u009bc1 \ufffd\ufffd bad-utf8" in shown.text

    proc = envdeck("run", "dev", "--json", *common, "--", str(script))
    assert proc.returncode == 0, proc.stderr
    assert_no_raw_controls(proc.stdout)
    [result] = json.loads(proc.stdout)["results"]
    assert "\x1b]52;c;ZXZpbA==\x07" in result["stdout"] and "\x00" in result["stdout"]
    assert "\u202ebidi" in result["stdout"] and "\ufffd\ufffd bad-utf8" in result["stdout"]
    assert "y" * 1_000_000 in result["stdout"]


def test_config_values(tmp_path):
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text('environments:\n  dev:\n    description: "\\e]0;PWNED-TITLE\\a [bold]d[/bold] \\u202e"\n'
                   '    aws: {region: us-east-1, tags: {env: "\\e[31mRED\\e]52;c;ZXZpbA==\\a\\x9b"}}\n')
    cfg.chmod(0o600)
    shown = envdeck_on_pty("check", "--config", str(cfg))
    assert shown.returncode == 0, shown.text
    assert outside_controls(shown.text) == []
    assert "env=␛[31mRED␛]52;c;ZXZpbA==^G\\u009b" in shown.text


def test_tui_writes_no_outside_sequence(tmp_path):
    """The real TUI on a real pty, with resources named by the corpus: the bytes it writes
    to the terminal (Textual's own output, not a screenshot) carry no sequence from outside."""
    import re
    import sys

    from tests.terminal import run_on_pty

    pytest.importorskip("textual")
    shown = run_on_pty([sys.executable, "-m", "tests.security.tui_on_terminal", str(tmp_path / "state")],
                       input_bytes=b"q", stop_when=lambda out: b"zz-sentinel-ok" in out, timeout=120)
    out = shown.output
    assert shown.returncode == 0, out[-2000:]
    assert b"zz-sentinel-ok" in out, "the table was drawn"
    oscs = {int(n) for n in re.findall(rb"\x1b\](\d+)", out)}
    assert not oscs & {0, 1, 2, 8, 52}, f"title, hyperlink or clipboard sequences written: {oscs}"
    for raw in (b"\x1b[31mRED", b"\x00", "\u202e".encode(), "\u009b".encode()):
        assert raw not in out, raw
    text = re.sub(r"\s+", " ", re.sub(r"\x1b\[[0-9;?<>$]*[a-zA-Z]|\x1b\][^\x07]*\x07", "",
                                      out.decode("utf-8", errors="replace")))
    for visible in ("␛[31mRED␛[0m", "␛]0;PWNED^G", "␛]52;c;ZXZpbA==^G", "[b]BOLD[/b]",
                    "[link=http://phish.example]CLICK[/link]", "abc\\u202edcba", "nul␀byte", "c1\\u009b31mX"):
        assert visible in text, visible


def test_error_messages_quoting_outside_text(tmp_path, aws, moto_url):
    """Error lines on stderr can quote outside text (here an id with an OSC title sequence)."""
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": aws_env(moto_url)})
    shown = envdeck_on_pty("act", "dev", "aws/ec2-instance/\x1b]0;PWNED-TITLE\x07\u202e", "stop", "--yes",
                           "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert shown.returncode == 3, shown.text  # not a resource of dev: denied
    assert outside_controls(shown.text) == []
    assert "␛]0;PWNED-TITLE^G\\u202e" in shown.text and "Traceback" not in shown.text
