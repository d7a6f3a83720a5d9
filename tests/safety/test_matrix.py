"""The release safety invariant matrix (DESIGN.md, "Release safety invariants"): every engine ×
every guard × every deployment config, run through the CLI against the sandbox, and judged
from AWS's side (listener weights, primary task set, service task definition and deployments,
group and service rollback settings read back through boto3), never from bluegreen's output
alone.

- I1: each guard gates (exit 1 alarm/verify/unhealthy green, 3 timeout, 130 cancel), or the
  run is refused before any write (exit 2: no new task-definition revision, no deployment).
  Where the engine can hold production for it (CodeDeploy), a failing verify must have run
  while production was still wholly on the old revision.
- I2: after a non-zero exit production is wholly on the previous revision, or the result's
  reason names where production is and the one command that puts it back (which is run).
- I4: the group's (or service's) auto-rollback and alarm settings, and those the deployment
  ran with, are not weaker than before the deploy.
- I5: stop/approve/watch with nothing in flight exit 2; an id of another service's deployment
  is exit 2 and leaves that deployment running.

One stack per engine per module (`sandbox stack --kind ...`, built on first use); the rows run
one after another on it. Timing-sensitive guards (alarm, timeout, cancel) run with the sandbox
clock slowed so the release outlasts them; the rest at the suite's 600x. Adding an engine is
one entry in ENGINES (its probe reads what "production" means there).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen.aws.session import Aws
from bluegreen.sandbox.server import SandboxServer
from bluegreen.sandbox.stack import StackResult, create_stack, image_manifest
from tests.conftest import SANDBOX_TIME_SCALE, sandbox_call
from tests.helpers import Ran, run_cli, wait_for

ACTIVE = ["Created", "Queued", "InProgress", "Baking", "Ready"]
NATIVE_ACTIVE = [
    "PENDING",
    "IN_PROGRESS",
    "STOP_REQUESTED",
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
]
EXIT = {"alarm": 1, "verify": 1, "unhealthy": 1, "timeout": 3, "sigterm": 130, "sigint": 130}
TIMEOUT_FLAG = "1s"


# --- what production is, read from AWS ------------------------------------------------------------
@dataclass(frozen=True)
class Production:
    """Where production traffic goes: the one revision serving it wholly, or None and why."""

    revision: str | None
    detail: str


def family_revision(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def codedeploy_production(service: dict[str, Any], action: dict[str, Any]) -> Production:
    """CODE_DEPLOY: the production listener forwards 100% to one target group, the PRIMARY
    task set serves that target group, and the service names the same revision."""
    groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
        {"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 1}
    ]
    serving = [g["TargetGroupArn"] for g in groups if int(g.get("Weight", 1)) > 0]
    weights = {g["TargetGroupArn"].split("/")[-2]: int(g.get("Weight", 1)) for g in groups}
    primary = [t for t in service.get("taskSets", []) if t.get("status") == "PRIMARY"]
    detail = f"listener weights {weights}, task sets " + str(
        [
            (
                t["status"],
                family_revision(t["taskDefinition"]),
                t["loadBalancers"][0]["targetGroupArn"],
            )
            for t in service.get("taskSets", [])
        ]
    )
    if len(serving) != 1 or len(primary) != 1:
        return Production(None, detail)
    (task_set,) = primary
    if task_set["loadBalancers"][0]["targetGroupArn"] != serving[0]:
        return Production(None, "the PRIMARY task set is not on the serving group: " + detail)
    if task_set["taskDefinition"] != service["taskDefinition"]:
        return Production(None, f"service on {service['taskDefinition']}: {detail}")
    return Production(str(task_set["taskDefinition"]), detail)


def rolling_production(service: dict[str, Any], action: dict[str, Any]) -> Production:
    """ECS rolling: the service's task definition and its one, completed PRIMARY deployment are
    the same revision (no other deployment still running tasks)."""
    del action  # one target group: the listener says nothing about revisions
    deployments = service.get("deployments", [])
    detail = "deployments " + str(
        [
            (d["status"], d.get("rolloutState"), family_revision(d["taskDefinition"]))
            for d in deployments
        ]
    )
    primary = [d for d in deployments if d.get("status") == "PRIMARY"]
    if len(primary) != 1 or len(deployments) != 1:
        return Production(None, detail)
    if primary[0].get("rolloutState") != "COMPLETED":
        return Production(None, detail)
    if primary[0]["taskDefinition"] != service["taskDefinition"]:
        return Production(None, f"service on {service['taskDefinition']}: {detail}")
    return Production(str(service["taskDefinition"]), detail)


def native_production(service: dict[str, Any], action: dict[str, Any]) -> Production:
    """ECS-native: the production listener RULE forwards wholly to one target group, the
    service names that target group as its production one, and its one, completed PRIMARY
    deployment runs the service's revision."""
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    serving = [g["TargetGroupArn"] for g in groups if int(g.get("Weight", 1)) > 0]
    weights = {g["TargetGroupArn"].split("/")[-2]: int(g.get("Weight", 1)) for g in groups}
    deployments = service.get("deployments", [])
    detail = f"rule weights {weights}, deployments " + str(
        [
            (d["status"], d.get("rolloutState"), family_revision(d["taskDefinition"]))
            for d in deployments
        ]
    )
    lbs = service.get("loadBalancers") or [{}]
    if len(serving) != 1 or lbs[0].get("targetGroupArn") != serving[0]:
        return Production(None, detail)
    if len(deployments) != 1 or deployments[0].get("rolloutState") != "COMPLETED":
        return Production(None, detail)
    if deployments[0]["taskDefinition"] != service["taskDefinition"]:
        return Production(None, f"service on {service['taskDefinition']}: {detail}")
    return Production(str(service["taskDefinition"]), detail)


