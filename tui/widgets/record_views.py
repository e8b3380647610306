"""The record views of an environment: Faults, Compliance, Drift and Timeline
(events + audit + repairs in one stream). Each is a KeyedTable whose row keys
start with the resource id, so the action keys work on the selected row."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.text import Text

from tui.env_state import EnvState
from tui.model import SEVERITY_ORDER, parse_iso
from tui.widgets.cells import Palette, age_between, muted, result_cell, safe, severity_cell
from tui.widgets.keyed_table import Cells, KeyedTable

SEP = "\t"
_SEV_RANK = {str(s): i for i, s in enumerate(SEVERITY_ORDER)}


def short_id(resource_id: str) -> str:
    """`kubernetes/Pod/web-1` → `Pod/web-1` (the backend shows in other columns)."""
    parts = resource_id.split("/", 1)
    return parts[1] if len(parts) == 2 else resource_id


def show_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


class RecordTable(KeyedTable):
    """Base: row key = `<resource id>\\t<detail>`."""

    def resource_for_cursor(self) -> str | None:
        key = self.cursor_key
        return key.split(SEP, 1)[0] if key else None

    def detail_for_cursor(self) -> str | None:
        key = self.cursor_key
        return key.split(SEP, 1)[1] if key and SEP in key else None


class FaultsTable(RecordTable):
    COLUMNS = (("severity", "SEVERITY"), ("resource", "RESOURCE"), ("reason", "REASON"), ("count", "COUNT"),
               ("since", "SINCE"), ("message", "MESSAGE"))

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(self.COLUMNS, id=id)

    def show(self, state: EnvState, now: datetime, palette: Palette) -> None:
        faults = sorted(state.all_faults(), key=lambda f: (-_SEV_RANK.get(str(f.severity), 0), f.resource, f.reason))
        rows: dict[str, Cells] = {}
        for f in faults:
            key = f"{f.resource}{SEP}{f.reason}"
            if key in rows:
                continue
            rows[key] = (severity_cell(str(f.severity), palette), safe(short_id(f.resource), max_len=48),
                         safe(f.reason, max_len=32), Text(str(f.count), end=""),
                         Text(age_between(now, f.since), end=""), safe(f.message, max_len=160))
        self.sync(rows, list(rows))


class ComplianceTable(RecordTable):
    COLUMNS = (("severity", "SEVERITY"), ("rule", "RULE"), ("resource", "RESOURCE"), ("message", "MESSAGE"))

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(self.COLUMNS, id=id)

    def show(self, state: EnvState, palette: Palette) -> int:
        findings = [(r.id, f) for r in state.all_resources() for f in r.findings]
        findings.sort(key=lambda x: (-_SEV_RANK.get(str(x[1].severity), 0), x[1].rule, x[0]))
        rows: dict[str, Cells] = {}
        for rid, f in findings:
            key = f"{rid}{SEP}{f.rule}"
            if key in rows:
                continue
            rows[key] = (severity_cell(str(f.severity), palette), safe(f.rule, max_len=40),
                         safe(short_id(rid), max_len=48), safe(f.message, max_len=160))
        self.sync(rows, list(rows))
        return len(rows)


class DriftTable(RecordTable):
    COLUMNS = (("resource", "RESOURCE"), ("field", "FIELD"), ("desired", "DESIRED"), ("actual", "ACTUAL"))

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(self.COLUMNS, id=id)

    def show(self, state: EnvState, palette: Palette) -> None:
        rows: dict[str, Cells] = {}
        for d in sorted(state.all_drifts(), key=lambda d: (d.resource, d.field)):
            rows[f"{d.resource}{SEP}{d.field}"] = (
                safe(short_id(d.resource), max_len=48), safe(d.field, style=palette.style("accent")),
                safe(show_value(d.desired), max_len=60, style=palette.style("success")),
                safe(show_value(d.actual), max_len=60, style=palette.style("warning", bold=True)))
        self.sync(rows, list(rows))


class TimelineTable(RecordTable):
    """Events, faults, drift, repairs and backend outages from the store's timeline,
    merged with the audit trail, newest first."""

    COLUMNS = (("at", "TIME"), ("kind", "KIND"), ("level", "LEVEL"), ("resource", "RESOURCE"),
               ("reason", "WHAT"), ("message", "MESSAGE"))

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(self.COLUMNS, id=id)

    def show(self, entries: list[dict[str, Any]], audit: list[dict[str, Any]], palette: Palette) -> None:
        merged: list[tuple[str, str, Cells]] = []
        for e in entries:
            at = e.get("at") or ""
            key = f"{e.get('resource', '')}{SEP}t{e.get('id', '')}"
            count = int(e.get("count") or 1)
            message = (e.get("message") or "") + (f" (×{count})" if count > 1 else "")
            merged.append((at, key, (self._time(at, palette), Text(e.get("kind", ""), end=""),
                                     severity_cell(e.get("severity", "info"), palette),
                                     safe(short_id(e.get("resource", "")), max_len=40),
                                     safe(e.get("reason", ""), max_len=32), safe(message, max_len=160))))
        for a in audit:
            at = a.get("at") or ""
            key = f"{a.get('target', '')}{SEP}a{a.get('id', '')}"
            params = a.get("params") or {}
            what = a.get("action", "") + (" " + " ".join(f"{k}={show_value(v)}" for k, v in params.items())
                                          if params else "")
            message = f"{a.get('user', '')} via {a.get('origin', '')}" + (
                f": {a['message']}" if a.get("message") else "")
            merged.append((at, key, (self._time(at, palette), Text("audit", end=""),
                                     result_cell(a.get("result", ""), palette),
                                     safe(short_id(a.get("target", "")), max_len=40),
                                     safe(what, max_len=32), safe(message, max_len=160))))
        merged.sort(key=lambda x: x[0], reverse=True)
        rows = {key: cells for _, key, cells in merged}
        self.sync(rows, list(rows))

    @staticmethod
    def _time(at: str, palette: Palette) -> Text:
        ts = parse_iso(at) if at else None
        if ts is None:
            return muted("—", palette)
        return Text(ts.strftime("%m-%d %H:%M:%S"), end="")
