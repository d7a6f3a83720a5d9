"""Shared monitor reads: one BatchGetDeployments / DescribeAlarms per tick for a fan-out."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bluegreen.aws.session import Aws
from bluegreen.engines.codedeploy.follow import CancelFlag, Coalescer, SharedReads
from bluegreen.errors import ExitCode, Throttled
from bluegreen.release.fanout import ReleaseRequest, Runner, fan_out, prepare_release
from bluegreen.sandbox.stack import StackResult
from bluegreen.spec.load import load_spec
from bluegreen.spec.model import Spec
from tests.api_budget.conftest import Requests
from tests.api_budget.test_preflight import Out


def test_callers_waiting_behind_a_batch_share_the_next_one() -> None:
    release = threading.Event()
    batches: list[list[str]] = []

    def fetch(keys: list[str]) -> dict[str, str]:
        batches.append(keys)
        if len(batches) == 1:
            release.wait(5)
        return {k: k.upper() for k in keys if k != "gone"}

    reads: Coalescer[str, str] = Coalescer(fetch, gather=0.0)
    answers: dict[str, dict[str, str]] = {}

    def ask(key: str) -> None:
        answers[key] = reads.get([key])

    first = threading.Thread(target=ask, args=("a",))
    first.start()
    while not batches:
        time.sleep(0.001)
    others = [threading.Thread(target=ask, args=(k,)) for k in ("b", "c", "gone")]
    for t in others:
        t.start()
    time.sleep(0.05)  # all three are waiting behind the first batch
    release.set()
    for t in [first, *others]:
        t.join(5)
    assert batches[0] == ["a"]
    assert sorted(batches[1]) == ["b", "c", "gone"]
    assert len(batches) == 2
    assert answers == {"a": {"a": "A"}, "b": {"b": "B"}, "c": {"c": "C"}, "gone": {}}


def test_an_error_reaches_every_caller_of_the_batch() -> None:
    def fetch(keys: list[str]) -> dict[str, str]:
        raise Throttled("slow down")

    reads: Coalescer[str, str] = Coalescer(fetch, gather=0.02)
    errors: list[BaseException] = []

    def ask(key: str) -> None:
        try:
            reads.get([key])
        except Throttled as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(k,)) for k in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(errors) == 3
    assert reads.calls < 3  # the gather window put at least two in one batch


class RecordedSleeps(CancelFlag):
    """A cancel flag whose sleeps are recorded instead of slept."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_sleeps_end_on_the_common_grid() -> None:
    now = [10.03]
    flag = RecordedSleeps()
    shared = SharedReads(Aws(region="us-east-1"), grid=0.2)
    sleep = shared.sleeper(flag, lambda: now[0])
    sleep(1.0)  # ends at 11.0, the grid point nearest 11.03
    now[0] = 10.17
    sleep(1.0)  # 11.2
    now[0] = 10.31
    sleep(0.0)  # 10.4 is nearest: never in the past, at most half a grid later
    assert flag.slept == pytest.approx([0.97, 1.03, 0.09])


def test_sleeps_of_a_cadence_end_on_its_multiples() -> None:
    """Rolling watches read every second: started at different moments of a second, they
    still wake on the same whole seconds (shorter sleeps keep to the grid)."""
    now = [10.03]
    flag = RecordedSleeps()
    shared = SharedReads(Aws(region="us-east-1"), grid=0.2)
    sleep = shared.sleeper(flag, lambda: now[0], cadence=1.0)
    sleep(1.0)  # 11.0
    now[0] = 10.43
    sleep(1.0)  # 11.0 as well, not 11.4
    now[0] = 10.61
    sleep(1.0)  # 12.0: the whole second nearest 11.61
    now[0] = 10.31
    sleep(0.3)  # below the cadence: the grid point nearest 10.61, 10.6
    assert flag.slept == pytest.approx([0.97, 0.57, 1.39, 0.29])


def _spec(stack: StackResult) -> Spec:
    return load_spec(Path(stack.directory / "bluegreen.yaml"), None)


