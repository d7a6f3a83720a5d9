"""Deployment configs: the shorthands, their deterministic CodeDeploy names, and durations.

`all-at-once`, `canary:P%/D` and `linear:P%/D` (D a whole number of minutes: `5m`, `1h`, `5`)
become custom ECS configs named `bluegreen.AllAtOnce`, `bluegreen.Canary10Percent5Minutes`,
`bluegreen.Linear10PercentEvery1Minutes`. Any other value is a CodeDeploy config name and
passes through untouched.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from bluegreen.errors import UsageError

PREFIX = "bluegreen."


@dataclass(frozen=True)
class TrafficRouting:
    """A time-based traffic routing (CodeDeploy `trafficRoutingConfig`)."""

    type: str  # AllAtOnce | TimeBasedCanary | TimeBasedLinear
    percentage: int = 100
    interval_minutes: int = 0

    def to_aws(self) -> dict[str, Any]:
        if self.type == "TimeBasedCanary":
            return {
                "type": self.type,
                "timeBasedCanary": {
                    "canaryPercentage": self.percentage,
                    "canaryInterval": self.interval_minutes,
                },
            }
        if self.type == "TimeBasedLinear":
            return {
                "type": self.type,
                "timeBasedLinear": {
                    "linearPercentage": self.percentage,
                    "linearInterval": self.interval_minutes,
                },
            }
        return {"type": "AllAtOnce"}

    @property
    def steps(self) -> int:
        """How many waits of `interval_minutes` the shift contains."""
        if self.type == "TimeBasedCanary":
            return 1
        if self.type == "TimeBasedLinear":
            return max(0, math.ceil(100 / self.percentage) - 1)
        return 0

    @property
    def duration_seconds(self) -> float:
        return float(self.steps * self.interval_minutes * 60)

    @property
    def step_seconds(self) -> float | None:
        return float(self.interval_minutes * 60) if self.steps else None

    @classmethod
    def from_aws(cls, trc: dict[str, Any] | None) -> TrafficRouting:
        if not trc:
            return cls("AllAtOnce")
        kind = str(trc.get("type", "AllAtOnce"))
        if kind == "TimeBasedCanary":
            c = trc.get("timeBasedCanary", {})
            return cls(kind, int(c.get("canaryPercentage", 0)), int(c.get("canaryInterval", 0)))
        if kind == "TimeBasedLinear":
            c = trc.get("timeBasedLinear", {})
            return cls(kind, int(c.get("linearPercentage", 0)), int(c.get("linearInterval", 0)))
        return cls("AllAtOnce")


@dataclass(frozen=True)
class ConfigChoice:
    """The config a deployment will use: its name, and the routing when we define it."""

    name: str
    routing: TrafficRouting | None  # set for shorthands (we create it when missing)
    shorthand: str | None = None


PREDEFINED: dict[str, TrafficRouting] = {
    "CodeDeployDefault.ECSAllAtOnce": TrafficRouting("AllAtOnce"),
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": TrafficRouting("TimeBasedLinear", 10, 1),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": TrafficRouting("TimeBasedLinear", 10, 3),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": TrafficRouting("TimeBasedCanary", 10, 5),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": TrafficRouting("TimeBasedCanary", 10, 15),
}

_SHORT = re.compile(r"^(canary|linear):\s*(\d+)\s*%\s*/\s*(\d+)\s*([mh]?)$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9._+=,@-]{1,100}$")


def parse_config(value: str, where: str = "--deployment-config") -> ConfigChoice:
    """Turn a `--deployment-config` / spec value into the config to use."""
    text = value.strip()
    if text.lower() in ("all-at-once", "allatonce"):
        return ConfigChoice(f"{PREFIX}AllAtOnce", TrafficRouting("AllAtOnce"), text)
    m = _SHORT.match(text)
    if m:
        kind, pct, amount, unit = m.group(1).lower(), int(m.group(2)), int(m.group(3)), m.group(4)
        minutes = amount * 60 if unit.lower() == "h" else amount
        if not 1 <= pct <= 99:
            raise UsageError(
                f"{kind} percentage must be between 1 and 99, got {pct}",
                where=where,
                hint="e.g. canary:10%/5m or linear:20%/1m",
            )
        if not 1 <= minutes <= 2880:
            raise UsageError(
                f"{kind} interval must be between 1 minute and 48 hours, got {minutes} minutes",
                where=where,
            )
        if kind == "canary":
            name = f"{PREFIX}Canary{pct}Percent{minutes}Minutes"
            return ConfigChoice(name, TrafficRouting("TimeBasedCanary", pct, minutes), text)
        name = f"{PREFIX}Linear{pct}PercentEvery{minutes}Minutes"
        return ConfigChoice(name, TrafficRouting("TimeBasedLinear", pct, minutes), text)
    if text.lower().startswith(("canary", "linear")):
        raise UsageError(
            f"cannot read deployment config shorthand {value!r}",
            where=where,
            hint="use canary:P%/Nm or linear:P%/Nm with whole minutes, e.g. canary:10%/5m",
        )
    if not _NAME.match(text):
        raise UsageError(
            f"{value!r} is neither a deployment config name nor a shorthand",
            where=where,
            hint="use a CodeDeploy config name, all-at-once, canary:10%/5m or linear:10%/1m",
        )
    return ConfigChoice(text, PREDEFINED.get(text))


def default_timeout(
    *,
    ready_wait_minutes: float,
    termination_wait_minutes: float,
    routing: TrafficRouting | None,
    margin_minutes: float = 10.0,
) -> float:
    """The release timeout in seconds when none is given (the AWS CLI's rule, plus the shift):
    ready wait + termination wait + the config's duration + margin, at least 30 minutes,
    at most 6 hours."""
    shift = routing.duration_seconds if routing is not None else 0.0
    total = (ready_wait_minutes + termination_wait_minutes + margin_minutes) * 60 + shift
    return float(min(max(total, 30 * 60), 6 * 3600))
