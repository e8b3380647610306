"""What the log benchmark's clients share: the source process (bench/log_source.py)
and its stdin/stdout protocol, the order check of `seq=` lines, the loop-lag ticker
and RSS sampling."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any

from bench.emulator_proc import ROOT
from bench.report import ms, percentile

NAMESPACE = "bench"
PAGE = os.sysconf("SC_PAGE_SIZE")


def current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


class Source:
    """The log source process (bench/log_source.py) and its stdin/stdout protocol."""

    async def start(self) -> Source:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.log_source", NAMESPACE, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        words = (await self._read()).split()
        assert words[0] == "ready", words
        self.url, self.kubeconfig, self.pod = words[1:4]
        return self

    async def _read(self) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=300)
        if not line:
            raise RuntimeError("the log source exited")
        return line.decode().strip()

    async def ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._read()

    async def produce(self, rate: float, seconds: float) -> tuple[int, float]:
        """Write `rate` lines/s for `seconds` into the pod's log; returns once done with
        (lines produced, seconds it took)."""
        answer = (await self.ask(f"produce {rate:g} {seconds:g}")).split()
        return int(answer[1]), float(answer[2])

    async def stop(self) -> None:
        if self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.ask("quit"), timeout=5)
            except (RuntimeError, TimeoutError, BrokenPipeError, ConnectionResetError):
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class OrderCheck:
    def __init__(self) -> None:
        self.received = 0
        self.next_seq = 0
        self.gaps = 0  # times a seq was skipped (lines lost)
        self.repeats = 0  # seq lower than expected (duplicate or reordered)
        self.foreign = 0  # lines that are not the source's

    def see(self, text: str) -> None:
        if not text.startswith("seq="):
            self.foreign += 1
            return
        seq = int(text[4:12])
        self.received += 1
        if seq == self.next_seq:
            self.next_seq += 1
        elif seq > self.next_seq:
            self.gaps += 1
            self.next_seq = seq + 1
        else:
            self.repeats += 1

    def to_json(self, produced: int) -> dict[str, Any]:
        return {"produced": produced, "received": self.received, "dropped": produced - self.received,
                "gaps": self.gaps, "out_of_order_or_repeated": self.repeats, "foreign_lines": self.foreign,
                "order_kept": self.gaps == 0 and self.repeats == 0 and self.received == produced}


class LoopLag:
    """A ticker on the running loop: how late each 10 ms tick comes (the loop's lag),
    and this process's peak RSS, sampled every 10 ticks."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.lags: list[float] = []
        self.rss_start = current_rss_mib()
        self.rss_peak = self.rss_start
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> LoopLag:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        expected = time.perf_counter() + self.period
        while not self._stop.is_set():
            await asyncio.sleep(self.period)
            now = time.perf_counter()
            self.lags.append(max(0.0, now - expected))
            expected = now + self.period
            if len(self.lags) % 10 == 0:
                self.rss_peak = max(self.rss_peak, current_rss_mib())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def to_json(self) -> dict[str, Any]:
        lags = self.lags
        return {"loop_lag_p50_ms": ms(percentile(lags, 50)), "loop_lag_p99_ms": ms(percentile(lags, 99)),
                "loop_lag_max_ms": ms(max(lags) if lags else None), "rss_start_mib": round(self.rss_start, 1),
                "rss_peak_mib": round(self.rss_peak, 1), "rss_growth_mib": round(self.rss_peak - self.rss_start, 1)}
