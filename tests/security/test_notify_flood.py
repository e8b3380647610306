"""A team member may send `SELECT pg_notify('envdeck_changes', 'prod')` in a loop: a notification
is only a hint to read the store again, so a flood of them wakes a follower (the TUI, the agent)
at most once per PgListener.COALESCE_S, not once per notification (tui/core/store_pg.py).
Against the real PostgreSQL: the member's flood comes from a connection of its own; the wake-ups
counted are those of the feed's listener (each is one re-read of the marks in follower._run)."""

from __future__ import annotations

import asyncio
import time

import psycopg

from tui.core.change_feed import CHANNEL
from tui.core.store_pg import PgListener

FLOOD = 1_000


async def test_a_flood_of_notifications_wakes_the_listener_a_few_times(pg_url):
    listener = PgListener(pg_url, CHANNEL)
    member = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
    try:
        assert not await listener.wait(0.2), "woke with nothing sent"
        await member.execute("SELECT pg_notify(%s, 'prod')", (CHANNEL,))
        assert await listener.wait(10.0), "one notification after a quiet time wakes the listener"

        async def flood() -> None:
            for _ in range(FLOOD):  # one statement, one transaction, one notification each
                await member.execute("SELECT pg_notify(%s, 'prod')", (CHANNEL,))

        started = time.monotonic()
        sender = asyncio.create_task(flood())
        wakes = 0
        while True:
            if await listener.wait(0.5):
                wakes += 1
            elif sender.done():
                break
        await sender
        elapsed = time.monotonic() - started
        # wake-ups are at least COALESCE_S apart and take every notification that came meanwhile;
        # before, it was one wake-up per notification (with a 5 ms pause each): hundreds here
        bound = 2 + elapsed / PgListener.COALESCE_S
        assert 1 <= wakes <= bound, f"{wakes} wake-ups for {FLOOD} notifications in {elapsed:.2f} s"
        assert not await listener.wait(0.3), "notifications of the flood were left to wake it later"

        await member.execute("SELECT pg_notify(%s, 'prod')", (CHANNEL,))
        assert await listener.wait(10.0), "after the flood, a notification still wakes it"
    finally:
        await member.close()
        await listener.close()
