"""Two corrections made inside moto's models, where no correction of its answers can reach:
the comparison or bookkeeping happens while moto computes the answer.

- CloudWatch: a metric is identified by its namespace, name and dimensions, whatever order
  the dimensions are given in ("A metric is uniquely defined by a name, a namespace, and zero
  or more dimensions" — https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Dimension;
  GetMetricData returns "data for a metric only if the dimensions you specify match the
  metric's dimensions", https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html).
  moto matches GetMetricData's dimensions by sorting both lists, and its Dimension ordering
  compares a value with a name, so the match depends on the order given. Dimensions are
  ordered by (name, value) instead.
- ELBv2: a target group's LoadBalancerArns are "the Amazon Resource Names (ARN) of the load
  balancers that route traffic to this target group"
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroup.html).
  moto records a load balancer only when a listener or rule is created forwarding to the
  group, never when ModifyListener or ModifyRule (a weighted ForwardConfig, as CodeDeploy
  writes) starts or stops forwarding, and records it once per listener. After every change
  to listeners and rules each group's list is recomputed from what forwards to it.
- IAM: AWS managed policies exist in every account; moto loads none unless told to load all of
  them (thousands, slow). The ones bluegreen attaches are loaded always:
  AmazonECSInfrastructureRolePolicyForLoadBalancers, the policy of the ECS infrastructure role
  for load balancers (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html),
  from moto's own copy of AWS's managed policies.

`apply()` installs them once per process; it is idempotent.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_applied = False

ELBV2_WRITES = (
    "create_listener",
    "modify_listener",
    "delete_listener",
    "create_rule",
    "modify_rule",
    "delete_rule",
    "delete_load_balancer",
)


def _dimension_lt(self: Any, other: Any) -> bool:
    return (str(self.name or ""), str(self.value or "")) < (
        str(other.name or ""),
        str(other.value or ""),
    )


def forwarded_groups(actions: list[Any]) -> set[str]:
    """Target group ARNs a list of moto FakeActions forwards to (plain or weighted)."""
    arns: set[str] = set()
    for action in actions or []:
        if getattr(action, "type", None) != "forward":
            continue
        data = getattr(action, "data", {}) or {}
        if data.get("TargetGroupArn"):
            arns.add(str(data["TargetGroupArn"]))
        for group in (data.get("ForwardConfig") or {}).get("TargetGroups") or []:
            if group.get("TargetGroupArn"):
                arns.add(str(group["TargetGroupArn"]))
    return arns


def reassociate(backend: Any) -> None:
    """Recompute every target group's load balancers from the listeners and rules that
    forward to it."""
    routes: dict[str, set[str]] = {}
    for lb_arn, balancer in list(backend.load_balancers.items()):
        for listener in list(balancer.listeners.values()):
            for rule in list(listener.rules.values()):
                for tg_arn in forwarded_groups(rule.actions):
                    routes.setdefault(tg_arn, set()).add(lb_arn)
            for tg_arn in forwarded_groups(listener.default_actions):
                routes.setdefault(tg_arn, set()).add(lb_arn)
    for tg_arn, group in list(backend.target_groups.items()):
        group.load_balancer_arns = sorted(routes.get(tg_arn, set()))


def _reassociating(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        reassociate(self)
        return result

    return wrapper


# AWS managed policies every sandbox account has (moto's copy of AWS's documents)
MANAGED_POLICIES = ("AmazonECSInfrastructureRolePolicyForLoadBalancers",)
_managed_data: dict[str, Any] | None = None


def _managed_policies(self: Any, original: Callable[[Any], list[Any]]) -> list[Any]:
    loaded = original(self)
    if loaded:
        return loaded  # moto loads them all (MOTO_IAM_LOAD_MANAGED_POLICIES)
    global _managed_data
    import json

    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy

    if _managed_data is None:
        everything = json.loads(aws_managed_policies_data)
        _managed_data = {name: everything[name] for name in MANAGED_POLICIES if name in everything}
    return [
        AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
        for name, data in _managed_data.items()
    ]


def apply() -> None:
    global _applied
    with _lock:
        if _applied:
            return
        from moto.cloudwatch.models import Dimension
        from moto.elbv2.models import ELBv2Backend
        from moto.iam.models import IAMBackend

        Dimension.__lt__ = _dimension_lt  # type: ignore[method-assign]
        original = IAMBackend._init_aws_policies
        IAMBackend._init_aws_policies = functools.partialmethod(  # type: ignore[method-assign,assignment]
            _managed_policies, original
        )
        for name in ELBV2_WRITES:
            setattr(ELBv2Backend, name, _reassociating(getattr(ELBv2Backend, name)))
        _applied = True
