"""The emulator's pure parts: strategic merge patch directives, merge patch, selector parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.sim.k8s_emulator.patching import (
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_patch,
    merge_patch,
    strategic_merge,
)
from backends.sim.k8s_emulator.resources import lookup
from backends.sim.k8s_emulator.selectors import SelectorError, field_matcher, label_matcher
from backends.sim.k8s_emulator.status import ApiError

POD_SPEC = {"containers": [
    {"name": "app", "image": "a:1", "ports": [{"containerPort": 80}], "env": [{"name": "X", "value": "1"}]},
    {"name": "side", "image": "s:1"}], "finalizers": ["a"]}


def test_strategic_merge_merges_lists_by_key_and_honours_directives():
    patched = strategic_merge(POD_SPEC, {"containers": [
        {"name": "app", "env": [{"name": "Y", "value": "2"}], "ports": [{"containerPort": 80, "name": "http"}]},
        {"name": "new", "image": "n:1"}]}, ())
    app = patched["containers"][0]
    assert [c["name"] for c in patched["containers"]] == ["app", "side", "new"]
    assert app["env"] == [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]
    assert app["ports"] == [{"containerPort": 80, "name": "http"}]
    deleted = strategic_merge(POD_SPEC, {"containers": [{"name": "side", "$patch": "delete"}]}, ())
    assert [c["name"] for c in deleted["containers"]] == ["app"]
    replaced = strategic_merge(POD_SPEC, {"containers": [{"name": "only", "image": "o"}, {"$patch": "replace"}]},
                               ())
    assert replaced["containers"] == [{"name": "only", "image": "o"}]
    ordered = strategic_merge(POD_SPEC, {"$setElementOrder/containers": [{"name": "side"}, {"name": "app"}]}, ())
    assert [c["name"] for c in ordered["containers"]] == ["side", "app"]
    merged_primitive = strategic_merge(POD_SPEC, {"finalizers": ["b"]}, ())
    assert merged_primitive["finalizers"] == ["a", "b"]
    removed = strategic_merge(POD_SPEC, {"$deleteFromPrimitiveList/finalizers": ["a"]}, ())
    assert removed["finalizers"] == []
    retained = strategic_merge({"a": 1, "b": 2}, {"$retainKeys": ["b"], "b": 3}, ())
    assert retained == {"b": 3}
    assert POD_SPEC["containers"][0]["env"] == [{"name": "X", "value": "1"}]  # input untouched


def test_service_ports_merge_by_port_and_whole_map_replace():
    svc = {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}
    patched = strategic_merge(svc, {"ports": [{"port": 443, "targetPort": 8443}]}, ())
    assert patched["ports"][1] == {"port": 443, "name": "https", "targetPort": 8443}
    assert strategic_merge({"m": {"a": 1}}, {"m": {"$patch": "replace", "b": 2}}, ()) == {"m": {"b": 2}}


def test_bad_patches_are_refused_with_status_codes():
    with pytest.raises(ApiError) as not_list:
        apply_patch("application/json-patch+json", {}, {"op": "add"})
    assert not_list.value.code == 400
    with pytest.raises(ApiError) as unknown:
        apply_patch("text/plain", {}, {})
    assert unknown.value.code == 415
    assert apply_patch(f"{STRATEGIC_MERGE_PATCH}; charset=utf-8", {"a": 1}, {"b": 2}) == {"a": 1, "b": 2}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=3), children, max_size=3), max_leaves=10)


@given(st.dictionaries(st.text(max_size=3), json_values, max_size=4),
       st.dictionaries(st.text(max_size=3), json_values, max_size=4))
def test_merge_patch_rfc7386_properties(target, patch):
    result = apply_patch(MERGE_PATCH, target, patch)
    for key, value in patch.items():
        if value is None:
            assert key not in result
        elif not isinstance(value, dict):
            assert result[key] == value
    for key in target:
        if key not in patch:
            assert result[key] == target[key]
    assert merge_patch(result, patch) == result  # applying twice changes nothing


def test_label_selector_parsing_errors_and_gt_lt():
    for bad in ("app in (", "a b c", "=x", "app=in valid"):
        with pytest.raises(SelectorError):
            label_matcher(bad)
    assert label_matcher("") is None
    gt = label_matcher("tier>2")
    assert gt({"tier": "3"}) and not gt({"tier": "1"}) and not gt({})
    assert label_matcher("example.com/team=a")({"example.com/team": "a"})


def test_field_selector_escapes_and_allowed_fields():
    pods = lookup("pods")
    match = field_matcher(r"metadata.name=a\,b", pods)
    assert match({"metadata": {"name": "a,b"}}) and not match({"metadata": {"name": "a"}})
    host = field_matcher("spec.hostNetwork=false", pods)
    assert host({"metadata": {"name": "x"}, "spec": {}})
    with pytest.raises(SelectorError):
        field_matcher("spec.containers=x", pods)
    with pytest.raises(SelectorError):
        field_matcher("status.phase=Running", lookup("configmaps"))
