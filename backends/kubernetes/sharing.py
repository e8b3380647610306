"""Equal values that many objects repeat, kept once (issue 19: 100,000 pods).

A pod's JSON is parsed into fresh strings and dicts every time, yet most of what a
Resource keeps of it is shared by thousands of pods: the phase, the node, the namespace,
the container names and images, the labels of one template, the conditions set at one
moment. These helpers return the value already kept when an equal one was seen, so 100k
pods hold one "Running" and one `{"web": "nginx:1.27"}` instead of 100k of each.

The values handed out are shared: nobody may change them in place (Resources are
replaced, never edited: backends/base.py). The table is bounded: past `MAX_KEPT`
entries it starts again, which costs only the sharing, never correctness.
"""

from __future__ import annotations

import sys
from typing import Any

MAX_KEPT = 200_000
MAX_TEXT = 128  # longer strings (messages) are rarely repeated exactly
_kept: dict[Any, Any] = {}


def text(value: Any) -> Any:
    """A short string, interned; anything else as it is."""
    if type(value) is str and len(value) <= MAX_TEXT:
        return sys.intern(value)
    return value


def _keep(key: Any, value: Any) -> Any:
    try:
        old = _kept.get(key)
    except TypeError:  # an unhashable value (a dict inside a label? not from the API): not shared
        return value
    if old is not None:
        return old
    if len(_kept) >= MAX_KEPT:
        _kept.clear()
    _kept[key] = value
    return value


def mapping(value: dict[str, Any]) -> dict[str, Any]:
    """A flat dict of strings (labels, images by container), shared with its equals."""
    if not value:
        return value
    return _keep(("m", *value.items()), value)


def sequence(value: list[Any]) -> list[Any]:
    """A flat list of strings (container names), shared with its equals."""
    if not value:
        return value
    return _keep(("s", *value), value)


def nested(key: tuple[Any, ...], build: Any) -> Any:
    """The value `build()` makes for `key`, made once per distinct key."""
    try:
        old = _kept.get(key)
    except TypeError:
        return build()
    if old is not None:
        return old
    return _keep(key, build())
