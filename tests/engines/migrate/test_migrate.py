"""`bluegreen migrate --to ecs` on the sandbox's CodeDeploy stack, through the CLI, with the
AWS-side truth read back through boto3."""

from __future__ import annotations

import json
import threading
from typing import Any

from tests.conftest import sandbox_call
from tests.fixtures.migrate import CodeDeployStack, wait_for
from tests.helpers import records


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def assert_migrated(stack: CodeDeployStack, serving: str) -> dict[str, Any]:
    svc = stack.service()
    assert svc["deploymentController"] == {"type": "ECS"}
    conf = svc["deploymentConfiguration"]
    # the stack's group: CodeDeployDefault.ECSAllAtOnce, termination wait 5 min, its alarms
    # with auto-rollback on DEPLOYMENT_STOP_ON_ALARM
    assert conf["strategy"] == "BLUE_GREEN"
    assert conf["bakeTimeInMinutes"] == 5
    assert conf["alarms"] == {
        "alarmNames": ["mig-5xx", "mig-latency"],
        "enable": True,
        "rollback": True,
    }
    (lb,) = svc["loadBalancers"]
    advanced = lb["advancedConfiguration"]
    alternate = next(tg for tg in stack.result.target_groups if tg != serving)
    assert lb["targetGroupArn"] == serving
    assert advanced["alternateTargetGroupArn"] == alternate
    (prod_rule,) = stack.rules(stack.result.prod_listener)
    (test_rule,) = stack.rules(str(stack.result.test_listener))
    assert advanced["productionListenerRule"] == prod_rule["RuleArn"]
    assert advanced["testListenerRule"] == test_rule["RuleArn"]
    assert advanced["roleArn"].endswith(":role/ecsInfrastructureRole-mig-cluster-mig")
    role = stack.client("iam").get_role(RoleName="ecsInfrastructureRole-mig-cluster-mig")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ecs.amazonaws.com"
    }
    attached = stack.client("iam").list_attached_role_policies(
        RoleName="ecsInfrastructureRole-mig-cluster-mig"
    )["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == [
        "AmazonECSInfrastructureRolePolicyForLoadBalancers"
    ]
    assert svc.get("taskSets") in (None, [])
    return svc


