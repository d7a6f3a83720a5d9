"""A fan-out of rolling services reads them in shared DescribeServices batches."""

from __future__ import annotations

from bluegreen.engines.codedeploy.follow import CancelFlag, SharedReads
from bluegreen.engines.rolling import rollout as rolling
from bluegreen.errors import ExitCode
from bluegreen.release.fanout import ReleaseRequest, Runner, fan_out, prepare_release
from bluegreen.spec.load import load_spec
from bluegreen.spec.model import Spec
from tests.api_budget.conftest import Requests
from tests.conftest import sandbox_call
from tests.fixtures.rolling import Recorder, Stack


def test_rolling_watches_of_a_fan_out_share_describe_services(rolling_stack: Stack) -> None:
    rolling_stack.push("v2")
    names = ("a", "b", "c")
    for name in names:
        rolling_stack.service("apps", name)
        rolling_stack.spec("apps", name, name=f"{name}.yaml")
    # rollouts of 3 s (a 20x clock, not the tests' 600x: 60 simulated seconds), so the watches
    # overlap
    sandbox_call(rolling_stack.sandbox, "settings", {"timeScale": 20})
    requests = Requests()
    aws = requests.attach(rolling_stack.aws)
    shared = SharedReads(aws)
    cancel = CancelFlag()
    loop = rolling.Loop(sleep=cancel.sleep, cancelled=lambda: cancel.is_set)
    request = ReleaseRequest(timeout_seconds=30)

    def prepare(spec: Spec) -> Runner:
        return prepare_release(spec, aws, request, loop=loop, cancel=cancel, shared=shared)

    specs = [load_spec(rolling_stack.folder / f"{name}.yaml") for name in names]
    result = fan_out(specs, prepare, Recorder(), max_parallel=len(specs))

    assert result.exit_code == ExitCode.OK, result.lines()
    calls = [list(p["services"]) for p in requests.of("ecs:DescribeServices")]
    for name in names:
        assert rolling_stack.describe("apps", name)["taskDefinition"].endswith(f"/{name}:2")
    # the watches woke together and read their services in one call (all three at least once;
    # a watch that started a tick later or ended a tick sooner is missing from some)
    batched = [sorted(c) for c in calls if len(c) > 1]
    assert sorted(names) in batched, batched
