"""Fixtures of the TUI tests: the in-memory stage. The app factory and the waiting helpers
are in tests/tui/pilot.py."""

from __future__ import annotations

import pytest

from tests.tui.stage import Stage


@pytest.fixture
def stage() -> Stage:
    return Stage()