def test_fan_out_monitors_share_batched_reads(stacks: list[StackResult]) -> None:
    requests = Requests()
    aws = requests.attach(Aws(region="us-east-1"))
    shared = SharedReads(aws)
    request = ReleaseRequest(
        var_overrides={"log_level": "debug"}, deployment_config="CodeDeployDefault.ECSAllAtOnce"
    )

    def prepare(spec: Spec) -> Runner:
        return prepare_release(spec, aws, request, cancel=CancelFlag(), shared=shared)

    out = Out()
    result = fan_out([_spec(s) for s in stacks], prepare, out, max_parallel=len(stacks))

    assert result.exit_code == ExitCode.OK, result.lines()
    ids = {o.deployment_id for o in result.results.values()}
    assert len(ids) == len(stacks)
    # No per-deployment GetDeployment: the monitors read through BatchGetDeployments ...
    assert requests.counts["codedeploy:GetDeployment"] == 0
    batches = [set(p["deploymentIds"]) for p in requests.of("codedeploy:BatchGetDeployments")]
    assert batches
    assert set().union(*batches) == ids
    # ... and reads of the same moment are one call: fewer calls than deployment reads.
    reads = sum(len(b) for b in batches)
    assert max(len(b) for b in batches) == len(stacks)
    assert len(batches) < reads
    # The alarms of several services are read in one DescribeAlarms call.
    alarm_calls = [set(p["AlarmNames"]) for p in requests.of("cloudwatch:DescribeAlarms")]
    wanted = {a for s in stacks for a in _spec(s).rollback.alarms}
    assert max(len(names) for names in alarm_calls) > len(wanted) // len(stacks)
    # The caller's identity is read once for the whole fan-out.
    assert requests.counts["sts:GetCallerIdentity"] == 1
    # One DescribeServices per spec (the controller check and the plan share it).
    assert requests.counts["ecs:DescribeServices"] == len(stacks)
    finished: list[Any] = [o for o in out.objects if o.get("event") == "serviceResult"]
    assert len(finished) == len(stacks)


def _checks(spec: Spec, aws: Aws) -> tuple[list[str], list[str], list[str]]:
    from bluegreen.aws import codedeploy

    group = codedeploy.deployment_group(
        aws, spec.codedeploy.application, spec.codedeploy.deployment_group
    )
    listeners = [*group.prod_listeners, *group.test_listeners]
    return list(group.target_groups), listeners, list(spec.rollback.alarms)