# --- engines --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Engine:
    """One deployment engine of the matrix: the stack kind that builds it, the configs to run,
    how to read production and its rollback settings, and the sandbox clock for slow guards."""

    name: str
    kind: str
    configs: tuple[str | None, ...]
    production: Callable[[dict[str, Any], dict[str, Any]], Production]
    slow_scale: float  # the release outlasts a 1 s guard by seconds at this scale
    # Must a failing verify run before production moves? CodeDeploy can hold production until
    # verify passes (a group that waits before rerouting); a rolling update moves production
    # as it goes, so there verify may run after the rollout as long as failing rolls back
    # (issue 10: "refused or runs as a post-rollout check that rolls back").
    verify_before_production: bool = True


ENGINES = (
    Engine(
        "codedeploy",
        "codedeploy",
        ("all-at-once", "canary:10%/5m", "linear:10%/1m"),
        codedeploy_production,
        slow_scale=100.0,
    ),
    Engine(
        "rolling",
        "rolling",
        (None,),
        rolling_production,
        slow_scale=30.0,
        verify_before_production=False,
    ),
    Engine(
        "ecs-native",
        "ecs-native",
        ("all-at-once", "canary:10%/5m", "linear:10%/1m"),
        native_production,
        slow_scale=30.0,
    ),
)


