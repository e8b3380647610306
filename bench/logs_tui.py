"""The log benchmark's TUI client: the backend's stream through the TUI's own
`stream_logs` into its `LogsView`, headless."""

from __future__ import annotations

import asyncio
import resource
import time
from typing import Any

from bench.log_harness import NAMESPACE, LoopLag, Source


async def tui_view_run(rate: float, seconds: float, buffer_lines: int = 50_000) -> dict[str, Any]:
    """The same stream into the TUI's log view, headless: the backend's lines go through
    the TUI's own `stream_logs` (batches of up to 500 lines posted as messages) into
    `LogsView` (bounded buffer) in a Textual app; a ticker on the app's loop measures lag."""
    from textual.app import App, ComposeResult

    from backends.kubernetes import KubernetesBackend
    from tui.core.config import Defaults, KubernetesConfig
    from tui.widgets.log_stream import stream_logs
    from tui.widgets.logs_view import LogsView

    src = await Source().start()
    backend = KubernetesBackend("bench", KubernetesConfig(kubeconfig=src.kubeconfig, namespace=NAMESPACE),
                                Defaults(timeout=60))

    class BackendLogs:
        """The one method of Session that stream_logs uses, straight to the real backend
        (no policy/audit: the access checks are not what is measured here)."""

        async def logs(self, env: str, resource_id: str, *, follow: bool, tail: int):
            async for line in backend.logs(resource_id, follow=follow, tail=tail):
                yield line

    class LogApp(App):
        def compose(self) -> ComposeResult:
            yield LogsView(buffer_lines=buffer_lines, id="logs")

    app = LogApp()
    lag = LoopLag()  # RSS from before the app starts
    done_at = [0.0]
    async with app.run_test(size=(200, 50)) as pilot:
        view = app.query_one(LogsView)
        stream_id = view.start([src.pod])
        worker = asyncio.create_task(stream_logs(BackendLogs(), "bench", f"kubernetes/Pod/{src.pod}", src.pod,
                                                 stream_id, view.post_message, tail=0))
        lag.start()
        try:
            assert await src.ask("followers 1") == "ok"
            lag.lags.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            produced, produce_s = await src.produce(rate, seconds)
            deadline = time.perf_counter() + 60
            while view.received < produced and time.perf_counter() < deadline:
                await pilot.pause(0.02)
            done_at[0] = time.perf_counter()
            cpu = time.process_time() - c0
            kept = [int(line.text[4:12]) for line in view.lines if line.text.startswith("seq=")]
        finally:
            await lag.stop()
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await backend.close()
            await src.stop()
    received = view.received
    return {"produced": produced, "received": received, "dropped": produced - received,
            "waited_after_source_s": 60, "order_kept": received == produced and kept == list(range(produced - len(kept), produced)),
            "kept_in_buffer": len(kept), "buffer_lines": buffer_lines, "produce_s": produce_s,
            "drain_after_source_s": round(max(0.0, done_at[0] - t0 - produce_s), 3),
            "received_per_s": round(received / max(1e-9, done_at[0] - t0), 1),
            "client_cpu_s": round(cpu, 3), **lag.to_json(),
            "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


