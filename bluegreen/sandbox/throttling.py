"""AWS's per-account, per-Region token buckets, for the opt-in realistic throttling fault
(`sandbox fault throttle --realistic`): each request takes a token from its action family's
bucket; a bucket holds at most its burst capacity and refills at its sustained rate, in wall
time (clients fan out in real seconds, whatever the sandbox clock's scale); a request that
finds its bucket empty is throttled.

Sources and assumptions, per service:

- ECS: "Request throttling for the Amazon ECS API"
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html): token
  buckets per action family, "bucket maximum capacity" (burst) and "bucket refill rate"
  (sustained). Cluster read actions hold 50 tokens and refill 20 a second, as the page's own
  example states; the read families below refill 20 a second. The burst capacities of the
  other families and the modification families' rates follow the page's table as read when
  this was written; compare with the page before relying on an exact figure.
- CloudWatch: transactions per second per action from "CloudWatch service quotas"
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html);
  CloudWatch states a rate, not a burst, so a bucket holds one second's worth.
- CodeDeploy, ELBv2, ECR and the rest: AWS publishes no per-action API rate for them; the
  assumption is a bucket of 20 refilled at 10 a second per service (an explicit, documented
  guess, not an AWS figure).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    family: str
    capacity: float  # burst: tokens the bucket holds at most
    refill: float  # sustained: tokens added per second


def _family(family: str, capacity: float, refill: float, *actions: str) -> dict[str, Bucket]:
    bucket = Bucket(family, capacity, refill)
    return dict.fromkeys(actions, bucket)


ECS_BUCKETS: dict[str, Bucket] = {
    **_family("cluster read", 50, 20, "DescribeClusters", "ListClusters"),
    **_family(
        "cluster modification",
        20,
        1,
        "CreateCluster",
        "DeleteCluster",
        "UpdateCluster",
        "UpdateClusterSettings",
        "PutClusterCapacityProviders",
    ),
    **_family(
        "service read",
        100,
        20,
        "DescribeServices",
        "ListServices",
        "ListServicesByNamespace",
        "DescribeServiceDeployments",
        "DescribeServiceRevisions",
        "ListServiceDeployments",
    ),
    **_family(
        "service modification",
        50,
        5,
        "CreateService",
        "UpdateService",
        "DeleteService",
        "UpdateServicePrimaryTaskSet",
        "CreateTaskSet",
        "UpdateTaskSet",
        "DeleteTaskSet",
        "StopServiceDeployment",
        "ContinueServiceDeployment",
    ),
    **_family(
        "task definition read",
        100,
        20,
        "DescribeTaskDefinition",
        "ListTaskDefinitions",
        "ListTaskDefinitionFamilies",
    ),
    **_family(
        "task definition modification",
        20,
        1,
        "RegisterTaskDefinition",
        "DeregisterTaskDefinition",
        "DeleteTaskDefinitions",
    ),
    **_family(
        "cluster resource read",
        100,
        20,
        "DescribeTasks",
        "ListTasks",
        "DescribeTaskSets",
        "DescribeContainerInstances",
        "ListContainerInstances",
    ),
    **_family("run task", 100, 20, "RunTask", "StartTask", "StopTask"),
}
ECS_OTHER = Bucket("other ECS actions", 50, 20)

CLOUDWATCH_TPS = {
    "DescribeAlarms": 9,
    "DescribeAlarmsForMetric": 9,
    "GetMetricData": 50,
    "GetMetricStatistics": 400,
    "ListMetrics": 25,
    "PutMetricAlarm": 3,
    "PutMetricData": 500,
    "DeleteAlarms": 3,
    "SetAlarmState": 3,
    "DescribeAlarmHistory": 3,
}
CLOUDWATCH_OTHER_TPS = 3
ASSUMED = Bucket("assumed per-service bucket", 20, 10)


def bucket_for(service: str | None, operation: str | None) -> tuple[str, Bucket]:
    """(bucket key within a service, bucket) for a request."""
    op = operation or ""
    if service == "ecs":
        bucket = ECS_BUCKETS.get(op, ECS_OTHER)
        return bucket.family, bucket
    if service == "monitoring":
        tps = CLOUDWATCH_TPS.get(op, CLOUDWATCH_OTHER_TPS)
        return op or "other", Bucket(op or "other CloudWatch actions", tps, tps)
    return "all", ASSUMED


class TokenBuckets:
    """Buckets per (region, service, family), filled on first use."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._state: dict[tuple[str, str, str], tuple[float, float]] = {}

    def take(self, region: str | None, service: str | None, operation: str | None) -> bool:
        """Take a token for this request; False when its bucket is empty (throttled)."""
        key, bucket = bucket_for(service, operation)
        where = (region or "", service or "", key)
        now = self._now()
        with self._lock:
            tokens, since = self._state.get(where, (bucket.capacity, now))
            tokens = min(bucket.capacity, tokens + (now - since) * bucket.refill)
            if tokens < 1.0:
                self._state[where] = (tokens, now)
                return False
            self._state[where] = (tokens - 1.0, now)
            return True

    def clear(self) -> None:
        with self._lock:
            self._state.clear()
