"""Client-side metric checks (the spec's `rollback.metrics`): queries and thresholds (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bluegreen.engines.codedeploy.machine import MetricValue

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws

COMPARISONS = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


class Check(Protocol):
    """What a metric check needs (bluegreen.spec.model.MetricCheck fits)."""

    @property
    def name(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def stat(self) -> str: ...
    @property
    def period(self) -> int: ...
    @property
    def target_group(self) -> str: ...
    @property
    def dimensions(self) -> Mapping[str, str]: ...
    @property
    def comparison(self) -> str: ...
    @property
    def threshold(self) -> float: ...
    @property
    def relative_to_blue(self) -> bool: ...


@dataclass(frozen=True)
class Query:
    id: str
    check: str  # the check's name
    side: str  # green | blue | none
    namespace: str
    metric: str
    stat: str
    period: int
    dimensions: dict[str, str]


def breached(comparison: str, value: float, threshold: float) -> bool:
    test = COMPARISONS.get(comparison)
    if test is None:
        raise ValueError(f"unknown comparison {comparison!r}")
    return bool(test(value, threshold))


def _qid(index: int, side: str) -> str:
    return f"m{index}_{re.sub(r'[^a-z0-9]', '', side.lower())}"


def queries(
    checks: Sequence[Check],
    *,
    green: Mapping[str, str] | None,
    blue: Mapping[str, str] | None,
) -> list[Query]:
    """GetMetricData queries for the checks.

    `green` / `blue` are the CloudWatch dimensions (TargetGroup, LoadBalancer) of the two
    target groups; a check on `green` (or `relative_to_blue`) needs them, and yields no query
    while they are unknown.
    """
    out: list[Query] = []
    for i, c in enumerate(checks):
        sides: list[str] = []
        if c.target_group == "none":
            sides = ["none"]
        elif c.target_group == "blue":
            sides = ["blue"]
        else:
            sides = ["green", "blue"] if c.relative_to_blue else ["green"]
        for side in sides:
            dims = dict(c.dimensions)
            if side == "green":
                if green is None:
                    break
                dims.update(green)
            elif side == "blue":
                if blue is None:
                    break
                dims.update(blue)
            out.append(
                Query(_qid(i, side), c.name, side, c.namespace, c.metric, c.stat, c.period, dims)
            )
    return out


def evaluate(
    checks: Sequence[Check], qs: Sequence[Query], values: Mapping[str, float | None]
) -> tuple[MetricValue, ...]:
    """Each check's current value (green − blue when relative) and whether it is breached.

    No datapoint means no evidence: a check without data is not breached. For a relative check,
    a missing blue datapoint counts as 0.
    """
    by_check: dict[str, dict[str, float | None]] = {}
    for q in qs:
        by_check.setdefault(q.check, {})[q.side] = values.get(q.id)
    out: list[MetricValue] = []
    for c in checks:
        got = by_check.get(c.name)
        if got is None:
            continue
        if c.relative_to_blue and c.target_group not in ("none", "blue"):
            g = got.get("green")
            value = None if g is None else g - (got.get("blue") or 0.0)
        else:
            value = next(iter(got.values()), None)
        hit = value is not None and breached(c.comparison, value, c.threshold)
        out.append(MetricValue(c.name, value, hit, c.threshold, c.comparison))
    return tuple(out)


def target_group_dimensions(aws: Aws, name: str) -> dict[str, str]:
    """The CloudWatch dimensions of a target group's metrics: TargetGroup, and LoadBalancer
    when a load balancer forwards to it."""
    from bluegreen.aws import elbv2

    tg = elbv2.target_groups(aws, [name])[name]
    dims = {"TargetGroup": tg.dimension}
    if tg.load_balancer_arns:
        dims["LoadBalancer"] = elbv2.load_balancer_dimension(tg.load_balancer_arns[0])
    return dims


def read_checks(
    aws: Aws,
    checks: Sequence[Check],
    *,
    green: Mapping[str, str] | None,
    blue: Mapping[str, str] | None,
) -> tuple[MetricValue, ...]:
    """The checks' current values from CloudWatch (one GetMetricData for all of them), green
    and blue being the target groups' dimensions (None while unknown)."""
    from datetime import UTC, datetime, timedelta

    from bluegreen.aws import cloudwatch

    qs = queries(checks, green=green, blue=blue)
    longest = max((q.period for q in qs), default=60)
    end = datetime.now(UTC)
    start = end - timedelta(seconds=max(3 * longest, 180))
    values = cloudwatch.latest_values(
        aws,
        [
            cloudwatch.MetricQuery(q.id, q.namespace, q.metric, q.stat, q.period, q.dimensions)
            for q in qs
        ],
        start,
        end + timedelta(seconds=60),
    )
    return evaluate(checks, qs, values)
