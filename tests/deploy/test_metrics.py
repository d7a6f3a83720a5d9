"""Client-side metric checks: queries from the target groups, thresholds, relative to blue."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bluegreen.engines.codedeploy.metrics import breached, evaluate, queries

GREEN = {"TargetGroup": "targetgroup/g/1", "LoadBalancer": "app/lb/9"}
BLUE = {"TargetGroup": "targetgroup/b/2", "LoadBalancer": "app/lb/9"}


@dataclass(frozen=True)
class Check:
    name: str = "green-5xx"
    namespace: str = "AWS/ApplicationELB"
    metric: str = "HTTPCode_Target_5XX_Count"
    stat: str = "Sum"
    period: int = 60
    target_group: str = "green"
    dimensions: dict[str, str] = field(default_factory=dict)
    comparison: str = "GreaterThanThreshold"
    threshold: float = 5.0
    relative_to_blue: bool = False


@pytest.mark.parametrize(
    ("comparison", "value", "hit"),
    [
        ("GreaterThanThreshold", 5.0, False),
        ("GreaterThanThreshold", 5.1, True),
        ("GreaterThanOrEqualToThreshold", 5.0, True),
        ("LessThanThreshold", 5.0, False),
        ("LessThanOrEqualToThreshold", 5.0, True),
    ],
)
def test_comparisons(comparison: str, value: float, hit: bool) -> None:
    assert breached(comparison, value, 5.0) is hit


def test_green_check_uses_green_dimensions() -> None:
    c = Check(dimensions={"AvailabilityZone": "a"})
    (q,) = queries([c], green=GREEN, blue=BLUE)
    assert q.dimensions == {"AvailabilityZone": "a", **GREEN}
    (v,) = evaluate([c], [q], {q.id: 9.0})
    assert v.breached
    assert v.value == 9.0
    (v,) = evaluate([c], [q], {q.id: None})
    assert not v.breached
    assert v.value is None


def test_relative_to_blue_compares_the_difference() -> None:
    c = Check(relative_to_blue=True, threshold=2.0)
    qs = queries([c], green=GREEN, blue=BLUE)
    assert [q.side for q in qs] == ["green", "blue"]
    ids = {q.side: q.id for q in qs}
    (v,) = evaluate([c], qs, {ids["green"]: 10.0, ids["blue"]: 9.0})
    assert v.value == 1.0
    assert not v.breached
    (v,) = evaluate([c], qs, {ids["green"]: 10.0, ids["blue"]: None})
    assert v.value == 10.0
    assert v.breached


def test_no_query_until_the_target_groups_are_known() -> None:
    assert queries([Check()], green=None, blue=None) == []
    (q,) = queries([Check(target_group="none")], green=None, blue=None)
    assert q.dimensions == {}
    assert q.side == "none"