@dataclass
class Target:
    """One engine's stack in the sandbox, and the reads the invariants need."""

    engine: Engine
    result: StackResult
    sandbox: SandboxServer
    tags: int = 0
    journal: Path = field(default_factory=Path)

    @property
    def dir(self) -> Path:
        return self.result.directory

    @property
    def codedeploy(self) -> bool:
        return self.result.application is not None

    @property
    def native(self) -> bool:
        """An ECS-native stack: production is a listener RULE, deployments ServiceDeployments."""
        return self.result.rules is not None

    def client(self, name: str) -> Any:
        return boto3.client(name, endpoint_url=self.sandbox.url, region_name="us-east-1")

    def new_image(self) -> str:
        """A new image in the stack's repository; returns its reference by tag."""
        self.tags += 1
        tag = f"m{self.tags}"
        self.client("ecr").put_image(
            repositoryName=self.result.repository,
            imageManifest=image_manifest(f"{self.engine.name}-{tag}"),
            imageTag=tag,
        )
        return f"{self.result.image.rsplit(':', 1)[0]}:{tag}"

    def service(self) -> dict[str, Any]:
        (svc,) = self.client("ecs").describe_services(
            cluster=self.result.cluster, services=[self.result.service]
        )["services"]
        return dict(svc)

    def prod_action(self) -> dict[str, Any]:
        if self.result.rules is not None:
            (rule,) = self.client("elbv2").describe_rules(RuleArns=[self.result.rules[0]])["Rules"]
            return dict(rule["Actions"][0])
        (listener,) = self.client("elbv2").describe_listeners(
            ListenerArns=[self.result.prod_listener]
        )["Listeners"]
        return dict(listener["DefaultActions"][0])

    def production(self) -> Production:
        return self.engine.production(self.service(), self.prod_action())

    def revisions(self) -> list[str]:
        family = self.result.service
        return list(
            self.client("ecs").list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
        )

    def deployments(self) -> set[str]:
        """Every deployment of the stack's service AWS knows about."""
        if self.native:
            return set(self.service_deployments())
        if self.codedeploy:
            return set(
                self.client("codedeploy").list_deployments(
                    applicationName=self.result.application,
                    deploymentGroupName=self.result.deployment_group,
                )["deployments"]
            )
        return {str(d["id"]) for d in self.service()["deployments"]}

    def service_deployments(self, *statuses: str) -> list[str]:
        """ListServiceDeployments of the stack's service (ECS-native), by status."""
        found = self.client("ecs").list_service_deployments(
            cluster=self.result.cluster,
            service=self.result.service,
            **({"status": list(statuses)} if statuses else {}),
        )["serviceDeployments"]
        return [str(b["serviceDeploymentArn"]) for b in found]

    def in_flight(self) -> list[str]:
        if self.native:
            return self.service_deployments(*NATIVE_ACTIVE)
        if self.codedeploy:
            return list(
                self.client("codedeploy").list_deployments(
                    applicationName=self.result.application,
                    deploymentGroupName=self.result.deployment_group,
                    includeOnlyStatuses=ACTIVE,
                )["deployments"]
            )
        return [
            str(d["id"])
            for d in self.service()["deployments"]
            if d.get("rolloutState") == "IN_PROGRESS"
        ]

    def guard_settings(self) -> dict[str, Any]:
        """The rollback settings the engine itself applies: the CodeDeploy group's, or the ECS
        service's deployment circuit breaker and deployment alarms."""
        if self.codedeploy:
            group = self.client("codedeploy").get_deployment_group(
                applicationName=self.result.application,
                deploymentGroupName=self.result.deployment_group,
            )["deploymentGroupInfo"]
            return {
                "autoRollback": group.get("autoRollbackConfiguration") or {},
                "alarms": group.get("alarmConfiguration") or {},
            }
        conf = self.service().get("deploymentConfiguration") or {}
        return {
            "breaker": conf.get("deploymentCircuitBreaker") or {},
            "alarms": conf.get("alarms") or {},
        }

    def deployment_settings(self, deployment_id: str) -> dict[str, Any] | None:
        """The rollback settings one CodeDeploy deployment ran with (its overrides applied)."""
        if not self.codedeploy or not deployment_id.startswith("d-"):
            return None
        info = self.client("codedeploy").get_deployment(deploymentId=deployment_id)[
            "deploymentInfo"
        ]
        return {
            "autoRollback": info.get("autoRollbackConfiguration") or {},
            "alarms": info.get("overrideAlarmConfiguration") or {},
        }

    def alarm(self) -> str:
        """An alarm the spec declares (the stack writes its alarms into `rollback.alarms`)."""
        return f"{self.result.service}-5xx"

    def settle(self, timeout: float = 30.0) -> None:
        """No fault, alarms OK, nothing in flight, production wholly on one revision."""
        sandbox_call(self.sandbox, "faults", method="DELETE")
        cw = self.client("cloudwatch")
        for alarm in cw.describe_alarms()["MetricAlarms"]:
            cw.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="OK", StateReason="test")
        sandbox_call(self.sandbox, "settings", {"timeScale": SANDBOX_TIME_SCALE})
        if self.codedeploy:
            for dep in self.in_flight():
                self.client("codedeploy").stop_deployment(
                    deploymentId=dep, autoRollbackEnabled=True
                )
        if self.native:
            ecs = self.client("ecs")
            for arn in self.service_deployments("PENDING", "IN_PROGRESS"):
                # it may have ended (or reached CLEAN_UP) meanwhile
                with contextlib.suppress(ecs.exceptions.ClientError):
                    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
        wait_for(
            lambda: not self.in_flight() and self.production().revision is not None,
            timeout,
            f"{self.engine.name} stack settles",
        )


