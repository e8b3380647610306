"""`envdeck diff` of two environments of 10,000 resources each (issue 18: < 1 s), beside the
floor of simply loading both snapshots from the store.

Both environments are made by the real converters (Kubernetes Deployments, Services,
ConfigMaps, Secrets; AWS EC2 instances, S3 buckets, Lambda functions, ECS services), named after their environment (`staging-api-17`, `prod-api-17`, namespaces
`staging`/`prod`) so that every resource goes through the role matching; 5% of the pairs
differ (an image, an instance type, a Lambda version...), 1% exist only on one side. They are
stored in a SQLite store (the `sync_snapshot` the reconciler uses), then timed in one run:

- floor: `load_snapshot(A)` + `load_snapshot(B)` (what any comparison must at least read);
- diff: `diff()` on the loaded resources (roles, fields, ignore rules);
- load + diff: both together, what `envdeck diff` adds to reading the store.

The diff's CPU time (`time.process_time`) is reported beside its wall time: on the shared
machine the wall time mostly measures the other processes.

    python -m bench.diff_bench [--quick] [--resources 10000] [--reps 5]
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime

from backends.aws import resource_builder, resource_builder_services
from backends.aws.inventory import BucketRecord
from backends.aws.inventory_services import FunctionRecord
from backends.kubernetes import convert, convert_kinds
from bench.report import parse_args, percentile, print_table, write_result
from tui.core.compare.diff import diff
from tui.core.model import Resource
from tui.core.store import open_store

NAME = "diff_bench"
GOAL_S = 1.0
AT = datetime(2026, 12, 1, tzinfo=UTC)


def _k8s(env: str, i: int, changed: bool) -> list[Resource]:
    name = f"{env}-api-{i}" if i % 2 else f"api-{i}"  # half carry the environment's name
    labels = {"app": name}
    image = f"registry.example/api:{'1.5' if changed and env == 'prod' else '1.4'}"
    container = {"name": "api", "image": image, "env": [{"name": "LOG_LEVEL", "value": env}],
                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}
    meta = {"name": name, "namespace": env, "creationTimestamp": "2026-12-01T00:00:00Z", "generation": 1}
    return [
        convert.deployment({"metadata": meta, "spec": {"replicas": 3 if env == "prod" else 1,
                                                       "selector": {"matchLabels": labels},
                                                       "template": {"metadata": {"labels": labels},
                                                                    "spec": {"containers": [container]}}},
                            "status": {"readyReplicas": 1}}).resource,
        convert.service({"metadata": {**meta}, "spec": {"selector": labels, "ports": [{"port": 80}]}}).resource,
        convert_kinds.configmap({"metadata": {**meta, "name": f"{name}-config"}, "data": {"k": "v"}}).resource,
        convert.secret({"metadata": {**meta, "name": f"{name}-secret"}, "data": {"pw": "eA=="}}).resource,
    ]


def _aws(env: str, i: int, changed: bool) -> list[Resource]:
    kind = i % 4
    if kind == 0:
        inst = {"InstanceId": f"i-{'a' if env == 'staging' else 'b'}{i:016x}", "InstanceType":
                "t3.large" if changed and env == "prod" else "t3.medium", "ImageId": "ami-0abc",
                "State": {"Name": "running"}, "Tags": [{"Key": "Name", "Value": f"{env}-web-{i}"},
                                                       {"Key": "env", "Value": env}]}
        return [resource_builder.ec2_instance(inst, None, "us-east-1", AT)]
    if kind == 1:
        record = BucketRecord(name=f"{env}-assets-{i}", tags={"env": env},
                              encryption=None if changed and env == "prod" else {"ApplyServerSideEncryptionByDefault": {
                                  "SSEAlgorithm": "AES256"}},
                              public_access_block=None)
        return [resource_builder.s3_bucket(record, "us-east-1", AT)]
    if kind == 2:
        fn = FunctionRecord(configuration={"FunctionName": f"{env}-fn-{i}", "Runtime": "python3.12",
                                           "Version": "7" if changed and env == "prod" else "6", "CodeSha256": "abc"},
                            reserved_concurrency=None, url=None, tags={"env": env})
        return [resource_builder_services.lambda_function(fn, "us-east-1", AT)]
    svc = {"_cluster": f"{env}-main", "serviceName": f"svc-{i}", "desiredCount": 2, "runningCount": 2,
           "taskDefinition": f"arn:aws:ecs:us-east-1:1:task-definition/{env}-svc-{i}:{9 if changed and env == 'prod' else 8}"}
    return [resource_builder.ecs_service(svc, "us-east-1", AT)]


def environment(env: str, size: int) -> list[Resource]:
    """About `size` resources: Kubernetes 4 per app, AWS 1 per item, in equal shares."""
    out: list[Resource] = []
    i = 0
    while len(out) < size:
        only_other = i % 100 == 99  # 1% of the items exist in one environment only
        if only_other and (env == "prod") == bool((i // 100) % 2):
            i += 1
            continue
        changed = i % 20 == 7  # 5% differ
        out += _k8s(env, i, changed) if i % 2 else _aws(env, i, changed)
        i += 1
    return out[:size]


async def _store_and_time(args) -> dict:
    a_res, b_res = environment("staging", args.resources), environment("prod", args.resources)
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(None, tmp)
        try:
            for env, res in (("staging", a_res), ("prod", b_res)):
                by_backend: dict[str, list[Resource]] = {}
                for r in res:
                    by_backend.setdefault(r.backend, []).append(r)
                for backend, rows in by_backend.items():
                    await store.sync_snapshot(env, backend, rows, (), full=True)
            floor, diff_ms, both, diff_cpu = [], [], [], []
            result = None
            for _ in range(args.reps):
                t0 = time.perf_counter()
                a_snap = await store.load_snapshot("staging")
                b_snap = await store.load_snapshot("prod")
                t1, c1 = time.perf_counter(), time.process_time()
                a_list = [r for rows in a_snap.values() for r in rows]
                b_list = [r for rows in b_snap.values() for r in rows]
                result = diff("staging", a_list, "prod", b_list, ignore=["replicas"])
                t2, c2 = time.perf_counter(), time.process_time()
                diff_cpu.append((c2 - c1) * 1000)
                floor.append((t1 - t0) * 1000)
                diff_ms.append((t2 - t1) * 1000)
                both.append((t2 - t0) * 1000)
        finally:
            await store.close()
    assert result is not None

    def stats(values: list[float]) -> dict[str, float]:
        return {"p50_ms": round(percentile(values, 50), 1), "max_ms": round(max(values), 1)}

    return {"resources_per_env": [len(a_res), len(b_res)], "floor_load_both": stats(floor), "diff": stats(diff_ms), "diff_cpu": stats(diff_cpu),
            "load_and_diff": stats(both), "matched": result.matched, "differing": len(result.differing),
            "only_in_a": len(result.only_in_a), "only_in_b": len(result.only_in_b)}


def main() -> None:
    args = parse_args(NAME, __doc__, [("--resources", {"type": int, "default": 10_000}),
                                      ("--reps", {"type": int, "default": 5})])
    if args.quick:
        args.resources, args.reps = 800, 2
    res = asyncio.run(_store_and_time(args))
    rows = [["floor: load_snapshot(A) + load_snapshot(B)", res["floor_load_both"]["p50_ms"],
             res["floor_load_both"]["max_ms"]],
            ["diff (roles, fields, ignore)", res["diff"]["p50_ms"], res["diff"]["max_ms"]],
            ["diff, CPU time of the process", res["diff_cpu"]["p50_ms"], res["diff_cpu"]["max_ms"]],
            ["load both + diff", res["load_and_diff"]["p50_ms"], res["load_and_diff"]["max_ms"]]]
    print_table(f"diff of two environments of {res['resources_per_env']} resources, {args.reps} reps "
                f"({res['matched']} matched, {res['differing']} differ, {res['only_in_a']}/{res['only_in_b']} "
                f"only in A/B)", ["what", "p50 ms", "max ms"], rows)
    p50, worst, cpu = res["diff"]["p50_ms"], res["diff"]["max_ms"], res["diff_cpu"]["p50_ms"]
    met = p50 < GOAL_S * 1000
    print(f"\ngoal: diff of two 10k-resource environments < {GOAL_S:.0f} s: p50 {p50} ms (max {worst} ms, "
          f"CPU p50 {cpu} ms) -> {'met' if met else 'NOT met'}")
    write_result(args.out, NAME, args.quick, {"resources": args.resources, "reps": args.reps}, res,
                 goals={"diff < 1 s": {"p50_ms": p50, "max_ms": worst, "cpu_p50_ms": cpu, "met": met}})


if __name__ == "__main__":
    main()
