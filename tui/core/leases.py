"""Leadership of an environment (issue 16): a lease in the store's `leases` table (migration 7
of tui/core/store.py) with a fencing epoch.

- `holder` names a process: `user@host:pid`; `epoch` grows by one every time the lease changes
  holder (a release keeps it: the next holder takes epoch + 1).
- A lease is free when it has no holder or its `expires_at` is past (the clock of the process
  that asks; the processes of one store are expected to keep their clocks in step).
- Fencing: a repair's audit row is begun with the epoch its process leads under
  (`Store.audit_begin(..., epoch=)`), checked against the table in the same atomic unit; a
  stale epoch (another holder took the lease meanwhile) is refused with `Fenced`. The
  lifecycle engine's writes (step rows, state, claims, sleep memory, orphans, a TTL's destroy
  request: tui/core/lifecycle/lifecycle_store.py) are checked the same way (`check_epoch`).
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tui.core.errors import StateError
from tui.core.identity import current_user

if TYPE_CHECKING:
    from tui.core.store_db import SqlDb

__all__ = ["Fenced", "Lease", "check_epoch", "this_holder"]


class Fenced(StateError):
    """A write carried an epoch that is no longer the lease's: another process leads now."""


@dataclass(frozen=True, slots=True)
class Lease:
    env: str
    holder: str | None        # None: released
    epoch: int
    expires_at: datetime | None
    renewed_at: datetime | None
    acquired_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.holder is not None and self.expires_at is not None and self.expires_at > now


def this_holder() -> str:
    """`user@host:pid` of this process; `user` is the effective uid's login name
    (tui/core/identity.py), never $USER."""
    return f"{current_user()}@{socket.gethostname()}:{os.getpid()}"


_HOLDER = re.compile(r"^(?P<user>.*)@(?P<host>[^@:]*):(?P<pid>\d+)$")


def holder_gone(holder: str) -> bool:
    """Whether a lease holder (`user@host:pid`) is a process of this host that no longer runs: its
    lease may be taken at once instead of waiting for it to expire (a SIGKILLed envdeck)."""
    match = _HOLDER.match(holder or "")
    if not match or match["host"] != socket.gethostname():
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False



async def check_epoch(db: SqlDb, env: str, epoch: int) -> None:
    """Refuse (`Fenced`) a write of the leader of `env` at `epoch` when the lease has moved on
    (another holder, or released). Called inside the write's atomic unit (`SqlDb.atomic`), so
    the check still holds when the write lands: SQLite runs one writer at a time; on PostgreSQL
    (READ COMMITTED) the row is read FOR SHARE, so a takeover's UPDATE of the lease waits until
    this unit commits, and a takeover already under way is waited for and then seen (without
    the lock, a step row checked before a takeover committed could land after it)."""
    lock = " FOR SHARE" if db.dialect == "postgresql" else ""
    row = await db.fetchone("SELECT holder, epoch FROM leases WHERE env = ?" + lock, (env,))
    if row is None or row["holder"] is None or int(row["epoch"]) != epoch:
        who = row["holder"] if row is not None and row["holder"] else "nobody"
        now = row["epoch"] if row is not None else 0
        raise Fenced(f"env {env}: the lease moved on (epoch {now}, held by {who}); "
                     f"a write of epoch {epoch} is refused")
