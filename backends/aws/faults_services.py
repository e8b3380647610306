"""Faults of the application services, and what target health does to the instances behind a
load balancer.

- a target that does not serve (health check failing, or a stopped instance still registered)
  is a fault on that instance when it is one of the environment's (else on its target group),
  naming the target group and the reason, and lowers the instance's health to Degraded; each of
  the environment's load balancers in front of that target group gets a fault too;
- a Lambda function whose state or last update failed; errors and throttles that CloudWatch
  reports for it (the metric sampler's latest values, when present); errors that lower it to
  Degraded also make its STATUS `N errors/min`;
- an Auto Scaling group below its desired capacity or with unhealthy instances; an instance the
  group marks Unhealthy gets a fault naming the group, and is lowered to Degraded (the group's
  and the instance's details never contradict each other);
- a queue whose dead-letter queue (its redrive policy's target) holds messages.
"""

from __future__ import annotations

from backends.aws.health_services import target_problems
from backends.aws.inventory_services import ServicesInventory
from tui.core.model import Fault, Health, Resource, Severity, resource_id

# What a failing target lowers to Degraded (as alarms do: never Suspended/Missing/Unknown).
_LOWERED = {Health.HEALTHY, Health.PROGRESSING, Health.DEGRADED}


def service_faults(resources: list[Resource], apps: ServicesInventory) -> list[Fault]:
    by_id = {r.id: r for r in resources}
    return (_target_faults(by_id, apps) + _lambda_faults(resources) + _asg_faults(resources)
            + _asg_instance_faults(by_id, apps) + _queue_faults(resources))


def _target_faults(by_id: dict[str, Resource], apps: ServicesInventory) -> list[Fault]:
    faults: list[Fault] = []
    lb_names = {lb["LoadBalancerArn"]: str(lb.get("LoadBalancerName")) for lb in apps.load_balancers}
    for tg in apps.target_groups:
        problems = target_problems(tg)
        if not problems:
            continue
        tg_name = str(tg.get("TargetGroupName"))
        tg_id = resource_id("aws", "target-group", tg_name)
        for p in problems:
            instance = by_id.get(resource_id("aws", "ec2-instance", p.target))
            where = f"target of {tg_name}" + (f" on port {p.port}" if p.port else "")
            message = f"{where}: {p.state}: {p.reason}"
            if instance is not None:
                faults.append(Fault(resource=instance.id, severity=Severity.HIGH, reason="TargetUnhealthy",
                                    message=message))
                if instance.health in _LOWERED:
                    instance.health = Health.DEGRADED
                    instance.health_reason = f"{message}; {instance.health_reason}" if instance.health_reason \
                        else message
            else:
                faults.append(Fault(resource=tg_id, severity=Severity.HIGH, reason="TargetUnhealthy",
                                    message=f"{p.target} {message}"))
        total = len(tg.get("_targets") or [])
        for lb_arn in tg.get("LoadBalancerArns") or []:
            lb_id = resource_id("aws", "load-balancer", lb_names.get(lb_arn, ""))
            if lb_arn in lb_names and lb_id in by_id:
                first = problems[0]
                faults.append(Fault(
                    resource=lb_id, severity=Severity.CRITICAL if len(problems) == total else Severity.HIGH,
                    reason="TargetsNotServing",
                    message=f"target group {tg_name}: {len(problems)}/{total} targets not serving "
                            f"({first.target} {first.state}: {first.reason})", count=len(problems)))
    return faults


def _lambda_faults(resources: list[Resource]) -> list[Fault]:
    faults = []
    for res in resources:
        if res.kind != "lambda-function" or res.health != Health.DEGRADED:
            continue
        a = res.attributes
        reason = "LambdaFailed" if a.get("state") == "Failed" else "LambdaUpdateFailed"
        faults.append(Fault(resource=res.id, severity=Severity.HIGH, reason=reason, message=res.health_reason))
    return faults


def lambda_metric_faults(resources: list[Resource]) -> list[Fault]:
    """Errors and throttles in the latest CloudWatch values (`Resource.metrics`, set by the
    metric sampler; absent until its first answer, and when CloudWatch is refused). Errors also
    lower a Healthy function to Degraded."""
    faults = []
    for res in resources:
        if res.kind != "lambda-function":
            continue
        errors, throttles = res.metrics.get("errors") or 0, res.metrics.get("throttles") or 0
        if errors > 0:
            message = f"{errors:g} invocation errors in the latest minute CloudWatch reports"
            faults.append(Fault(resource=res.id, severity=Severity.MEDIUM, reason="LambdaErrors", message=message))
            if res.health in (Health.HEALTHY, Health.PROGRESSING):
                res.health = Health.DEGRADED
                res.health_reason = f"{message}; {res.health_reason}"
                res.status = f"{errors:g} errors/min"  # STATUS carries the cause, not `Active`
        if throttles > 0:
            faults.append(Fault(resource=res.id, severity=Severity.MEDIUM, reason="LambdaThrottles",
                                message=f"{throttles:g} throttled invocations in the latest minute CloudWatch "
                                        "reports"))
    return faults


def _asg_faults(resources: list[Resource]) -> list[Fault]:
    return [Fault(resource=r.id, severity=Severity.HIGH, reason="BelowDesiredCapacity", message=r.health_reason)
            for r in resources if r.kind == "autoscaling-group" and r.health == Health.DEGRADED]


def _asg_instance_faults(by_id: dict[str, Resource], apps: ServicesInventory) -> list[Fault]:
    """An instance its Auto Scaling group marks Unhealthy: a fault on the instance naming the
    group and its health check, and the instance's health lowered to Degraded (it is about to be
    replaced), so its detail agrees with the group's."""
    faults: list[Fault] = []
    for group in apps.autoscaling_groups:
        name = str(group.get("AutoScalingGroupName"))
        check = group.get("HealthCheckType") or "EC2"
        for member in group.get("Instances") or []:
            if member.get("HealthStatus") != "Unhealthy":
                continue
            instance = by_id.get(resource_id("aws", "ec2-instance", str(member.get("InstanceId"))))
            if instance is None:
                continue
            message = (f"Auto Scaling group {name} marks it Unhealthy ({check} health check; "
                       f"{member.get('LifecycleState') or 'no lifecycle state'}): the group replaces it")
            faults.append(Fault(resource=instance.id, severity=Severity.HIGH, reason="AsgUnhealthy",
                                message=message))
            if instance.health in _LOWERED:
                instance.health = Health.DEGRADED
                instance.health_reason = f"{message}; {instance.health_reason}" if instance.health_reason \
                    else message
    return faults


def _queue_faults(resources: list[Resource]) -> list[Fault]:
    faults = []
    for res in resources:
        a = res.attributes
        if res.kind == "sqs-queue" and a.get("dead_letter_messages"):
            faults.append(Fault(
                resource=res.id, severity=Severity.HIGH, reason="DeadLetterMessages",
                message=f"dead-letter queue {a['dead_letter_queue']} holds {a['dead_letter_messages']} messages "
                        f"that {res.name} failed to process", count=int(a["dead_letter_messages"])))
    return faults