ENV_NAMES = (
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CA_BUNDLE",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_ACTIONS",
    "CI",
)


@pytest.fixture(scope="module")
def matrix_stacks(
    sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[Engine], Target]]:
    """Per module: an empty sandbox, then each engine's stack built on first use and shared by
    the module's rows (and I5's other services, under `other-<kind>` names)."""
    base = tmp_path_factory.mktemp("matrix")
    built: dict[str, Target] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", sandbox.url)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("HOME", str(base))
        for name in ENV_NAMES:
            mp.delenv(name, raising=False)
        for name in list(os.environ):
            if name.startswith("AWS_ENDPOINT_URL_"):
                mp.delenv(name, raising=False)
        sandbox_call(sandbox, "reset")
        sandbox_call(sandbox, "settings", {"timeScale": SANDBOX_TIME_SCALE, "hooks": "succeed"})

        def get(engine: Engine, name: str | None = None) -> Target:
            key = name or engine.name
            if key not in built:
                stack_name = key if name else engine.kind.replace("-", "")[:4]
                result = create_stack(
                    Aws(region="us-east-1"), base / key, stack_name, kind=engine.kind
                )
                target = Target(engine, result, sandbox)
                target.settle()
                built[key] = target
            return built[key]

        yield get


@pytest.fixture
def on(
    matrix_stacks: Callable[..., Target], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Engine], Target]]:
    """The engine's stack with a clean slate (see Target.settle), its folder as working
    directory and a fresh journal; settled again afterwards so a failed row cannot leak."""
    used: list[Target] = []

    def get(engine: Engine) -> Target:
        target: Target = matrix_stacks(engine)
        target.settle()
        target.journal = tmp_path / "journal.jsonl"
        monkeypatch.chdir(target.dir)
        monkeypatch.setenv("BLUEGREEN_JOURNAL", str(target.journal))
        used.append(target)
        return target

    yield get
    for target in used:
        target.settle()


# --- one release under one guard ------------------------------------------------------------------
RECORDER = """
import json, sys, boto3
cluster, service, listener, path = sys.argv[1:5]
svc = boto3.client("ecs").describe_services(cluster=cluster, services=[service])["services"][0]
action = boto3.client("elbv2").describe_listeners(ListenerArns=[listener])["Listeners"][0]
json.dump({"service": svc, "action": action["DefaultActions"][0]}, open(path, "w"), default=str)
print("smoke test failed")
sys.exit(1)
"""


@dataclass
class Run:
    code: int
    result: dict[str, Any]
    stderr: str
    verify_saw: Production | None = None


def deploy_args(image: str, config: str | None) -> list[str]:
    args = ["-o", "json", "deploy", "--image", f"web={image}"]
    return args + (["--deployment-config", config] if config else [])


def run_in_process(args: list[str]) -> Run:
    ran: Ran = run_cli(*args)
    result = ran.result if ran.stdout.strip() else {}
    return Run(ran.code, result, ran.stderr)


def when_in_flight(target: Target, known: set[str], action: Callable[[], None]) -> threading.Thread:
    """In a background thread: run `action` once a new deployment is in flight."""

    def poll() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if set(target.in_flight()) - known:
                action()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return thread


