"""The config contract: good files load, bad files give PATH:LINE:COL messages."""

from __future__ import annotations

import re
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.core.config import load_config, parse_config, parse_duration
from tui.core.errors import ConfigError

GOOD = textwrap.dedent("""\
    environments:
      staging:
        description: "Staging"
        repair: propose
        access:
          viewer: ["*"]
          operator: [alice]
          admin: [bob]
        aws:
          region: us-east-1
          profile: staging
          endpoint_url: http://127.0.0.1:5000
          tags: {env: staging}
          desired:
            - {kind: ec2-instance, name: web-1, state: running}
            - {kind: ecs-service, cluster: main, name: api, desired_count: 3}
            - {kind: s3-bucket, name: staging-assets, encryption: true, public_access_blocked: true}
        kubernetes:
          kubeconfig: ~/.kube/config
          context: kind-staging
          namespace: staging
          desired:
            - {kind: Deployment, name: web, replicas: 3, image: "nginx:1.27"}
        edge:
          known_hosts: ~/.ssh/known_hosts
          nodes:
            - name: gw-01
              host: 10.0.0.5
              port: 22
              user: ops
              identity_file: ~/.ssh/id_ed25519
              services: [nginx, mosquitto]
              commands:
                status: "systemctl is-active {service}"
                start: "sudo systemctl start {service}"
                restart: "sudo systemctl restart {service}"
                logs: "journalctl -u {service} -f -n {lines} -o cat"
    defaults:
      interval: 5m
    """)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "envdeck.yaml")
    return info.value.problems


def test_the_issue_example_loads():
    cfg = parse_config(GOOD, "envdeck.yaml")
    env = cfg.environments["staging"]
    assert env.repair == "propose"
    assert env.aws.desired[1].desired_count == 3
    assert env.kubernetes.desired[0].image == "nginx:1.27"
    assert env.edge.nodes[0].services == ["nginx", "mosquitto"]
    assert cfg.defaults.interval == 300.0
    assert env.backend_names() == ["aws", "kubernetes", "edge"]


def test_defaults():
    cfg = parse_config("environments:\n  dev: {}\n")
    assert cfg.environments["dev"].repair == "propose"
    assert cfg.environments["dev"].access is None
    assert cfg.defaults.interval == 30.0


@pytest.mark.parametrize("value,seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("250ms", 0.25), (12, 12)])
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("text,expected", [
    ("environments:\n  staging:\n    repair: fix\n", "envdeck.yaml:3:5: environments.staging.repair:"),
    ("environments:\n  staging:\n    colour: red\n", "envdeck.yaml:3:5: environments.staging.colour: unknown key 'colour'"),
    ("environments:\n  Staging: {}\n", "envdeck.yaml:2:3: environments.Staging: environment name 'Staging'"),
    ("environments:\n  s:\n    aws:\n      region: x\n      tags: {}\n", "envdeck.yaml:5:7: environments.s.aws.tags:"),
    ("environments:\n  s:\n    aws:\n      region: x\n      tags: {a: b}\n      desired:\n"
     "        - {kind: lambda, name: f}\n", "envdeck.yaml:7:11: environments.s.aws.desired.0: unknown kind 'lambda'"),
    ("environments:\n  s:\n    aws:\n      tags: {a: b}\n", "envdeck.yaml:3:5: environments.s.aws.region: missing required key"),
    ("defaults:\n  interval: soon\n", "envdeck.yaml:2:3: defaults.interval: 'soon' is not a duration"),
    ("environments:\n  s:\n    edge:\n      nodes:\n        - {name: a, host: h, commands: {status: 'x {svc}'}}\n",
     "envdeck.yaml:5:30: environments.s.edge.nodes.0.commands: status: unknown placeholder {svc}"),
    ("environments:\n  s:\n    edge:\n      nodes:\n        - {name: a, host: h}\n        - {name: a, host: i}\n",
     "environments.s.edge: node 'a' is listed twice"),
    ("environments:\n  a: {}\n  a: {}\n", "envdeck.yaml:3:3: duplicate key 'a'"),
    ("environments: [\n", "envdeck.yaml:2:1: YAML syntax:"),
    ("- 1\n- 2\n", "envdeck.yaml:1:1: the top level must be a mapping"),
    ("environments:\n  s:\n    edge:\n      nodes:\n        - {name: 'x; touch pwned', host: h}\n",
     "envdeck.yaml:5:12: environments.s.edge.nodes.0.name:"),
])
def test_bad_config_names_the_place(text, expected):
    found = problems(text)
    assert any(p.startswith(expected) or expected in p for p in found), found


def test_every_problem_is_reported_at_once():
    found = problems("environments:\n  s:\n    repair: x\n    colour: y\ndefaults:\n  interval: z\n")
    assert [p.split(":")[1] for p in found] == ["3", "4", "6"]


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"environments:\n  \xff\xfe: {}\n")
    with pytest.raises(ConfigError, match=r"bin.yaml:2:1: the file is not valid UTF-8"):
        load_config(bad)


