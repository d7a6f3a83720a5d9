"""What an ECS-native service deployment is expected to do next, and when (pure).

The strategy is in the deployment's `deploymentConfiguration` snapshot [§1]: BLUE_GREEN moves
production to green at once; CANARY moves `canaryPercent`, waits `canaryBakeTimeInMinutes`, then
moves the rest; LINEAR moves `stepPercent` at a time with `stepBakeTimeInMinutes` between steps
(none after 100 %). Then both revisions run `bakeTimeInMinutes` (BAKE_TIME) and CLEAN_UP scales
blue in; the deployment then ends SUCCESSFUL [§2].

From the production weight the follow last saw change (and when: the deployment's `updatedAt`
of that answer) and the stage it is in (and since when), this module builds an
`engines.cadence.Schedule`: one *step* just after each expected weight change, and an *edge*
around the expected end (from the end of the bake time until CLEAN_UP has had `END_SPREAD`
endpoint seconds). The cadence (cadence.next_wait) turns it into the wait before the next read:
one read every 6 s of the endpoint's clock during bakes, one just after each step, a burst
around the end.
"""

from __future__ import annotations

from dataclasses import dataclass

from bluegreen.engines import cadence

# Endpoint seconds ECS may take, after the bake time, to scale blue in (CLEAN_UP) and report
# the end; the end is awaited in a burst up to this long after the bake's end.
END_SPREAD = 30.0
# The API's defaults when the snapshot leaves them out [M:LinearConfiguration,
# M:CanaryConfiguration].
LINEAR_STEP = 10.0
LINEAR_BAKE_MINUTES = 6.0
CANARY_PERCENT = 5.0
CANARY_BAKE_MINUTES = 10.0
SHIFT_STAGES = ("PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
END_STAGES = ("POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP")


@dataclass(frozen=True)
class Strategy:
    """A deployment's strategy as its configuration snapshot tells it (minutes as given)."""

    kind: str = "BLUE_GREEN"  # BLUE_GREEN | LINEAR | CANARY
    step_percent: float = 100.0  # LINEAR: stepPercent; CANARY: canaryPercent
    step_bake_minutes: float = 0.0  # LINEAR: stepBakeTimeInMinutes; CANARY: canary...
    bake_minutes: float = 0.0  # bakeTimeInMinutes

    @classmethod
    def of(cls, conf: dict[str, object] | None) -> Strategy:
        conf = conf or {}
        kind = str(conf.get("strategy") or "BLUE_GREEN")
        bake = _number(conf.get("bakeTimeInMinutes"), 0.0)
        if kind == "LINEAR":
            linear = conf.get("linearConfiguration")
            linear = linear if isinstance(linear, dict) else {}
            return cls(
                kind,
                _number(linear.get("stepPercent"), LINEAR_STEP),
                _number(linear.get("stepBakeTimeInMinutes"), LINEAR_BAKE_MINUTES),
                bake,
            )
        if kind == "CANARY":
            canary = conf.get("canaryConfiguration")
            canary = canary if isinstance(canary, dict) else {}
            return cls(
                kind,
                _number(canary.get("canaryPercent"), CANARY_PERCENT),
                _number(canary.get("canaryBakeTimeInMinutes"), CANARY_BAKE_MINUTES),
                bake,
            )
        return cls(kind, 100.0, 0.0, bake)

    def steps_left(self, weight: float) -> int:
        """Production steps still to come after green's share reached `weight` percent."""
        if weight >= 100.0:
            return 0
        if self.kind == "CANARY":
            return 2 if weight < min(self.step_percent, 100.0) < 100.0 else 1
        if self.kind != "LINEAR":
            return 1
        count, done = 0, weight
        while done < 100.0 and count < 1000:
            done = min(100.0, round(done + max(self.step_percent, 0.1), 1))
            count += 1
        return count


def _number(value: object, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def native_schedule(
    strategy: Strategy,
    *,
    stage: str | None,
    stage_since: float | None,
    weight: float | None,
    weight_since: float | None,
    scale: float = 1.0,
) -> cadence.Schedule:
    """The schedule of a deployment IN_PROGRESS at `stage` (entered at `stage_since`, epoch
    seconds), green's production share `weight` (set at `weight_since`); `scale`: endpoint
    seconds per wall second. Nothing is scheduled before the production shift starts (green's
    tasks start and pass their health checks in their own time)."""
    bake = cadence.scaled(strategy.bake_minutes * 60.0, scale)
    spread = cadence.scaled(END_SPREAD, scale)
    if stage in END_STAGES and stage_since is not None:
        # CLEAN_UP: the end may come at any moment; before it, the bake time ends it
        end = stage_since if stage == "CLEAN_UP" else stage_since + bake
        return cadence.Schedule((cadence.Edge(end, end + spread),), (), scale)
    if stage not in SHIFT_STAGES or stage_since is None:
        return cadence.Schedule(scale=scale)
    interval = cadence.scaled(strategy.step_bake_minutes * 60.0, scale)
    if weight is None or weight <= 0.0 or weight_since is None:
        # the first production step comes as soon as the stage's hooks pass
        left = strategy.steps_left(0.0)
        steps = tuple(stage_since + interval * k for k in range(left))
    else:
        left = strategy.steps_left(weight)
        steps = tuple(weight_since + interval * k for k in range(1, left + 1))
    final = steps[-1] if steps else (weight_since or stage_since)
    end = final + bake
    return cadence.Schedule((cadence.Edge(end, end + spread),), steps, scale)