def release(target: Target, guard: str | None, config: str | None, tmp_path: Path) -> Run:
    """Release a new image to `target` with `guard` acting during the release."""
    image = target.new_image()
    args = deploy_args(image, config)
    known = target.deployments()
    if guard in ("alarm", "timeout", "sigterm", "sigint"):
        sandbox_call(target.sandbox, "settings", {"timeScale": target.engine.slow_scale})
    if guard == "unhealthy":
        sandbox_call(target.sandbox, "faults", {"kind": "unhealthy-green"})
    if guard == "timeout":
        return run_in_process([*args, "--timeout", TIMEOUT_FLAG])
    if guard == "verify":
        record = tmp_path / "verify-saw.json"
        argv = [
            sys.executable,
            "-c",
            RECORDER,
            target.result.cluster,
            target.result.service,
            target.result.prod_listener,
            str(record),
        ]
        run = run_in_process([*args, "--verify", shlex.join(argv)])
        if record.exists():
            saw = json.loads(record.read_text())
            run.verify_saw = target.engine.production(saw["service"], saw["action"])
        return run
    if guard == "alarm":
        cw = target.client("cloudwatch")
        thread = when_in_flight(
            target,
            known,
            lambda: cw.set_alarm_state(
                AlarmName=target.alarm(), StateValue="ALARM", StateReason="matrix: alarm guard"
            ),
        )
        run = run_in_process(args)
        thread.join(timeout=5)
        return run
    if guard in ("sigterm", "sigint"):
        sig = signal.SIGTERM if guard == "sigterm" else signal.SIGINT
        proc = subprocess.Popen(
            [sys.executable, "-m", "bluegreen", *args, "--on-cancel", "rollback"],
            cwd=target.dir,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            wait_for(lambda: bool(set(target.in_flight()) - known), 30, "a deployment in flight")
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        lines = [line for line in out.splitlines() if line.strip()]
        return Run(proc.returncode, json.loads(lines[-1]) if lines else {}, err)
    return run_in_process(args)


# --- the invariants -------------------------------------------------------------------------------
def not_weaker(before: dict[str, Any], after: dict[str, Any], where: str) -> None:
    """I4: every rollback trigger enabled before is still enabled, with at least the same
    events and alarms."""
    for key in ("autoRollback", "alarms", "breaker"):
        old, new = before.get(key) or {}, after.get(key) or {}
        if not old.get("enabled", old.get("enable", False)):
            continue
        assert new.get("enabled", new.get("enable", False)), f"I4: {where} {key} switched off"
        assert set(old.get("events", [])) <= set(new.get("events", [])), (
            f"I4: {where} {key} events {old.get('events')} -> {new.get('events')}"
        )
        names = {a["name"] for a in old.get("alarms", [])} | set(old.get("alarmNames", []))
        kept = {a["name"] for a in new.get("alarms", [])} | set(new.get("alarmNames", []))
        assert names <= kept, f"I4: {where} {key} alarms {sorted(names)} -> {sorted(kept)}"
        if old.get("rollback"):
            assert new.get("rollback"), f"I4: {where} {key} rollback switched off"
        if not old.get("ignorePollAlarmFailure"):
            assert not new.get("ignorePollAlarmFailure"), f"I4: {where} {key} ignores failures"


COMMAND = re.compile(r"`(bluegreen [^`]+)`")


def assert_guard_row(target: Target, guard: str, config: str | None, tmp_path: Path) -> None:
    before = target.production()
    assert before.revision is not None, before.detail
    revisions = target.revisions()
    deployments = target.deployments()
    settings = target.guard_settings()

    run = release(target, guard, config, tmp_path)

    # I1: the guard gated, or the run was refused before any write
    assert run.code in (EXIT[guard], 2), (run.code, run.result, run.stderr[-2000:])
    if run.code == 2:
        assert target.revisions() == revisions, "I1: refused, yet a revision was registered"
        assert target.deployments() == deployments, "I1: refused, yet a deployment was started"
    if guard == "verify" and run.code != 2:
        assert run.verify_saw is not None, "verify never ran"
    if guard == "verify" and run.verify_saw and target.engine.verify_before_production:
        assert run.verify_saw.revision == before.revision, (
            "I1: production had moved before verify ran: " + run.verify_saw.detail
        )

    # I2: production wholly on the previous revision, or the reason says where and how back
    target.settle()
    now = target.production()
    if now.revision != before.revision:
        reason = str(run.result.get("reason", ""))
        live = family_revision(now.revision or "")
        assert now.revision, now.detail
        assert live in reason, (
            f"I2: production is on {now.detail}, not on {family_revision(before.revision)}, "
            f"and the reason does not say so: exit {run.code}, result {run.result}"
        )
        commands = COMMAND.findall(reason)
        assert commands, f"I2: the reason names no command to put production back: {reason!r}"
        back = run_in_process(["-o", "json", *shlex.split(commands[0])[1:]])
        assert back.code == 0, (back.result, back.stderr[-2000:])
        target.settle()
        assert target.production().revision == before.revision, target.production().detail

    # I4: nothing weaker than before, neither the engine's settings nor the deployment's own
    not_weaker(settings, target.guard_settings(), target.engine.name)
    for dep in target.deployments() - deployments:
        ran_with = target.deployment_settings(dep)
        if ran_with is not None and ran_with["autoRollback"]:
            not_weaker(settings, ran_with, f"deployment {dep}")


def assert_success_row(target: Target, config: str | None, tmp_path: Path) -> None:
    before = target.production()
    settings = target.guard_settings()
    run = release(target, None, config, tmp_path)
    assert run.code == 0, (run.result, run.stderr[-2000:])
    newest = max(target.revisions(), key=lambda arn: int(arn.rsplit(":", 1)[-1]))
    assert newest != before.revision
    target.settle()
    assert target.production().revision == newest, target.production().detail
    assert run.result["taskDefinitionArn"] == newest
    not_weaker(settings, target.guard_settings(), target.engine.name)


# --- I5: verbs with nothing to act on, and other services' deployments ----------------------------
IDLE_VERBS = (("stop",), ("approve",), ("watch", "--timeout", TIMEOUT_FLAG))


def other_deployment(
    target: Target, matrix_stacks: Callable[..., Target]
) -> tuple[str, Callable[[], bool]]:
    """A deployment in flight on another service of the same engine, and a check that it is
    still running, neither stopped nor rolled back. CodeDeploy: another stack's group (a second
    group on the same listeners would move this stack's production); ECS: another service in
    the same cluster."""
    engine = target.engine
    if target.codedeploy:
        other: Target = matrix_stacks(engine, f"other-{engine.kind}")
        other.settle()
    sandbox_call(target.sandbox, "settings", {"timeScale": engine.slow_scale})
    if target.codedeploy:
        svc = other.service()
        appspec = {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": svc["taskDefinition"],
                            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
                        },
                    }
                }
            ],
        }
        cd = other.client("codedeploy")
        dep = cd.create_deployment(
            applicationName=other.result.application,
            deploymentGroupName=other.result.deployment_group,
            deploymentConfigName="CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
            revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {"content": json.dumps(appspec)},
            },
        )["deploymentId"]

        def running() -> bool:
            info = cd.get_deployment(deploymentId=dep)["deploymentInfo"]
            return info["status"] in ACTIVE and not info.get("rollbackInfo")

        return str(dep), running
    ecs = target.client("ecs")
    cluster, name = target.result.cluster, f"other-{target.result.service}"
    if not [
        s
        for s in ecs.describe_services(cluster=cluster, services=[name])["services"]
        if s["status"] == "ACTIVE"
    ]:
        ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition=target.service()["taskDefinition"],
            desiredCount=2,
            launchType="FARGATE",
            deploymentController={"type": "ECS"},
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": True, "rollback": True}
            },
        )

    def deployments() -> list[dict[str, Any]]:
        found = ecs.describe_services(cluster=cluster, services=[name])["services"][0]
        return list(found["deployments"])

    wait_for(
        lambda: [d.get("rolloutState") for d in deployments()] == ["COMPLETED"],
        30,
        "the other service is steady",
    )
    ecs.update_service(cluster=cluster, service=name, forceNewDeployment=True)
    wait_for(lambda: len(deployments()) == 2, 10, "the other rollout starts")
    dep = str(deployments()[0]["id"])

    def rolling() -> bool:
        primary = deployments()[0]
        return primary["id"] == dep and primary.get("rolloutState") == "IN_PROGRESS"

    return dep, rolling