PROBLEM = re.compile(r"^[^:]+:\d+:\d+: .+")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list("environments:staging aws{}[]-\n\t'\"#&*!|>%@`01,.?\x00\xff")
                                + ["  ", "environments:", "\n  staging:", "\n    aws:", " repair: ", "&a ", "*a"]),
                max_size=60).map("".join))
def test_fuzzed_text_gives_only_clean_errors(text):
    try:
        parse_config(text, "f.yaml")
    except ConfigError as exc:
        assert exc.problems and all(PROBLEM.match(p) for p in exc.problems), exc.problems


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["environments", "defaults", "ui", "x"]),
                       st.dictionaries(st.sampled_from(["staging", "Bad", "aws", "interval", "edge", "repair"]),
                                       yaml_values, max_size=3), max_size=3))
def test_fuzzed_structures_give_only_clean_errors(data):
    import yaml

    text = yaml.safe_dump(data)
    try:
        parse_config(text, "f.yaml")
    except ConfigError as exc:
        assert exc.problems and all(PROBLEM.match(p) for p in exc.problems), exc.problems


# --- values that validate but would break at run time (14.10) ------------------------------------------

def _env_with(block: str) -> str:
    return "environments:\n  s:\n" + textwrap.indent(textwrap.dedent(block), "    ")


@pytest.mark.parametrize("text,expected", [
    ("defaults:\n  timeout: .nan\n", "envdeck.yaml:2:3: defaults.timeout: a duration must be a number, not NaN"),
    ("defaults:\n  timeout: .inf\n", "envdeck.yaml:2:3: defaults.timeout: a duration must be at most 10 years"),
    ("defaults:\n  max_backoff: .nan\n", "envdeck.yaml:2:3: defaults.max_backoff: a duration must be a number"),
    ("defaults:\n  interval: 99999999999999999999h\n", "envdeck.yaml:2:3: defaults.interval: a duration must be at most"),
    ("defaults:\n  interval: " + "9" * 400 + "\n", "envdeck.yaml:2:3: defaults.interval: a duration must be at most"),
    (_env_with("edge:\n  connect_timeout: .NaN\n"), "envdeck.yaml:4:7: environments.s.edge.connect_timeout: a duration"),
    (_env_with("aws:\n  region: r\n  tags: {a: b}\n  interval: .inf\n"),
     "envdeck.yaml:6:7: environments.s.aws.interval: a duration must be at most 10 years"),
    (_env_with("kubernetes:\n  namespace: s\n  desired:\n    - {kind: Deployment, name: w, replicas: 99999999999999999999999}\n"),
     "envdeck.yaml:6:39: environments.s.kubernetes.desired.0.replicas: Input should be less than or equal to 2147483647"),
    (_env_with("aws:\n  region: r\n  tags: {a: b}\n  desired:\n    - {kind: ecs-service, cluster: c, name: a, desired_count: 2147483648}\n"),
     "environments.s.aws.desired.0.desired_count: Input should be less than or equal to 2147483647"),
    (_env_with("edge:\n  commands:\n    status: 'systemctl is-active {service!r}'\n"),
     "envdeck.yaml:5:9: environments.s.edge.commands.status: {service!r}: a placeholder must not carry a conversion"),
    (_env_with("edge:\n  commands:\n    restart: 'systemctl restart {service:>40}'\n"),
     "envdeck.yaml:5:9: environments.s.edge.commands.restart: {service:>40}: a placeholder must not carry a format spec"),
    (_env_with("edge:\n  commands:\n    start: 'systemctl start {service.__class__}'\n"),
     "environments.s.edge.commands.start: unknown placeholder {service.__class__}; this command takes {service}"),
    (_env_with("edge:\n  commands:\n    stop: 'systemctl stop {service[0]}'\n"),
     "environments.s.edge.commands.stop: unknown placeholder {service[0]}; this command takes {service}"),
    (_env_with("edge:\n  commands:\n    stop: 'systemctl stop {}'\n"),
     "environments.s.edge.commands.stop: unknown placeholder {}; this command takes {service}"),
    (_env_with("edge:\n  commands:\n    status: 'tail -n {lines} x'\n"),
     "environments.s.edge.commands.status: unknown placeholder {lines}; this command takes {service}"),
    (_env_with("edge:\n  commands:\n    reboot: 'reboot {service}'\n"),
     "environments.s.edge.commands.reboot: unknown placeholder {service}; this command takes no placeholder"),
    (_env_with("edge:\n  nodes:\n    - {name: a, host: h, commands: {logs: 'journalctl -u {service!s} -n {lines}'}}\n"),
     "envdeck.yaml:5:30: environments.s.edge.nodes.0.commands: logs: {service!s}: a placeholder must not carry"),
])
def test_values_that_would_break_at_run_time_are_refused(text, expected):
    found = problems(text)
    assert any(p.startswith(expected) or expected in p for p in found), found
    assert all(PROBLEM.match(p) for p in found), found