def test_dry_run_prints_the_plan_and_changes_nothing(cd_stack: CodeDeployStack) -> None:
    before = cd_stack.snapshot()
    ran = cd_stack.cli("--output", "json", "migrate", "--to", "ecs", "--dry-run")
    assert ran.code == 0, ran.stderr
    plan, result = lines(ran.stdout)[0], lines(ran.stdout)[-1]
    assert plan["event"] == "plan"
    assert [s["step"] for s in plan["steps"]] == [
        "infrastructure-role",
        "production-rule",
        "test-rule",
        "update-service",
        "verify",
    ]
    assert plan["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    assert plan["productionTargetGroup"] == cd_stack.result.target_groups[0]
    assert plan["passRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}
    }
    assert result["exitCode"] == 0
    assert result["dryRun"] is True
    assert cd_stack.snapshot() == before
    assert records(cd_stack.journal) == []
    text = cd_stack.cli("migrate", "--to", "ecs", "--dry-run")
    assert text.code == 0
    assert "not touched:" in text.stdout
    assert "dry run: nothing was changed" in text.stdout
    assert cd_stack.snapshot() == before


def test_refused_while_a_codedeploy_deployment_is_in_flight(cd_stack: CodeDeployStack) -> None:
    sandbox_call(cd_stack.sandbox, "settings", {"timeScale": 1.0})  # keep it in flight
    started = cd_stack.cli(
        "--output", "json", "deploy", "--no-wait", "--image", f"web={cd_stack.new_image('v2')}"
    )
    assert started.code == 0, started.stderr
    deployment = lines(started.stdout)[-1]["deploymentId"]

    def migration_state() -> dict[str, Any]:
        # the deployment itself moves task sets and the listeners' default actions
        snap = cd_stack.snapshot()
        return {k: v for k, v in snap.items() if k not in ("taskSets", "defaults")}

    before = migration_state()
    ran = cd_stack.cli("migrate", "--to", "ecs")
    assert ran.code == 2, ran.stderr
    assert f"CodeDeploy deployment {deployment} is in flight" in ran.stderr
    assert migration_state() == before
    assert before["controller"] == {"type": "CODE_DEPLOY"}
    assert not [r for r in records(cd_stack.journal) if str(r.get("action")).startswith("migrate")]


def test_migrate_keeps_production_then_deploy_is_native(cd_stack: CodeDeployStack) -> None:
    serving = cd_stack.result.target_groups[0]
    assert cd_stack.production() == {serving}
    seen: list[set[str]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            seen.append(cd_stack.production())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        ran = cd_stack.cli("--output", "json", "migrate", "--to", "ecs")
    finally:
        stop.set()
        sampler.join()
    assert ran.code == 0, ran.stderr
    assert lines(ran.stdout)[-1]["status"] == "Migrated"
    assert len(seen) > 3
    assert all(s == {serving} for s in seen), seen
    assert cd_stack.production() == {serving}
    assert_migrated(cd_stack, serving)
    done = [
        r["action"]
        for r in records(cd_stack.journal)
        if r["kind"] == "done" and str(r.get("action")).startswith("migrate")
    ]
    intents = [
        r["action"]
        for r in records(cd_stack.journal)
        if r["kind"] == "intent" and str(r.get("action")).startswith("migrate")
    ]
    assert "migrate:update-service" in done
    assert intents.count("migrate:update-service") == 1
    # a rerun finds everything done and changes nothing
    before = cd_stack.snapshot()
    again = cd_stack.cli("migrate", "--to", "ecs")
    assert again.code == 0, again.stderr
    assert cd_stack.snapshot() == before
    # the next release is an ECS-native ServiceDeployment that ends SUCCESSFUL
    deployed = cd_stack.cli(
        "--output", "json", "deploy", "--image", f"web={cd_stack.new_image('v2')}"
    )
    assert deployed.code == 0, deployed.stderr
    result = lines(deployed.stdout)[-1]
    assert result["status"] == "SUCCESSFUL"
    arn = result["deploymentId"]
    assert ":service-deployment/" in arn
    (found,) = cd_stack.client("ecs").describe_service_deployments(serviceDeploymentArns=[arn])[
        "serviceDeployments"
    ]
    assert found["status"] == "SUCCESSFUL"
    alternate = next(tg for tg in cd_stack.result.target_groups if tg != serving)
    assert cd_stack.production() == {alternate}  # green (the other group) serves now


def test_a_failure_midway_then_a_rerun_ends_migrated(cd_stack: CodeDeployStack) -> None:
    serving = cd_stack.result.target_groups[0]
    cd_stack.fault(kind="access-denied", service="ecs", operation="UpdateService")
    failed = cd_stack.cli("migrate", "--to", "ecs")
    assert failed.code == 4, failed.stderr
    assert "migrate stopped at step update-service" in failed.stderr
    assert "done before the failure: created IAM role" in failed.stderr
    assert "rerun `bluegreen migrate --to ecs`" in failed.stderr
    assert "aws elbv2 delete-rule --rule-arn" in failed.stderr  # how to undo instead
    # what was changed: role and rules; the controller is still CODE_DEPLOY; production unmoved
    assert cd_stack.service()["deploymentController"] == {"type": "CODE_DEPLOY"}
    assert len(cd_stack.rules(cd_stack.result.prod_listener)) == 1
    assert "ecsInfrastructureRole-mig-cluster-mig" in cd_stack.roles()
    assert cd_stack.production() == {serving}
    journal = [r for r in records(cd_stack.journal) if str(r.get("action")).startswith("migrate")]
    assert journal[-1]["kind"] == "intent"
    assert journal[-1]["action"] == "migrate:update-service"
    # doctor names the half-done migration and how to finish it
    doctor = cd_stack.cli("doctor")
    assert doctor.code == 2
    assert "half-migrated" in doctor.stdout
    assert "bluegreen migrate --to ecs" in doctor.stdout
    cd_stack.clear_faults()
    rerun = cd_stack.cli("--output", "json", "migrate", "--to", "ecs")
    assert rerun.code == 0, rerun.stderr
    steps = [e["step"] for e in lines(rerun.stdout) if e.get("event") == "step"]
    assert steps == ["update-service", "verify"]  # role and rules were not made twice
    assert_migrated(cd_stack, serving)
    assert cd_stack.production() == {serving}
    wait_for(lambda: cd_stack.service()["runningCount"] == 2, what="the service running")


def test_hooks_are_refused_unless_dropped_and_codedeploy_deleted_on_request(
    cd_stack: CodeDeployStack,
) -> None:
    text = cd_stack.spec.read_text()
    cd_stack.spec.write_text(
        text.replace(
            "rollback:\n",
            "  hooks:\n    AfterAllowTestTraffic: mig-smoke-tests\nrollback:\n",
            1,
        )
    )
    before = cd_stack.snapshot()
    dry = cd_stack.cli("--output", "json", "migrate", "--to", "ecs", "--dry-run")
    assert dry.code == 0, dry.stderr
    (hook,) = lines(dry.stdout)[0]["hooksNotCarriedOver"]
    assert hook["event"] == "AfterAllowTestTraffic"
    assert hook["nativeStage"] == "POST_TEST_TRAFFIC_SHIFT"
    refused = cd_stack.cli("migrate", "--to", "ecs")
    assert refused.code == 2, refused.stderr
    assert "--drop-hooks" in refused.stderr
    assert cd_stack.snapshot() == before
    ran = cd_stack.cli("migrate", "--to", "ecs", "--drop-hooks", "--delete-codedeploy")
    assert ran.code == 0, ran.stderr
    assert_migrated(cd_stack, cd_stack.result.target_groups[0])
    cd = cd_stack.client("codedeploy")
    assert cd_stack.result.application not in cd.list_applications()["applications"]