def assert_idle_verbs(target: Target, tmp_path: Path) -> None:
    """After a finished release (in AWS and in the journal), verbs find nothing to act on."""
    done = release(target, None, target.engine.configs[0], tmp_path)
    assert done.code == 0, (done.result, done.stderr[-2000:])
    target.settle()
    live = target.production()
    deployments = target.deployments()
    for verb in IDLE_VERBS:
        ran = run_in_process(["-o", "json", *verb])
        assert ran.code == 2, (verb, ran.code, ran.result, ran.stderr[-1000:])
        assert target.deployments() == deployments, f"I5: {verb[0]} started a deployment"
        assert target.production() == live, f"I5: {verb[0]} moved production"


def assert_other_service_ids(target: Target, matrix_stacks: Callable[..., Target]) -> None:
    """An id of another service's deployment in flight: exit 2, and it keeps running."""
    live = target.production()
    deployments = target.deployments()
    dep, still_running = other_deployment(target, matrix_stacks)
    try:
        assert still_running()
        for verb in IDLE_VERBS:
            args = ["-o", "json", verb[0], dep, *verb[1:]]
            if verb[0] == "watch":
                args += ["--on-cancel", "rollback"]
            ran = run_in_process(args)
            assert ran.code == 2, (verb, dep, ran.code, ran.result, ran.stderr[-1000:])
            assert still_running(), f"I5: {verb[0]} {dep} acted on another service's deployment"
    finally:
        sandbox_call(target.sandbox, "settings", {"timeScale": SANDBOX_TIME_SCALE})
    assert target.deployments() == deployments
    assert target.production() == live


