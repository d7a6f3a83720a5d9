"""Deployment config shorthands and the default release timeout."""

from __future__ import annotations

import pytest

from bluegreen.engines.codedeploy.configs import TrafficRouting, default_timeout, parse_config
from bluegreen.errors import UsageError


@pytest.mark.parametrize(
    ("value", "name", "aws"),
    [
        ("all-at-once", "bluegreen.AllAtOnce", {"type": "AllAtOnce"}),
        (
            "canary:10%/5m",
            "bluegreen.Canary10Percent5Minutes",
            {
                "type": "TimeBasedCanary",
                "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5},
            },
        ),
        (
            "canary:25%/1h",
            "bluegreen.Canary25Percent60Minutes",
            {
                "type": "TimeBasedCanary",
                "timeBasedCanary": {"canaryPercentage": 25, "canaryInterval": 60},
            },
        ),
        (
            "linear:20%/2",
            "bluegreen.Linear20PercentEvery2Minutes",
            {
                "type": "TimeBasedLinear",
                "timeBasedLinear": {"linearPercentage": 20, "linearInterval": 2},
            },
        ),
    ],
)
def test_shorthands_become_deterministic_custom_configs(
    value: str, name: str, aws: dict[str, object]
) -> None:
    choice = parse_config(value)
    assert choice.name == name
    assert choice.routing is not None
    assert choice.routing.to_aws() == aws
    assert choice.shorthand == value


def test_names_pass_through() -> None:
    choice = parse_config("CodeDeployDefault.ECSCanary10Percent5Minutes")
    assert choice.shorthand is None
    assert choice.name == "CodeDeployDefault.ECSCanary10Percent5Minutes"
    assert choice.routing == TrafficRouting("TimeBasedCanary", 10, 5)
    custom = parse_config("MyTeam.Slow")
    assert custom.routing is None
    assert custom.name == "MyTeam.Slow"


@pytest.mark.parametrize(
    "bad",
    [
        "canary:0%/5m",
        "canary:100%/5m",
        "linear:10%/0m",
        "canary:10/5m",
        "canary 10",
        "no spaces allowed",
    ],
)
def test_bad_shorthands_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_config(bad, where="spec.yaml:7: codedeploy.deployment_config")
    assert info.value.exit_code == 2
    assert info.value.where == "spec.yaml:7: codedeploy.deployment_config"


def test_durations() -> None:
    assert TrafficRouting("TimeBasedLinear", 10, 1).duration_seconds == 9 * 60
    assert TrafficRouting("TimeBasedLinear", 30, 2).steps == 3
    assert TrafficRouting("TimeBasedCanary", 10, 5).duration_seconds == 300
    assert TrafficRouting("AllAtOnce").duration_seconds == 0
    assert TrafficRouting.from_aws(
        TrafficRouting("TimeBasedLinear", 10, 3).to_aws()
    ) == TrafficRouting("TimeBasedLinear", 10, 3)


def test_default_timeout_follows_the_cli_rule() -> None:
    # Short waits: the 30 minute floor.
    assert default_timeout(ready_wait_minutes=0, termination_wait_minutes=5, routing=None) == 1800
    # ready 60 + termination 30 + margin 10 minutes + a 15 minute canary.
    canary = TrafficRouting("TimeBasedCanary", 10, 15)
    assert (
        default_timeout(ready_wait_minutes=60, termination_wait_minutes=30, routing=canary)
        == (100 + 15) * 60
    )
    # The 6 hour ceiling.
    assert (
        default_timeout(ready_wait_minutes=2000, termination_wait_minutes=2880, routing=None)
        == 6 * 3600
    )
