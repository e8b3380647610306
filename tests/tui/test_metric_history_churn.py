"""The sparkline history of an environment screen keeps nothing of resources that are gone:
churned pods (created and deleted by the thousand) left their history and their last
Resource object behind for as long as the screen lived."""

from __future__ import annotations

from dataclasses import replace

from tui.core.model import Health, Resource
from tui.widgets.metric_history import MetricHistory


def pods(prefix: str, n: int) -> list[Resource]:
    return [Resource(id=f"kubernetes/Pod/{prefix}-{i:04d}", backend="kubernetes", kind="Pod", name=f"{prefix}-{i:04d}",
                     health=Health.HEALTHY, status="Running", metrics={"cpu": float(i)}) for i in range(n)]


def test_churn_cycles_leave_nothing_behind():
    history = MetricHistory()
    steady = pods("web", 5)
    history.record(steady)
    for cycle in range(3):  # create 200 pods, then delete them
        churned = pods(f"churn{cycle}", 200)
        history.record(steady + churned)
        history.record_samples([(r.id, "cpu", 1.0) for r in churned])
        assert history.values(churned[0].id) == [0.0, 1.0]
        history.record(steady)
        assert history.values(churned[0].id) == []
    assert len(history._seen) == len(history._values) == len(steady)  # noqa: SLF001 - the retained structure
    assert history.values(steady[1].id) == [1.0]  # the rest keep theirs


def test_a_generator_inventory_and_a_pending_one_forget_the_gone_too():
    history = MetricHistory()
    first = pods("a", 10)
    history.record(first)
    history.record(r for r in first[:4])  # read once: still the whole inventory
    assert len(history._seen) == 4  # noqa: SLF001
    history.record_later(lambda: first[:2])
    assert history.values_of(first[0]) == [0.0]
    history.record([replace(first[0], metrics={"cpu": 9.0})])  # what was pending, then the new inventory
    assert history.values(first[0].id) == [0.0, 9.0] and history.values(first[1].id) == []


def test_search_text_cache_keeps_no_resource_alive():
    from tui.widgets import resource_filter

    resource_filter._HAYSTACKS.clear()  # noqa: SLF001
    pod = pods("search", 1)[0]
    versions = [replace(pod, status=f"Running {i}") for i in range(50)]  # a pod updated 50 times
    for i, v in enumerate(versions):
        assert resource_filter.haystack(v).endswith(pod.id) and f"Running {i} " in resource_filter.haystack(v)
    renamed = replace(versions[-1], name="renamed")
    assert resource_filter.haystack(renamed).startswith("renamed ")
    assert len(resource_filter._HAYSTACKS) == 1  # noqa: SLF001 - one entry per resource, not per version
    kept = [x for entry in resource_filter._HAYSTACKS.values() for x in entry]  # noqa: SLF001
    assert not any(isinstance(x, Resource) for x in kept)  # a gone pod's object is not kept alive by it