# --- the matrix -----------------------------------------------------------------------------------
GUARDS = ("alarm", "verify", "timeout", "sigterm", "sigint", "unhealthy")
ONE_CONFIG = {"sigint"}  # guards that run on each engine's first config only


def guard_rows() -> list[tuple[Engine, str, str | None]]:
    return [
        (engine, guard, config)
        for engine in ENGINES
        for guard in GUARDS
        for config in (engine.configs[:1] if guard in ONE_CONFIG else engine.configs)
    ]


def row_id(engine: Engine, guard: str | None, config: str | None) -> str:
    return "-".join(x for x in (engine.name, guard or "success", config or "") if x)


def rows() -> list[Any]:
    return [
        pytest.param(engine, guard, config, id=row_id(engine, guard, config))
        for engine, guard, config in guard_rows()
    ]


def success_rows() -> list[Any]:
    return [
        pytest.param(engine, config, id=row_id(engine, None, config))
        for engine in ENGINES
        for config in engine.configs
    ]


def scoped_rows() -> list[Any]:
    return [
        pytest.param(engine, case, id=f"{engine.name}-I5-{case}")
        for engine in ENGINES
        for case in ("idle", "other")
    ]


def assert_scoped_row(
    target: Target, case: str, matrix_stacks: Callable[..., Target], tmp_path: Path
) -> None:
    if case == "idle":
        assert_idle_verbs(target, tmp_path)
    else:
        assert_other_service_ids(target, matrix_stacks)


@pytest.mark.parametrize(("engine", "guard", "config"), rows())
def test_guard(
    on: Callable[[Engine], Target], engine: Engine, guard: str, config: str | None, tmp_path: Path
) -> None:
    assert_guard_row(on(engine), guard, config, tmp_path)


@pytest.mark.parametrize(("engine", "config"), success_rows())
def test_success(
    on: Callable[[Engine], Target], engine: Engine, config: str | None, tmp_path: Path
) -> None:
    assert_success_row(on(engine), config, tmp_path)


@pytest.mark.parametrize(("engine", "case"), scoped_rows())
def test_scoped_verbs(
    on: Callable[[Engine], Target],
    matrix_stacks: Callable[..., Target],
    engine: Engine,
    case: str,
    tmp_path: Path,
) -> None:
    assert_scoped_row(on(engine), case, matrix_stacks, tmp_path)