def test_preflight_checks_of_several_specs_share_one_call_each(stacks: list[StackResult]) -> None:
    requests = Requests()
    aws = requests.attach(Aws(region="us-east-1"))
    checks = [_checks(_spec(s), aws) for s in stacks]
    shared = SharedReads(aws, gather=0.3)  # long enough for all three to join one batch
    missing: dict[int, list[str]] = {}

    def check(i: int) -> None:
        missing[i] = shared.preflight(*checks[i])

    requests.counts.clear()
    threads = [threading.Thread(target=check, args=(i,)) for i in range(len(checks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert missing == {i: [] for i in range(len(checks))}
    assert requests.counts["elbv2:DescribeTargetGroups"] == 1
    assert requests.counts["elbv2:DescribeListeners"] == 1
    assert requests.counts["cloudwatch:DescribeAlarms"] == 1
    names = requests.of("elbv2:DescribeTargetGroups")[0]["Names"]
    assert sorted(names) == sorted(n for c in checks for n in c[0])


def test_a_missing_resource_fails_only_the_spec_that_names_it(stacks: list[StackResult]) -> None:
    from bluegreen.errors import ResourceNotFound

    aws = Aws(region="us-east-1")
    good, other = (_checks(_spec(s), aws) for s in stacks[:2])
    shared = SharedReads(aws, gather=0.3)
    outcome: dict[str, Any] = {}

    def check(name: str, tgs: list[str], listeners: list[str], alarms: list[str]) -> None:
        try:
            outcome[name] = shared.preflight(tgs, listeners, alarms)
        except ResourceNotFound as exc:
            outcome[name] = exc

    bad = (["no-such-tg", *other[0][1:]], other[1], [*other[2], "no-such-alarm"])
    threads = [
        threading.Thread(target=check, args=("good", *good)),
        threading.Thread(target=check, args=("bad", *bad)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert outcome["good"] == []
    assert isinstance(outcome["bad"], ResourceNotFound)
    assert "no-such-tg" in outcome["bad"].render()  # as reading them alone says it
    assert shared.preflight([], bad[1], bad[2]) == ["no-such-alarm"]


def _loop(shared: SharedReads) -> Any:
    from bluegreen.aws.codedeploy import DeploymentGroup
    from bluegreen.engines.codedeploy.follow import Loop, Probe
    from bluegreen.engines.codedeploy.machine import MonitorConfig

    group = DeploymentGroup(
        "app", "dg", "ECS", "c", "s", ("a", "b"), ("l",), (), "CONTINUE_DEPLOYMENT", 0,
        "TERMINATE", 5, None, True,
    )  # fmt: skip
    probe = Probe(shared.aws, group, shared=shared)
    loop = Loop(probe=probe, config=MonitorConfig("d-1", 0.0), sink=lambda e, s: None)
    loop.sleep = shared.sleeper(loop.cancel, loop.clock)
    return loop


def test_a_wait_between_reads_makes_no_read_and_cancel_ends_it() -> None:
    """The monitors of a fan-out read on their shared cadence only (an expected end is awaited
    in a burst of reads instead): a wait between two reads reads nothing."""
    reads: list[float] = []

    def fetch(keys: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        reads.append(time.monotonic())
        return {("deployment", "d-1"): {"deploymentId": "d-1", "status": "InProgress"}}

    shared = SharedReads(Aws(region="us-east-1"), grid=0.02, gather=0.0)
    shared.reads = Coalescer(fetch, gather=0.0)
    loop = _loop(shared)
    began = time.monotonic()
    loop._wait(0.3)
    assert time.monotonic() - began == pytest.approx(0.3, abs=0.1)
    assert reads == []
    loop.cancel.set()
    began = time.monotonic()
    loop._wait(5.0)
    assert time.monotonic() - began < 0.5


def test_the_sandbox_engine_reads_the_alarms_of_all_deployments_in_one_call(
    stacks: list[StackResult], aws_env: Any
) -> None:
    """Three deployments watched by the sandbox's CodeDeploy engine at once: each tick reads the
    alarms of all of them in one DescribeAlarms, not one call per deployment."""
    engine = aws_env.codedeploy.engine
    calls: list[list[str]] = []
    real = engine.actions

    def counting(region: str) -> Any:
        actions = real(region)
        read = actions.alarms_in_alarm

        def alarms_in_alarm(names: list[str]) -> list[str]:
            calls.append(list(names))
            return read(names)  # the real read, through moto

        actions.alarms_in_alarm = alarms_in_alarm
        return actions

    engine.actions = counting
    aws = Aws(region="us-east-1")
    shared = SharedReads(aws)
    request = ReleaseRequest(
        var_overrides={"log_level": "debug"}, deployment_config="CodeDeployDefault.ECSAllAtOnce"
    )

    def prepare(spec: Spec) -> Runner:
        return prepare_release(spec, aws, request, cancel=CancelFlag(), shared=shared)

    specs = [_spec(s) for s in stacks]
    result = fan_out(specs, prepare, Out(), max_parallel=len(stacks))
    assert result.exit_code == ExitCode.OK, result.lines()
    wanted = {a for s in specs for a in s.rollback.alarms}
    assert wanted
    assert calls
    assert max(len(set(c)) for c in calls) == len(wanted), calls  # all of them in one call


def test_applications_of_several_specs_are_read_in_one_batch(stacks: list[StackResult]) -> None:
    """The preflights of a fan-out ask for their applications' platform through one
    BatchGetApplications (100 names a call), not one GetApplication each; an application the
    batch cannot read (AWS fails the whole batch for one missing name) is read alone, and its
    error is the one a lone read gives."""
    from bluegreen.errors import ResourceNotFound

    requests = Requests()
    aws = requests.attach(Aws(region="us-east-1"))
    apps = [_spec(s).codedeploy.application for s in stacks]
    assert len(set(apps)) == len(stacks)  # one application per stack
    shared = SharedReads(aws, gather=0.3)  # long enough for all to join one batch
    platforms: dict[str, Any] = {}

    def check(app: str) -> None:
        try:
            platforms[app] = shared.application_platform(app)
        except ResourceNotFound as exc:
            platforms[app] = exc

    def run(names: list[str]) -> None:
        threads = [threading.Thread(target=check, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)

    run(apps)
    assert platforms == dict.fromkeys(apps, "ECS")
    assert requests.counts["codedeploy:BatchGetApplications"] == 1
    assert requests.counts["codedeploy:GetApplication"] == 0
    assert sorted(requests.of("codedeploy:BatchGetApplications")[0]["applicationNames"]) == sorted(
        apps
    )

    requests.counts.clear()
    platforms.clear()
    run([apps[0], "no-such-app"])
    assert platforms[apps[0]] == "ECS"
    assert isinstance(platforms["no-such-app"], ResourceNotFound)
    assert "no-such-app" in platforms["no-such-app"].render()


def test_a_deployment_config_is_read_once_a_session(stacks: list[StackResult]) -> None:
    """Deployment configs cannot change (only be created or deleted): the specs of a fan-out
    that use the same one read it once, even when they ask at the same moment; a config that
    does not exist is remembered as missing until this run creates it, and a run creates it
    once however many releases need it."""
    from bluegreen.aws import codedeploy

    requests = Requests()
    aws = requests.attach(Aws(region="us-east-1"))
    found: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: found.append(
                codedeploy.deployment_config(aws, "CodeDeployDefault.ECSAllAtOnce")
            )
        )
        for _ in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(found) == 5
    assert all(f == found[0] for f in found)
    assert found[0] is not None
    assert requests.counts["codedeploy:GetDeploymentConfig"] == 1
    assert codedeploy.deployment_config(aws, "no-such-config") is None
    assert codedeploy.deployment_config(aws, "no-such-config") is None
    assert requests.counts["codedeploy:GetDeploymentConfig"] == 2

    routing = {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 7, "canaryInterval": 3},
    }
    created: list[bool] = []
    makers = [
        threading.Thread(
            target=lambda: created.append(
                codedeploy.ensure_deployment_config(aws, "no-such-config", routing)
            )
        )
        for _ in range(5)
    ]
    for t in makers:
        t.start()
    for t in makers:
        t.join(10)
    assert sorted(created) == [False, False, False, False, True]  # one of them created it
    assert requests.counts["codedeploy:CreateDeploymentConfig"] == 1
    assert codedeploy.deployment_config(aws, "no-such-config") == routing  # read again
    assert requests.counts["codedeploy:GetDeploymentConfig"] == 3
