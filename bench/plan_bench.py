"""Plan of a 200-resource template (issue 15: < 100 ms): what `envdeck env plan` does after
the config is loaded — parameters parsed, every string filled, the manifests read and
parsed, the environment section validated (`render`), then the graph and its waves
(`build_plan`). Also the config check of that template (`envdeck check`).

The template: 150 AWS resources (50 security groups, 50 buckets, 50 instances each naming
its group by `{sg-N}` and depending on its bucket, so every third step waits) and 50
Kubernetes objects in one manifest file (25 Deployments with `{replicas}`, 25 Services).

    python -m bench.plan_bench [--quick] [--resources 200] [--reps 50]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import yaml

from bench.report import parse_args, percentile, print_table, write_result
from tui.core.config import load_config
from tui.core.lifecycle.plan import build_plan
from tui.core.lifecycle.render import render

NAME = "plan_bench"
GOAL_MS = 100.0


def write_template(folder: Path, resources: int) -> Path:
    """A config with one template of `resources` steps (3/4 AWS, 1/4 Kubernetes)."""
    k8s = resources // 4
    triples = (resources - k8s) // 3
    aws: list[dict] = []
    for i in range(triples):
        aws.append({"id": f"sg-{i}", "kind": "security-group", "name": f"{{env}}-sg-{i}",
                    "ingress": [{"port": 443, "cidr": "10.0.0.0/8"}]})
        aws.append({"id": f"bucket-{i}", "kind": "s3-bucket", "name": f"{{env}}-{{branch}}-b{i}"})
        aws.append({"id": f"vm-{i}", "kind": "ec2-instance", "name": f"{{env}}-vm-{i}", "image_id": "ami-12c6146b",
                    "instance_type": "t3.micro", "security_groups": [f"{{sg-{i}}}"], "depends_on": [f"bucket-{i}"]})
    docs = []
    for i in range(k8s):
        if i % 2 == 0:
            docs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"web-{i}"},
                         "spec": {"replicas": "{replicas}", "selector": {"matchLabels": {"app": f"web-{i}"}},
                                  "template": {"metadata": {"labels": {"app": f"web-{i}"}},
                                               "spec": {"containers": [{"name": "web",
                                                                        "image": "nginx:{branch}"}]}}}})
        else:
            docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
                         "spec": {"selector": {"app": f"web-{i - 1}"}, "ports": [{"port": 80}]}})
    (folder / "k8s.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    config = {"templates": {"big": {
        "parameters": {"branch": {"type": "string", "pattern": "^[a-z0-9-]{1,30}$"},
                       "replicas": {"type": "integer", "default": 2, "minimum": 0, "maximum": 10}},
        "aws": {"region": "us-east-1", "resources": aws},
        "kubernetes": {"namespace": "{env}", "manifests": ["k8s.yaml"]},
    }}}
    path = folder / "envdeck.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def measure(fn, reps: int) -> dict[str, float]:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(percentile(times, 50), 2), "p99_ms": round(percentile(times, 99), 2),
            "max_ms": round(max(times), 2), "reps": reps}


def main() -> None:
    args = parse_args(NAME, __doc__, [
        ("--resources", {"type": int, "default": 200}),
        ("--reps", {"type": int, "default": 50}),
    ])
    if args.quick:
        args.resources, args.reps = 40, 3
    with tempfile.TemporaryDirectory(prefix="envdeck-bench-plan-") as tmp:
        path = write_template(Path(tmp), args.resources)
        cfg = load_config(path)
        params = {"branch": "feat-1"}
        plan = build_plan(render(cfg, "big", "pr-1", "bench", params))
        steps = len(plan.steps)
        results = {
            "steps": steps,
            "waves": len(plan.waves),
            "check": measure(lambda: load_config(path), args.reps),
            "render": measure(lambda: render(cfg, "big", "pr-1", "bench", params), args.reps),
            "plan": measure(lambda: build_plan(render(cfg, "big", "pr-1", "bench", params)), args.reps),
        }
        rendered = render(cfg, "big", "pr-1", "bench", params)
        results["build_plan_only"] = measure(lambda: build_plan(rendered), args.reps)
    rows = [[label, results[key]["p50_ms"], results[key]["p99_ms"], results[key]["max_ms"]]
            for label, key in (("config check (load_config)", "check"), ("render", "render"),
                               ("render + build_plan (env plan)", "plan"), ("build_plan alone", "build_plan_only"))]
    print_table(f"plan of a {args.resources}-resource template ({steps} steps incl. the namespace, "
                f"{results['waves']} waves), {args.reps} reps", ["what", "p50 ms", "p99 ms", "max ms"], rows)
    met = results["plan"]["p99_ms"] < GOAL_MS
    print(f"\ngoal: plan of a 200-resource template < {GOAL_MS:.0f} ms: p99 {results['plan']['p99_ms']} ms "
          f"-> {'met' if met else 'NOT met'}")
    write_result(args.out, NAME, args.quick, {"resources": args.resources, "reps": args.reps}, results,
                 goals={"plan < 100 ms": {"p99_ms": results["plan"]["p99_ms"], "met": met}})


if __name__ == "__main__":
    main()
