"""ELBv2 gateway: target groups and listeners of a blue/green deployment group."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
