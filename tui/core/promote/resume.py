"""The running reconciler carries on the promotions a killed envdeck left unfinished (issue 18).

The reconciler's lifecycle loop (tui/core/lifecycle/driver.py) asks `due()` each round and runs
`resume(id)` for each id, one task per promotion, as it drives the lifecycle's pending
operations. A promotion is due here when:

- it is `running` and B is an environment of this session that this process LEADS
  (`Leadership.leads`): a follower never resumes one, the leader of B does;
- no live process carries it out: its lease (`holder`, `holder_until`) is free, expired, or
  held by a process of this host that is gone (`leases.holder_gone`, a SIGKILLed envdeck) —
  a live `envdeck promote --apply` elsewhere is left alone (and the engine's lease refuses a
  race anyway);
- no engine of this process carries it out already (`engine.driven_here`: the TUI's own
  `--apply`);
- the session is not read-only.

The engine does the rest as for `--apply`/`--resume`: a wave whose steps are healthy is never
repeated, the gate before each wave is a fresh observation of B, the first unhealthy wave
stops it (`failed`), every audit row carries the promotion's id (origin: this session's, e.g.
`reconciler` for `envdeck agent`; `by`: this process). No role is asked again: the promotion
was authorized when applied, and its user is in every step row.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tui.core.errors import EnvdeckError, InvalidRequest
from tui.core.leases import holder_gone
from tui.core.lifecycle.engine import LeaseBusy
from tui.core.model import now_utc
from tui.core.promote.engine import driven_here
from tui.core.promote.promotion_store import PromotionStore

if TYPE_CHECKING:
    from tui.core.session import Session

__all__ = ["PromotionResumer"]

log = logging.getLogger(__name__)


class PromotionResumer:
    """What the lifecycle loop of a session's reconciler asks about promotions."""

    def __init__(self, session: Session):
        self.session = session
        self.pstore = PromotionStore(session.store)
        self.refused: set[str] = set()  # promotions whose requester may not promote: said once, left alone

    async def due(self) -> list[str]:
        """The ids of the unfinished promotions this process is to carry on now."""
        session = self.session
        if session.policy.read_only:
            return []
        leadership = session.reconciler.leadership
        now = now_utc()
        due: list[str] = []
        for row in await self.pstore.running():
            pid, env, holder, until = row["id"], row["b"], row["holder"], row["holder_until"]
            if (env not in session.reconciler.envs or not leadership.leads(env) or driven_here(pid)
                    or pid in self.refused):
                continue
            if holder and until is not None and until > now and not holder_gone(holder):
                continue    # a live process carries it out (or may: its lease has not run out)
            due.append(pid)
        return due

    async def resume(self, pid: str) -> None:
        """Carry on `pid` to its end; every outcome is logged, none raised (a background task)."""
        try:
            done = await self.session.promotions().carry_on(pid)
        except LeaseBusy as exc:   # another process took it between `due` and the lease
            log.info("%s", exc)
            return
        except InvalidRequest as exc:  # its requester may not promote into B (a row written by hand)
            self.refused.add(pid)
            log.error("%s", exc)
            return
        except EnvdeckError as exc:
            log.error("cannot carry on promotion %s: %s", pid, exc)
            return
        log.info("promotion %s of %s → %s carried on by the reconciler: %s", pid, done.a, done.b, done.summary())
