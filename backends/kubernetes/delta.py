"""What changed in a namespace's tables since the watch last yielded (a ResourceDelta).

The tables tell every Resource they replace or drop (`changed`); a relist that changed
anything, or a kind gained or lost, makes the next observation a full one (`relisted`):
the reconciler then compares everything, as for a pass. Nothing is kept while no watch
takes deltas (`full` from the start until the first `reset`), so observe() alone grows nothing.
"""

from __future__ import annotations

from tui.core.model import Resource, ResourceDelta


class DeltaTracker:
    def __init__(self) -> None:
        self.full = True
        self._changes: dict[str, Resource | None] = {}  # by id; None: removed (the last word wins)

    def changed(self, rid: str, resource: Resource | None) -> None:
        if not self.full:
            self._changes[rid] = resource

    def relisted(self) -> None:
        self.full = True
        self._changes = {}

    def reset(self) -> None:
        """From now on, record (a full observation was just taken)."""
        self.full = False
        self._changes = {}

    def take(self) -> ResourceDelta | None:
        """The changes since the last take() or reset(); None when only a full observation
        says it (then recording starts again from here)."""
        if self.full:
            self.reset()
            return None
        changes, self._changes = self._changes, {}
        delta = ResourceDelta()
        for rid, resource in changes.items():
            if resource is None:
                delta.removed.append(rid)
            else:
                delta.changed.append(resource)
        return delta
