"""The realistic throttling fault's token buckets, on a clock the test moves: each action
family holds its burst and refills at its sustained rate, as the AWS pages in
bluegreen/sandbox/throttling.py describe."""

from __future__ import annotations

from bluegreen.sandbox.throttling import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drain(buckets: TokenBuckets, service: str, operation: str, most: int = 1000) -> int:
    taken = 0
    while taken < most and buckets.take("us-east-1", service, operation):
        taken += 1
    return taken


def test_ecs_cluster_reads_share_a_bucket_of_50_refilled_at_20_a_second() -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html —
    "cluster read actions (such as DescribeClusters) have a bucket size of 50 tokens" and
    a refill rate of 20 a second; ListClusters draws on the same bucket."""
    clock = Clock()
    buckets = TokenBuckets(clock)
    assert drain(buckets, "ecs", "DescribeClusters", 30) == 30
    assert drain(buckets, "ecs", "ListClusters") == 20
    assert not buckets.take("us-east-1", "ecs", "DescribeClusters")
    clock.now = 0.5
    assert drain(buckets, "ecs", "ListClusters") == 10
    clock.now = 60.0
    assert drain(buckets, "ecs", "ListClusters") == 50  # never more than the burst


def test_families_regions_and_services_have_their_own_buckets() -> None:
    """Per account and Region, per action family (same page)."""
    clock = Clock()
    buckets = TokenBuckets(clock)
    drain(buckets, "ecs", "DescribeClusters")
    assert buckets.take("us-east-1", "ecs", "DescribeServices")
    assert buckets.take("eu-west-1", "ecs", "DescribeClusters")
    assert buckets.take("us-east-1", "monitoring", "DescribeAlarms")


def test_cloudwatch_rates_per_action() -> None:
    """https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html
    — DescribeAlarms 9 and PutMetricAlarm 3 transactions per second."""
    clock = Clock()
    buckets = TokenBuckets(clock)
    assert drain(buckets, "monitoring", "DescribeAlarms") == 9
    assert drain(buckets, "monitoring", "PutMetricAlarm") == 3
    clock.now = 1.0
    assert drain(buckets, "monitoring", "PutMetricAlarm") == 3
