"""ELBv2 gateway: target groups and listeners of a blue/green deployment group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bluegreen.aws.errors import aws_errors
from bluegreen.errors import ResourceNotFound

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws


@dataclass(frozen=True)
class TargetGroup:
    name: str
    arn: str
    load_balancer_arns: tuple[str, ...]

    @property
    def dimension(self) -> str:
        """The CloudWatch `TargetGroup` dimension: `targetgroup/<name>/<id>`."""
        return self.arn.split(":", 5)[-1]


@dataclass(frozen=True)
class Listener:
    arn: str
    load_balancer_arn: str
    protocol: str
    port: int


def load_balancer_dimension(lb_arn: str) -> str:
    """The CloudWatch `LoadBalancer` dimension: `app/<name>/<id>`."""
    resource = lb_arn.split(":", 5)[-1]
    return resource.removeprefix("loadbalancer/")


def target_groups(aws: Aws, names: Sequence[str]) -> dict[str, TargetGroup]:
    if not names:
        return {}
    with aws_errors(resource=f"target groups {', '.join(names)}"):
        resp = aws.elbv2().describe_target_groups(Names=list(names))
    out: dict[str, TargetGroup] = {}
    for tg in resp.get("TargetGroups", []):
        name = tg.get("TargetGroupName", "")
        out[name] = TargetGroup(
            name, tg.get("TargetGroupArn", ""), tuple(tg.get("LoadBalancerArns", []))
        )
    missing = [n for n in names if n not in out]
    if missing:
        raise ResourceNotFound(f"target group {', '.join(missing)} not found")
    return out


def listeners(aws: Aws, arns: Sequence[str]) -> dict[str, Listener]:
    if not arns:
        return {}
    with aws_errors(resource=", ".join(arns)):
        resp = aws.elbv2().describe_listeners(ListenerArns=list(arns))
    out = {
        li.get("ListenerArn", ""): Listener(
            li.get("ListenerArn", ""),
            li.get("LoadBalancerArn", ""),
            str(li.get("Protocol", "HTTP")),
            int(li.get("Port", 80)),
        )
        for li in resp.get("Listeners", [])
    }
    missing = [a for a in arns if a not in out]
    if missing:
        raise ResourceNotFound(f"listener {', '.join(missing)} not found")
    return out


def listener_url(aws: Aws, listener: Listener) -> str:
    """`http(s)://<load balancer DNS>:<port>` for a listener."""
    with aws_errors(resource=listener.load_balancer_arn):
        resp = aws.elbv2().describe_load_balancers(LoadBalancerArns=[listener.load_balancer_arn])
    lbs = resp.get("LoadBalancers", [])
    dns = lbs[0].get("DNSName", "") if lbs else ""
    scheme = "https" if listener.protocol in ("HTTPS", "TLS") else "http"
    return f"{scheme}://{dns}:{listener.port}"


def url_forwarding_to(aws: Aws, target_group_arn: str) -> str | None:
    """The URL of the first listener whose default action forwards to the target group (the
    production URL of a rolling service); None when no listener does."""
    with aws_errors(resource=target_group_arn):
        found = aws.elbv2().describe_target_groups(TargetGroupArns=[target_group_arn])
        for lb_arn in (found.get("TargetGroups") or [{}])[0].get("LoadBalancerArns", []):
            for li in aws.elbv2().describe_listeners(LoadBalancerArn=lb_arn).get("Listeners", []):
                for action in li.get("DefaultActions", []):
                    forwards = [action.get("TargetGroupArn")] + [
                        g.get("TargetGroupArn")
                        for g in (action.get("ForwardConfig") or {}).get("TargetGroups", [])
                    ]
                    if target_group_arn in forwards:
                        listener = Listener(
                            li.get("ListenerArn", ""),
                            lb_arn,
                            str(li.get("Protocol", "HTTP")),
                            int(li.get("Port", 80)),
                        )
                        return listener_url(aws, listener)
    return None


# --- listener rules (the ECS-native routes `migrate` creates or reuses) --------------------------
def listener_rules(aws: Aws, listener_arn: str) -> list[dict[str, Any]]:
    """DescribeRules of a listener: every rule, the default one included (`IsDefault`)."""
    from bluegreen.aws.ecs import _plain

    rules: list[dict[str, Any]] = []
    params: dict[str, Any] = {"ListenerArn": listener_arn}
    with aws_errors(resource=listener_arn):
        while True:
            resp = aws.elbv2().describe_rules(**params)
            rules += [_plain(r) for r in resp.get("Rules") or []]
            marker = resp.get("NextMarker")
            if not marker:
                return rules
            params["Marker"] = marker


def listener_record(aws: Aws, listener_arn: str) -> dict[str, Any] | None:
    """DescribeListeners' record of one listener (protocol, default actions); None when the
    listener does not exist."""
    from bluegreen.aws.ecs import _plain

    client = aws.elbv2()
    with aws_errors(resource=listener_arn):
        try:
            resp = client.describe_listeners(ListenerArns=[listener_arn])
        except client.exceptions.ListenerNotFoundException:
            return None
    found = resp.get("Listeners") or []
    return dict(_plain(found[0])) if found else None


def create_forward_rule(
    aws: Aws,
    listener_arn: str,
    priority: int,
    weights: Sequence[tuple[str, int]],
    tags: Mapping[str, str],
) -> str:
    """CreateRule: every path (`/*`) forwarded to the target groups with these weights; returns
    the rule's ARN."""
    with aws_errors(resource=listener_arn):
        resp = aws.elbv2().create_rule(
            ListenerArn=listener_arn,
            Priority=priority,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
            Actions=[
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights
                        ]
                    },
                }
            ],
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
    return str(resp["Rules"][0]["RuleArn"])


def has_tag(aws: Aws, resource_arn: str, key: str) -> bool:
    """Whether the ELB resource (a rule, say) carries the tag `key`."""
    with aws_errors(resource=resource_arn):
        resp = aws.elbv2().describe_tags(ResourceArns=[resource_arn])
    return any(
        t.get("Key") == key for d in resp.get("TagDescriptions") or [] for t in d.get("Tags") or []
    )


def rules_forwarding_to(
    aws: Aws, listener_arns: Sequence[str], target_group_names: Sequence[str]
) -> list[str]:
    """The ARNs of the listeners' non-default rules that forward to any of the target groups
    (named), with or without weights."""
    wanted = set(target_group_names)
    found: list[str] = []
    for listener in listener_arns:
        for rule in listener_rules(aws, listener):
            if rule.get("IsDefault"):
                continue
            arns: list[str] = []
            for action in rule.get("Actions") or []:
                arns.append(str(action.get("TargetGroupArn") or ""))
                forward = action.get("ForwardConfig") or {}
                arns += [
                    str(g.get("TargetGroupArn") or "") for g in forward.get("TargetGroups") or []
                ]
            # arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID
            if any(a.split(":targetgroup/")[-1].split("/")[0] in wanted for a in arns if a):
                found.append(str(rule.get("RuleArn")))
    return found
