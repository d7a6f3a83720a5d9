"""Client-side pacing of RegisterTaskDefinition (bluegreen/aws/pacing.py): a session keeps
ECS's task definition modification bucket (20 at once, then 1 a second per account and Region,
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html), so a
fan-out's registrations are sent when the bucket has a token instead of being throttled."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bluegreen.aws import ecs
from bluegreen.aws.pacing import LATE, TASK_DEFINITION_WRITES, Pacer, Rate
from bluegreen.aws.session import Aws
from bluegreen.engines.codedeploy.follow import CancelFlag, SharedReads
from bluegreen.errors import ExitCode
from bluegreen.release.fanout import ReleaseRequest, fan_out, prepare_release
from bluegreen.sandbox.server import SandboxServer
from bluegreen.sandbox.stack import StackResult
from bluegreen.spec.load import load_spec
from tests.api_budget.test_preflight import Out
from tests.conftest import sandbox_call


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_burst_goes_at_once_then_one_turn_a_second() -> None:
    clock = FakeClock()
    pacer = Pacer(Rate("test", 20, 1.0), clock)
    waits = [pacer.turn() for _ in range(25)]
    assert waits[:20] == [0.0] * 20
    assert waits[20:] == [1.0 + LATE, 2.0 + LATE, 3.0 + LATE, 4.0 + LATE, 5.0 + LATE]


def test_turns_follow_the_refill_and_the_bucket_never_holds_more_than_its_burst() -> None:
    clock = FakeClock()
    pacer = Pacer(Rate("test", 3, 0.5), clock)
    assert [pacer.turn() for _ in range(4)] == [0.0, 0.0, 0.0, 2.0 + LATE]
    clock.now += 2.0  # the fourth request's turn came, and it was sent
    assert pacer.turn() == 2.0 + LATE
    clock.now += 3600.0  # an hour idle refills three tokens, no more
    assert [pacer.turn() for _ in range(4)] == [0.0, 0.0, 0.0, 2.0 + LATE]


def test_a_session_keeps_one_pacer_per_family_and_a_region_its_own() -> None:
    aws = Aws(region="us-east-1")
    assert aws.pacer(TASK_DEFINITION_WRITES) is aws.pacer(TASK_DEFINITION_WRITES)
    assert aws.with_region("eu-west-1").pacer(TASK_DEFINITION_WRITES) is not aws.pacer(
        TASK_DEFINITION_WRITES
    )


def _definition(n: int) -> dict[str, object]:
    return {
        "family": "paced",
        "containerDefinitions": [{"name": "app", "image": f"busybox:{n}", "memory": 16}],
    }


def test_registrations_that_wait_their_turn_are_never_throttled(aws_env: SandboxServer) -> None:
    count = TASK_DEFINITION_WRITES.capacity + 4  # the burst, and four more
    sandbox_call(aws_env, "faults", {"kind": "throttle", "realistic": True})
    try:
        # The bucket is there: the same registrations sent at once are throttled.
        bare = boto3.client(
            "ecs",
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        refused: list[str] = []
        for n in range(int(count)):
            try:
                bare.register_task_definition(**_definition(n))  # type: ignore[arg-type]
            except ClientError as exc:
                refused.append(exc.response["Error"]["Code"])
        assert refused
        assert all("Throttl" in code for code in refused), refused
        sandbox_call(aws_env, "faults", method="DELETE")  # a full bucket again
        sandbox_call(aws_env, "faults", {"kind": "throttle", "realistic": True})

        aws = Aws(region="us-east-1")
        retries: list[int] = []
        answered: list[float] = []
        lock = threading.Lock()

        def register(n: int) -> None:
            time.sleep(ecs.registration_turn(aws))
            answer = aws.ecs().register_task_definition(**_definition(100 + n))  # type: ignore[arg-type]
            with lock:
                retries.append(answer["ResponseMetadata"]["RetryAttempts"])
                answered.append(time.monotonic())

        threads = [threading.Thread(target=register, args=(n,)) for n in range(int(count))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        sandbox_call(aws_env, "faults", method="DELETE")
    assert len(retries) == count
    assert retries == [0] * len(retries)  # no answer was a throttling error retried
    assert max(answered) - min(answered) >= 3.5  # the four beyond the burst, a second apart


def test_a_cancel_while_a_registration_waits_its_turn_registers_nothing(
    aws_env: SandboxServer, stacks: list[StackResult]
) -> None:
    """A fan-out's release whose registration turn is far off (the session's bucket spent by
    others) says it waits, and a cancel meanwhile ends it with exit 130 before any write."""
    aws = Aws(region="us-east-1")
    pacer = aws.pacer(TASK_DEFINITION_WRITES)
    for _ in range(int(TASK_DEFINITION_WRITES.capacity) + 60):
        pacer.turn()  # the next turn is a minute away
    spec = load_spec(Path(stacks[0].directory / "bluegreen.yaml"), None)
    before = aws.ecs().list_task_definitions()["taskDefinitionArns"]
    cancel = CancelFlag()
    request = ReleaseRequest(var_overrides={"log_level": "paced"})
    runner = prepare_release(spec, aws, request, cancel=cancel, shared=SharedReads(aws))
    out = Out()
    threading.Timer(1.0, cancel.set).start()
    started = time.monotonic()
    outcome = fan_out([spec], lambda _: runner, out, max_parallel=1)
    took = time.monotonic() - started
    assert outcome.exit_code == ExitCode.CANCELLED, outcome.lines()
    assert took < 10
    paced = [o for o in out.objects if o.get("event") == "paced"]
    assert paced
    assert paced[0]["seconds"] > 50
    after = aws.ecs().list_task_definitions()["taskDefinitionArns"]
    assert after == before  # nothing was registered
    assert stacks[0].application
    assert stacks[0].deployment_group
    groups = aws.codedeploy().list_deployments(
        applicationName=stacks[0].application, deploymentGroupName=stacks[0].deployment_group
    )
    assert groups["deployments"] == []  # nor any deployment created
