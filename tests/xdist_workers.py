"""How the suite's pytest-xdist workers are fed and how they end (a plugin of tests/conftest.py).

Heavy tests first. `--dist worksteal` hands each of the W workers a contiguous slice of the
collected order (N//W tests, then the rest evenly) and lets a worker that ran dry steal the tail
of the longest queue. A long test that starts late keeps one worker busy after the others have
nothing left: the run ends on it alone. So each worker's slice starts with its share of the
HEAVY tests below (longest first, each to the slice with the least heavy seconds so far); the
other tests keep their order, and nothing is left out or added. Only on xdist workers (-n 0 and
plain runs keep the collected order). HEAVY holds node ids and their seconds in a full run with
-n 3 on 2 loaded cores (`--durations=40`); a test that becomes lighter or is renamed only loses
its place at the front. Tests sharing a module-scoped fixture with the rest of their module
(tests/security/test_palette_access.py's denied walks) are not listed: moved away from their
module, the fixture would be made again.

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
    "tests/lifecycle/test_crash_resume.py::": 30,
    "tests/tui/test_demo_lifecycle.py::test_the_printed_command_runs_the_cli_against_the_demo_and_sigterm_cleans_up": 56,
    "tests/tui/test_env_screens_built_ahead.py::test_building_ahead_stops_at_keep_screens_and_never_while_there_is_input":
        47,
    "tests/tui/test_safe_keys.py::test_action_letters_typed_in_any_filter_run_nothing": 46,
    "tests/leadership/test_two_agents.py::test_sigstop_the_leader_past_its_lease_then_sigcont_no_double_repair": 45,
    "tests/security/test_secrets.py::test_planted_secrets_appear_nowhere": 43,
    "tests/tui/test_lifecycle_tui.py::test_demo_preview_created_from_the_tui_on_real_servers": 43,
    "tests/reliability/test_crash_consistency.py::test_sigkill_at_random_points_keeps_the_audit_trail_consistent": 43,
    "tests/tui/test_resource_detail_keys.py::"
    "test_repair_is_offered_with_drift_and_every_action_key_goes_when_the_resource_is_gone": 36,
    "tests/bench/test_edge_scale_quick.py::test_edge_scale_quick": 36,
    "tests/tui/test_env_screen_removed_while_built.py::"
    "test_a_screen_built_ahead_dropped_at_any_point_of_its_build_raises_nothing": 35,
    "tests/followers/test_takeover_notice_tui.py::test_the_follower_says_it_took_over_from_a_leader_of_its_own_user_at_host":
        33,
    "tests/tui/test_safe_keys.py::test_confirmations_default_to_cancel": 32,
    "tests/tui/test_dialog_typeahead.py::test_p_enter_in_one_burst_on_the_overview_pauses_nothing": 32,
    "tests/aws/test_xray_links.py::test_cli_xray_by_a_bare_name_native_id_or_kind_and_name": 30,
    "tests/bench/test_team_bench_quick.py::test_fencing_trials_quick": 29,
    "tests/bench/test_startup_quick.py::test_startup_bench_quick": 28,
    "tests/leadership/test_two_agents.py::test_one_shot_repair_refused_while_an_agent_leads": 27,
    "tests/leadership/test_two_agents.py::test_two_agents_one_leader_each_drift_repaired_once": 25,
    "tests/edge/test_background_retry.py::test_a_node_back_after_its_attempts_gave_up_shows_healthy_without_any_action":
        23,
    "tests/kubernetes/test_watch_faults.py::test_quiet_healthy_watches_raise_no_alarm_and_a_hung_server_is_noticed": 15,
    "tests/edge/test_black_hole.py::test_a_black_holed_node_does_not_hold_up_the_pass": 15,
    "tests/tui/test_demo_restart.py::test_a_restarted_demo_retires_the_environments_of_the_earlier_run": 26,
    "tests/promote/test_promote_under_a_reconciler.py::"
    "test_promotion_is_one_write_per_object_and_a_later_drift_one_repair": 14,
    "tests/tui/test_overview_frozen_kubernetes.py::test_a_frozen_api_server_shows_overdue_in_the_overview_then_fresh": 11,
    "tests/leadership/test_shared_pause.py::test_the_pause_survives_a_restart_of_the_agent": 11,
}


def _weight(nodeid: str) -> float | None:
    """HEAVY's seconds for a test: its node id, a parametrized case of it, or any test of a
    module given as `path::`."""
    for key, seconds in HEAVY.items():
        if nodeid == key or nodeid.startswith(key if key.endswith("::") else key + "["):
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