_DURATION_KEYS = ["defaults.interval", "defaults.timeout", "defaults.max_backoff"]


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(_DURATION_KEYS),
       value=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**30, 10**30)
       | st.builds(lambda n, u: f"{n}{u}", st.integers(0, 10**25), st.sampled_from(["", "ms", "s", "m", "h", "d"])))
def test_every_accepted_duration_is_finite_positive_and_bounded(key, value):
    import math

    import yaml

    section, field = key.split(".")
    text = yaml.safe_dump({section: {field: value}})
    try:
        cfg = parse_config(text, "f.yaml")
    except ConfigError as exc:
        assert all(PROBLEM.match(p) for p in exc.problems), exc.problems
        assert any(f"{key}:" in p for p in exc.problems), exc.problems
        return
    seconds = getattr(cfg.defaults, field)
    assert math.isfinite(seconds) and 0 < seconds <= 10 * 365 * 86400
    # usable as a timer (call_later takes it: no overflow)
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        loop.call_later(seconds, lambda: None).cancel()
    finally:
        loop.close()


@settings(max_examples=300, deadline=None)
@given(command=st.sampled_from(["status", "start", "stop", "restart", "logs", "file_logs"]),
       template=st.lists(st.sampled_from(["x ", "{", "}", "service", "lines", "file", "!r", "!s", ":", ">9", ".a",
                                          "[0]", "0", "{service}", "{lines}", "{file}", "{{", "}}"]),
                         max_size=8).map("".join))
def test_every_accepted_template_renders_when_run(command, template):
    """What `check` accepts, the edge backend can fill with the values that command gets."""
    from backends.edge.commands import render

    values = {"logs": {"service": "nginx", "lines": 100}, "file_logs": {"file": "/var/log/x", "lines": 100}}
    text = _env_with(f"edge:\n  commands:\n    {command}: {json_quote(template)}\n")
    try:
        parse_config(text, "f.yaml")
    except ConfigError as exc:
        assert all(PROBLEM.match(p) for p in exc.problems), exc.problems
        return
    render(template, **values.get(command, {"service": "nginx"}))  # raises InvalidRequest if refused at run time


def json_quote(text: str) -> str:
    import json

    return json.dumps(text)


def test_a_fifo_config_is_refused_without_blocking(tmp_path):
    import os
    import threading

    fifo = tmp_path / "envdeck.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            load_config(fifo)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(30)
    if worker.is_alive():  # before: open() waited for a writer, i.e. forever; release it, then fail
        with open(fifo, "wb"):
            pass
        worker.join(10)
        pytest.fail("load_config blocked on a FIFO")
    (error,) = outcome
    assert isinstance(error, ConfigError), error
    assert re.search(r"envdeck.yaml: is a FIFO \(named pipe\), not a regular file", error.problems[0])


def test_a_device_config_is_refused():
    with pytest.raises(ConfigError, match=r"/dev/null: is a device, not a regular file"):
        load_config("/dev/null")


KEYMAP_BASE = "environments:\n  e:\n    aws: {region: us-east-1, tags: {env: e}}\nui:\n  keymap: "


@pytest.mark.parametrize("value, says", [('",,"', "an empty key"), ('"ctrl r"', "'ctrl r'"), ('"f5,"', "an empty key")])
def test_a_keymap_value_that_is_no_key_is_refused_naming_the_place(value, says):
    """Breaker finding, session 12: `help: ",,"` passed `envdeck check` and showed a blank key."""
    with pytest.raises(ConfigError) as info:
        parse_config(KEYMAP_BASE + "{help: " + value + "}\n")
    assert "envdeck.yaml:5:" in str(info.value) and "ui.keymap: help:" in str(info.value) and says in str(info.value)


def test_keymap_values_of_keys_are_kept():
    config = parse_config(KEYMAP_BASE + '{restart: "f5,ctrl+r", help: question_mark, quit: Q, filter: "/"}\n')
    assert config.ui.keymap == {"restart": "f5,ctrl+r", "help": "question_mark", "quit": "Q", "filter": "/"}
