"""A desired or observed value in a sentence for people (audit messages, timeline entries,
drift lines): a mapping as `k=v, k=v` (container images: `api=ghcr.io/acme/api:2.5.0`), a list
as `a, b`, anything else as before (`repr`: a string quoted, so `''` and `'3'` read apart from
3). Never Python's `{'api': '…'}`; JSON output keeps the values themselves."""

from __future__ import annotations

from typing import Any


def plain_value(value: Any) -> str:
    """As shown_value, but a string unquoted (`image set: api=IMAGE`, `scaled to 3`)."""
    if isinstance(value, str):
        return value
    return shown_value(value)


def _inner(value: Any) -> str:
    if isinstance(value, dict | list | tuple | set | frozenset):
        return f"({shown_value(value)})"
    return plain_value(value)


def shown_value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_inner(v)}" for k, v in value.items()) if value else "(none)"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ", ".join(_inner(v) for v in items) if items else "(none)"
    return repr(value)
