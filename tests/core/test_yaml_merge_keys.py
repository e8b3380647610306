"""`<<:` merge keys in envdeck's config follow the YAML merge spec whatever PyYAML is installed
(tui/core/config_yaml.py `_Loader`): PyYAML 6.0.4 made the LAST base of `<<: [*a, *b]` win for
keys longer than one character (yaml/pyyaml#953; 6.0.3 and the spec: the first), so a config
meant one thing on one machine and another on a fresh install. Nested merges of the same
anchors stay linear (the blow-up PyYAML 6.0.4 fixed)."""

from __future__ import annotations

import time

import pytest

from tui.core.config_yaml import compose_with_marks
from tui.core.errors import ConfigError

BASES = """\
b: &base
  repair: auto
  description: C
c: &c
  repair: propose
  zone: z1
e:
  <<: [{description: E, repair: never}, *base]
f:
  <<: [*c, *base]
  own: 1
g:
  <<: *base
  repair: mine
"""


def test_the_first_base_wins_and_keys_written_win_over_bases():
    data, _ = compose_with_marks(BASES, "t.yaml")
    assert data["e"] == {"description": "E", "repair": "never"}
    assert data["f"] == {"repair": "propose", "zone": "z1", "description": "C", "own": 1}
    assert data["g"] == {"description": "C", "repair": "mine"}


def test_nested_merges_of_the_same_anchors_stay_small():
    lines = ["a0: &a0 {k0: 0, k1: 1}"]
    lines += [f"a{i}: &a{i}\n  <<: [*a{i - 1}, *a{i - 1}, *a{i - 1}]\n  x{i}: {i}" for i in range(1, 40)]
    started = time.process_time()
    data, _ = compose_with_marks("\n".join(lines), "t.yaml")
    assert len(data["a39"]) == 41  # k0, k1, x1..x39: each key once
    assert time.process_time() - started < 5  # 3**39 pairs if each merge copied its bases


def test_a_merge_of_a_scalar_is_a_placed_error():
    with pytest.raises(ConfigError) as err:
        compose_with_marks("a: 1\nb:\n  <<: 5\n", "t.yaml")
    assert "t.yaml:3:7:" in str(err.value) and "expected a mapping or list of mappings for merging" in str(err.value)
