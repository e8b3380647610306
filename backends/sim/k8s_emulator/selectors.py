"""Label and field selectors, parsed the way the apiserver parses them.

Label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`,
`a>1`, `a<1`, joined by commas. Field selectors: `path=v`, `path==v`,
`path!=v`, joined by commas (a backslash escapes `,` `=` `!` and itself).
A malformed selector raises SelectorError (the server answers 400).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .resources import ResourceType

Matcher = Callable[[dict[str, Any]], bool]

_KEY = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class SelectorError(ValueError):
    pass


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _check_key(key: str, requirement: str) -> str:
    if not _KEY.match(key) or len(key.split("/")[-1]) > 63:
        raise SelectorError(f"unable to parse requirement: invalid label key {key!r} in {requirement!r}")
    return key


def _check_value(value: str, requirement: str) -> str:
    if not _VALUE.match(value) or len(value) > 63:
        raise SelectorError(f"unable to parse requirement: invalid label value {value!r} in {requirement!r}")
    return value


def _label_requirement(req: str) -> Matcher:
    m = re.match(r"^(\S+)\s+(in|notin)\s*\((.*)\)$", req)
    if m:
        key = _check_key(m.group(1), req)
        values = {_check_value(v.strip(), req) for v in m.group(3).split(",")}
        if m.group(2) == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if req.startswith("!"):
        key = _check_key(req[1:].strip(), req)
        return lambda labels: key not in labels
    m = re.match(r"^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(\S*)$", req)
    if m:
        key, op, value = _check_key(m.group(1), req), m.group(2), m.group(3)
        if op in ("=", "=="):
            value = _check_value(value, req)
            return lambda labels: labels.get(key) == value
        if op == "!=":
            value = _check_value(value, req)
            return lambda labels: labels.get(key) != value
        try:
            bound = int(value)
        except ValueError:
            raise SelectorError(f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be "
                                f"an integer: {req!r}") from None
        if op == ">":
            return lambda labels: _as_int(labels.get(key)) is not None and _as_int(labels.get(key)) > bound
        return lambda labels: _as_int(labels.get(key)) is not None and _as_int(labels.get(key)) < bound
    if re.match(r"^\S+$", req):
        key = _check_key(req, req)
        return lambda labels: key in labels
    raise SelectorError(f"unable to parse requirement: {req!r}")


def _as_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def label_matcher(selector: str | None) -> Matcher | None:
    """A function of an object's labels, or None for "everything"."""
    if not selector or not selector.strip():
        return None
    requirements = [_label_requirement(r) for r in _split_top_level(selector)]
    return lambda labels: all(r(labels) for r in requirements)


def selector_from_match_labels(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


def _split_escaped(text: str, sep: str) -> list[str]:
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def field_value(obj: dict[str, Any], path: str) -> str:
    if path == "source":  # events: the reporting component
        return str((obj.get("source") or {}).get("component", ""))
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return "false" if path in ("spec.hostNetwork", "spec.unschedulable") else ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_matcher(selector: str | None, rt: ResourceType) -> Callable[[dict[str, Any]], bool] | None:
    """A function of the whole object, or None; unknown field labels are refused like the apiserver."""
    if not selector or not selector.strip():
        return None
    tests: list[tuple[str, bool, str]] = []
    for raw in _split_escaped(selector, ","):
        if not raw.strip():
            continue
        m = re.match(r"^(.*?)(==|!=|=)(.*)$", raw)
        if not m:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{raw}'")
        path, op, value = m.group(1).strip(), m.group(2), m.group(3)
        if not rt.allowed_field(path):
            raise SelectorError(f'field label not supported: {path}')
        tests.append((path, op != "!=", value))
    return lambda obj: all((field_value(obj, p) == v) == eq for p, eq, v in tests)
