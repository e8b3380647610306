"""How the suite's pytest-xdist workers are fed and how they end (a plugin of tests/conftest.py).

Heavy tests first. `--dist worksteal` hands each of the W workers a contiguous slice of the
collected order (N//W tests, then the rest evenly) and lets a worker that ran dry steal the tail
of the longest queue. A long test that starts late keeps one worker busy after the others have
nothing left: the run ends on it alone. So each worker's slice starts with its share of the
HEAVY tests below (longest first, each to the slice with the least heavy seconds so far); the
other tests keep their order, and nothing is left out or added. Only on xdist workers (-n 0 and
plain runs keep the collected order). HEAVY holds node ids (or their first part) and their
seconds in a full run with -n 3 on 2 loaded cores (`--durations=40`); a test that becomes
lighter or is renamed only loses its place at the front.

The end of a worker. Once the controller has every result it closes the workers; execnet gives a
worker 5 s to end and then sends it a SIGINT. pytest's last steps (five gc.collect() passes over a
large heap, on a loaded machine) can take longer, and the KeyboardInterrupt then lands in
whatever runs -- a gc callback of hypothesis' -- and is reported as a
PytestUnraisableExceptionWarning after 100 %. With every result already sent, a worker ignores
SIGINT from its pytest_unconfigure on and ends by itself.
"""

from __future__ import annotations

import signal
import threading

import pytest

HEAVY: dict[str, float] = {
    "tests/leadership/test_two_agents.py::test_sigstop_the_leader_past_its_lease": 35,
    "tests/bench/test_edge_scale_quick.py::test_edge_scale_quick": 30,
    "tests/lifecycle/test_crash_resume.py::": 15,
    "tests/tui/test_lifecycle_tui.py::test_demo_preview_created_from_the_tui_on_real_servers": 27,
    "tests/tui/test_demo_flows.py::test_envdeck_demo_headless": 20,
    "tests/security/test_palette_access.py::": 17,
    "tests/tui/test_env_screens_built_ahead.py::test_building_ahead_stops_at_keep_screens": 17,
}


def _weight(nodeid: str) -> float | None:
    for prefix, seconds in HEAVY.items():
        if nodeid.startswith(prefix):
            return seconds
    return None


def slice_sizes(n: int, workers: int) -> list[int]:
    """The sizes of the slices worksteal hands out first (xdist's check_schedule)."""
    sizes, left = [], n
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    return sizes


def heavy_first(items: list, workers: int, weight=lambda item: _weight(item.nodeid)) -> list:
    """`items` reordered: each worker's first slice starts with its share of the heavy ones."""
    heavy = sorted(((w, i) for i, item in enumerate(items) if (w := weight(item)) is not None),
                   key=lambda pair: (-pair[0], pair[1]))
    if not heavy or workers < 2:
        return list(items)
    sizes = slice_sizes(len(items), workers)
    shares: list[list[int]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for seconds, index in heavy:
        target = min((k for k in range(workers) if len(shares[k]) < sizes[k]), key=lambda k: load[k])
        shares[target].append(index)
        load[target] += seconds
    taken = {index for share in shares for index in share}
    rest = iter(i for i in range(len(items)) if i not in taken)
    order: list[int] = []
    for k in range(workers):
        order += shares[k]
        order += [next(rest) for _ in range(sizes[k] - len(shares[k]))]
    assert sorted(order) == list(range(len(items)))
    return [items[i] for i in order]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """On the controller: tell each worker the --dist mode (a worker's own option says `no`)."""
    node.workerinput["envdeck_dist"] = node.config.getoption("dist")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or workerinput.get("envdeck_dist") != "worksteal":
        return
    items[:] = heavy_first(items, int(workerinput["workercount"]))


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
