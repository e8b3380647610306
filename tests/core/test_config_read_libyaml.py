"""The config's YAML is composed by libyaml (PyYAML's C parser) when it is installed and the
text is shallow enough (tui/core/config_read.py): the same data, marks and alias marks as the
Python parser, every problem worded and placed as the Python parser words it, and a deeply
nested text never reaches libyaml's composer (it recurses in C: a crash, not an error)."""

from __future__ import annotations

import threading

import pytest
import yaml

from tui.core import config_read
from tui.core.config_read import compose_config, libyaml_takes
from tui.core.config_yaml import compose_with_marks
from tui.core.errors import ConfigError

needs_libyaml = pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML without libyaml")

CONFIG = """\
defaults: &defaults
  timeout: 5s
edge_base: &edge
  known_hosts: /tmp/kh
  connect_timeout: 2s
environments:
  staging:
    repair: observe
    access: {viewer: [ann], operator: [bob, "carol"]}
    edge:
      <<: *edge
      nodes:
      - {name: n1, host: 10.0.0.1, port: 2222}
      - name: n2
        host: 10.0.0.2
        services: [app, db]
        commands: {status: 'svc status {service}'}
  prod:
    repair: auto
    edge: *edge
    description: |
      two lines
      of text
"""

PROBLEMS = ["a:\n\tb: 1\n", "a: [1, 2\n", "a: b: c\n", "é\x01: 1\n", "a: @x\n", "a: 1\na: 2\n",
            "environments:\n  x: *nope\n", "a:\n  b: 1\n c: 2\n"]


def _outcome(compose, text: str) -> object:
    """What compose(text, "c.yaml") gives: ("ok", data, marks, alias marks) or ("error", message)."""
    try:
        data, marks = compose(text, "c.yaml")
    except ConfigError as exc:
        return ("error", str(exc))
    return ("ok", data, dict(marks), marks.aliases)


def _python_parser(text: str) -> object:
    return _outcome(compose_with_marks, text)


def _compose_config(text: str) -> object:
    return _outcome(compose_config, text)


@needs_libyaml
def test_libyaml_gives_the_same_data_marks_and_alias_marks():
    assert libyaml_takes(CONFIG)
    via_libyaml = compose_with_marks(CONFIG, "c.yaml", config_read._LibyamlLoader)
    assert ("ok", via_libyaml[0], dict(via_libyaml[1]), via_libyaml[1].aliases) == _python_parser(CONFIG)
    assert _compose_config(CONFIG) == _python_parser(CONFIG)
    data, marks = compose_config(CONFIG, "c.yaml")
    assert data["environments"]["staging"]["edge"]["connect_timeout"] == "2s"  # the merge
    assert marks[("environments", "staging", "edge", "nodes", 1)] == (14, 9)  # "- name: n2"


@needs_libyaml
@pytest.mark.parametrize("text", PROBLEMS)
def test_a_problem_is_worded_and_placed_as_the_python_parser_does(text):
    assert libyaml_takes(text)
    assert _compose_config(text) == _python_parser(text)
    assert _compose_config(text)[0] == "error"


@pytest.mark.parametrize("text", ["[" * 2_100 + "]" * 2_100, "- " * 2_100 + "x"], ids=["flow", "block"])
def test_a_deeply_nested_text_is_a_placed_error_not_a_crash(text):
    # (deeper than LIBYAML_MAX_NESTING and than Python's recursion limit; at ~20,000 levels
    # libyaml's composer would overflow the stack of the process)
    assert not libyaml_takes(text)
    with pytest.raises(ConfigError, match=r"^c\.yaml:1:1: "):
        compose_config(text, "c.yaml")


def test_off_the_main_thread_the_python_parser_reads_it():
    seen: list[bool] = []
    worker = threading.Thread(target=lambda: seen.append(libyaml_takes(CONFIG)))
    worker.start()
    worker.join()
    assert seen == [False]
