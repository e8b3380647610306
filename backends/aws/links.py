"""Xray links between an environment's AWS Resources (pure functions over resource_builder's
attributes).

- load balancer → target group (`forwards to`) → target (`targets`, with the target's state:
  an EC2 instance, or a Lambda function) — the target group's `load_balancers` and the load
  balancer's `target_groups` both name the pair
- Auto Scaling group → instance (`launched`)
- instance / load balancer → security group (`in group`), instance → EBS volume (`mounts`:
  the volume's attachments)
- SQS queue → its dead-letter queue (`dead-letters to`)
"""

from __future__ import annotations

from typing import Any

from tui.core.model import Resource, resource_id
from tui.core.xray import Link


def _rid(kind: str, name: Any) -> str:
    return resource_id("aws", kind, str(name))


def _target_id(target_type: Any, target: Any, lambdas: dict[str, str]) -> str | None:
    if target_type == "lambda":
        return lambdas.get(str(target))
    if target_type in (None, "instance") and str(target).startswith("i-"):
        return _rid("ec2-instance", target)
    return None  # an IP target is no resource of the environment


def _target_group_links(tg: Resource, lambdas: dict[str, str]) -> list[Link]:
    out = [Link(_rid("load-balancer", lb), tg.id, "forwards to") for lb in tg.attributes.get("load_balancers") or ()]
    for target in tg.attributes.get("targets") or ():
        if not isinstance(target, dict):
            continue
        tid = _target_id(tg.attributes.get("target_type"), target.get("id"), lambdas)
        if tid is not None:
            state = target.get("state")
            out.append(Link(tg.id, tid, f"targets ({state})" if state else "targets"))
    return out


def resource_links(resources: list[Resource]) -> list[Link]:
    lambdas = {str(r.attributes.get("function_arn")): r.id for r in resources
               if r.kind == "lambda-function" and r.attributes.get("function_arn")}
    links: list[Link] = []
    for res in resources:
        attrs = res.attributes
        if res.kind == "load-balancer":
            links += [Link(res.id, _rid("target-group", tg), "forwards to") for tg in attrs.get("target_groups") or ()]
            links += [Link(res.id, _rid("security-group", sg), "in group") for sg in attrs.get("security_groups") or ()]
        elif res.kind == "target-group":
            links += _target_group_links(res, lambdas)
        elif res.kind == "autoscaling-group":
            links += [Link(res.id, _rid("ec2-instance", i.get("id")), "launched")
                      for i in attrs.get("instances") or () if isinstance(i, dict) and i.get("id")]
        elif res.kind == "ec2-instance":
            links += [Link(res.id, _rid("security-group", sg), "in group") for sg in attrs.get("security_groups") or ()
                      if sg]
        elif res.kind == "ebs-volume":
            links += [Link(_rid("ec2-instance", iid), res.id, "mounts") for iid in attrs.get("attached_to") or () if iid]
        elif res.kind == "sqs-queue" and attrs.get("dead_letter_queue"):
            links.append(Link(res.id, _rid("sqs-queue", attrs["dead_letter_queue"]), "dead-letters to"))
    return links
