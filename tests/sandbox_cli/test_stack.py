"""`bluegreen sandbox stack`: a complete CodeDeploy blue/green demo stack, only in a sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import jinja2
import jsonschema
import pytest

from bluegreen.cli.app import run
from bluegreen.resources import load_schema
from bluegreen.sandbox.server import SandboxServer
from bluegreen.sandbox.stack import image_manifest
from bluegreen.spec.load import load_spec

ACCOUNT = "123456789012"
REPO_URI = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web"


def make_stack(capsys: pytest.CaptureFixture[str], target: Path, *extra: str) -> dict[str, Any]:
    assert run(["--output", "json", "sandbox", "stack", "--dir", str(target), *extra]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 2  # the stack, then the result line
    result: dict[str, Any] = json.loads(out.splitlines()[0])
    return result


def test_every_resource_exists_as_described(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = make_stack(capsys, tmp_path / "demo", "--name", "shop")
    ec2, elbv2, ecs = boto3.client("ec2"), boto3.client("elbv2"), boto3.client("ecs")
    tgs = elbv2.describe_target_groups(Names=["shop-blue", "shop-green"])["TargetGroups"]
    arns = {tg["TargetGroupName"]: tg["TargetGroupArn"] for tg in tgs}
    blue, green = arns["shop-blue"], arns["shop-green"]
    (lb,) = elbv2.describe_load_balancers(Names=["shop-alb"])["LoadBalancers"]
    listeners = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    by_port = {listener["Port"]: listener["ListenerArn"] for listener in listeners}
    assert result == {
        "cluster": "shop-cluster",
        "service": "shop",
        "application": "AppECS-shop-cluster-shop",
        "deploymentGroup": "DgpECS-shop-cluster-shop",
        "repository": "shop",
        "targetGroups": [blue, green],
        "listeners": {"prod": by_port[80], "test": by_port[8080]},
        "dir": str(tmp_path / "demo"),
    }

    # network: VPC with DNS hostnames, two subnets in two AZs, a security group for 80/8080
    assert (lb["Scheme"], lb["Type"]) == ("internet-facing", "application")
    vpc = lb["VpcId"]
    attribute = ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")
    assert attribute["EnableDnsHostnames"]["Value"] is True
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert len(subnets) == 2
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    (sg,) = ec2.describe_security_groups(GroupIds=lb["SecurityGroups"])["SecurityGroups"]
    assert sg["GroupName"] == "shop-sg"
    assert sorted(p["FromPort"] for p in sg["IpPermissions"]) == [80, 8080]

    # target groups and listeners: both listeners forward to blue
    tgs = elbv2.describe_target_groups(TargetGroupArns=[blue, green])["TargetGroups"]
    assert sorted(tg["TargetGroupName"] for tg in tgs) == ["shop-blue", "shop-green"]
    assert {(tg["TargetType"], tg["Port"], tg["VpcId"]) for tg in tgs} == {("ip", 8080, vpc)}
    for role, port in (("prod", 80), ("test", 8080)):
        (listener,) = elbv2.describe_listeners(ListenerArns=[result["listeners"][role]])[
            "Listeners"
        ]
        assert listener["Port"] == port
        assert listener["DefaultActions"][0]["TargetGroupArn"] == blue

    # ECR: the initial image, by tag
    (image,) = boto3.client("ecr").describe_images(
        repositoryName="shop", imageIds=[{"imageTag": "v1"}]
    )["imageDetails"]
    digest = image["imageDigest"]
    assert digest.startswith("sha256:")

    # ECS: the CODE_DEPLOY service with its PRIMARY task set on blue
    (service,) = ecs.describe_services(cluster="shop-cluster", services=["shop"])["services"]
    assert service["deploymentController"] == {"type": "CODE_DEPLOY"}
    assert service["loadBalancers"] == [
        {"targetGroupArn": blue, "containerName": "web", "containerPort": 8080}
    ]
    (task_set,) = service["taskSets"]
    assert task_set["status"] == "PRIMARY"
    assert task_set["taskDefinition"] == service["taskDefinition"]
    assert task_set["loadBalancers"][0]["targetGroupArn"] == blue
    td = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert (td["family"], td["networkMode"], td["cpu"], td["memory"]) == (
        "shop", "awsvpc", "256", "512"
    )  # fmt: skip
    assert td["requiresCompatibilities"] == ["FARGATE"]
    (container,) = td["containerDefinitions"]
    assert container["name"] == "web"
    assert container["image"] == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/shop@{digest}"
    assert container["portMappings"][0]["containerPort"] == 8080
    assert container["environment"] == [{"name": "LOG_LEVEL", "value": "info"}]
    assert container["secrets"] == [
        {
            "name": "DB_PASSWORD",
            "valueFrom": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/shop/db-password",
        }
    ]
    assert container["logConfiguration"]["logDriver"] == "awslogs"

    # IAM and CloudWatch
    role = boto3.client("iam").get_role(RoleName="shop-codedeploy")["Role"]
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"Service": "codedeploy.amazonaws.com"}
    alarms = boto3.client("cloudwatch").describe_alarms(AlarmNames=["shop-5xx", "shop-latency"])
    assert sorted(a["AlarmName"] for a in alarms["MetricAlarms"]) == ["shop-5xx", "shop-latency"]

    # CodeDeploy: ECS application, blue/green group wired to the pair, alarms and rollback
    codedeploy = boto3.client("codedeploy")
    app = codedeploy.get_application(applicationName="AppECS-shop-cluster-shop")["application"]
    assert app["computePlatform"] == "ECS"
    group = codedeploy.get_deployment_group(
        applicationName="AppECS-shop-cluster-shop", deploymentGroupName="DgpECS-shop-cluster-shop"
    )["deploymentGroupInfo"]
    assert group["serviceRoleArn"] == role["Arn"]
    assert group["ecsServices"] == [{"serviceName": "shop", "clusterName": "shop-cluster"}]
    (pair,) = group["loadBalancerInfo"]["targetGroupPairInfoList"]
    assert pair["targetGroups"] == [{"name": "shop-blue"}, {"name": "shop-green"}]
    assert pair["prodTrafficRoute"]["listenerArns"] == [result["listeners"]["prod"]]
    assert pair["testTrafficRoute"]["listenerArns"] == [result["listeners"]["test"]]
    assert group["alarmConfiguration"]["enabled"] is True
    assert group["alarmConfiguration"]["alarms"] == [{"name": "shop-5xx"}, {"name": "shop-latency"}]
    assert group["autoRollbackConfiguration"] == {
        "enabled": True,
        "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
    }
    bg = group["blueGreenDeploymentConfiguration"]
    assert bg["deploymentReadyOption"]["actionOnTimeout"] == "CONTINUE_DEPLOYMENT"
    assert bg["terminateBlueInstancesOnDeploymentSuccess"] == {
        "action": "TERMINATE",
        "terminationWaitTimeInMinutes": 5,
    }
    assert group["deploymentStyle"] == {
        "deploymentType": "BLUE_GREEN",
        "deploymentOption": "WITH_TRAFFIC_CONTROL",
    }


def test_text_summary_and_written_spec_and_template(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(["sandbox", "stack", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == (
        "created the demo stack 'web' in the sandbox:\n"
        "  service     web-cluster/web (CODE_DEPLOY controller)\n"
        "  codedeploy  AppECS-web-cluster-web / DgpECS-web-cluster-web\n"
        f"  image       {REPO_URI}:v1 in ECR repository web\n"
        "  listeners   production :80 and test :8080, both on the blue target group\n"
        f"wrote {tmp_path}/bluegreen.yaml and taskdef.json.j2\n"
        f"next: cd {tmp_path} && bluegreen deploy --image web={REPO_URI}:<tag>\n"
    )

    # the files: a spec the project's loader accepts, a template that renders to the live
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bluegreen.yaml", "taskdef.json.j2"]
    spec = load_spec(tmp_path / "bluegreen.yaml")  # schema-validated by the project's loader
    assert (spec.cluster, spec.service, spec.region) == ("web-cluster", "web", "us-east-1")
    assert spec.images == {"web": f"{REPO_URI}:v1"}
    assert spec.codedeploy.application == "AppECS-web-cluster-web"
    assert spec.codedeploy.deployment_group == "DgpECS-web-cluster-web"
    assert spec.rollback.alarms == ["web-5xx", "web-latency"]
    assert spec.task_definition == tmp_path / "taskdef.json.j2"

    template = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701
    text = template.from_string(spec.task_definition.read_text()).render(
        images=spec.images, vars=spec.vars
    )
    rendered = json.loads(text)
    jsonschema.validate(rendered, load_schema("taskdef"))
    ecs = boto3.client("ecs")
    (service,) = ecs.describe_services(cluster="web-cluster", services=["web"])["services"]
    live = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    # definition (the image by tag instead of by digest)
    (container,) = rendered.pop("containerDefinitions")
    (live_container,) = live["containerDefinitions"]
    assert container.pop("image") == f"{REPO_URI}:v1"
    assert live_container["image"].startswith(f"{REPO_URI}@sha256:")
    for key, value in container.items():
        assert live_container[key] == value, key
    for key, value in rendered.items():
        assert live[key] == value, key


def test_the_stack_is_ready_for_a_blue_green_release(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = make_stack(capsys, tmp_path)
    # the project's own validation accepts the written spec (templates rendered, image pinned)
    assert run(["--config", str(tmp_path / "bluegreen.yaml"), "validate"]) == 0
    capsys.readouterr()

    # and the sandbox's CodeDeploy takes the service from blue to green with it
    ecs, codedeploy = boto3.client("ecs"), boto3.client("codedeploy")
    (service,) = ecs.describe_services(cluster="web-cluster", services=["web"])["services"]
    appspec = json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": service["taskDefinition"],
                            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
                        },
                    }
                }
            ],
        }
    )
    deployment = codedeploy.create_deployment(
        applicationName=result["application"],
        deploymentGroupName=result["deploymentGroup"],
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec}},
    )["deploymentId"]
    codedeploy.get_waiter("deployment_successful").wait(
        deploymentId=deployment, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    green = result["targetGroups"][1]
    (service,) = ecs.describe_services(cluster="web-cluster", services=["web"])["services"]
    (task_set,) = service["taskSets"]
    assert (task_set["status"], task_set["loadBalancers"][0]["targetGroupArn"]) == (
        "PRIMARY",
        green,
    )
    (prod,) = boto3.client("elbv2").describe_listeners(ListenerArns=[result["listeners"]["prod"]])[
        "Listeners"
    ]
    forward = prod["DefaultActions"][0]
    groups = forward.get("ForwardConfig", {}).get("TargetGroups") or [
        {"TargetGroupArn": forward["TargetGroupArn"]}
    ]
    serving = {tg["TargetGroupArn"] for tg in groups if tg.get("Weight", 1) > 0}
    assert serving == {green}


def test_second_run_is_refused_cleanly(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    make_stack(capsys, tmp_path / "first")
    assert run(["sandbox", "stack", "--dir", str(tmp_path / "second")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: a stack named 'web' already exists in this sandbox (ECS cluster web-cluster, "
        "ECR repository web, CodeDeploy application AppECS-web-cluster-web, load balancer "
        "web-alb, IAM role web-codedeploy, IAM role web-task-execution, alarm web-5xx, alarm "
        "web-latency); nothing was created\n"
        "  hint: use the bluegreen.yaml written when it was created, pick another --name, or "
        "restart `bluegreen sandbox up` for an empty sandbox\n"
    )
    assert not (tmp_path / "second").exists()
    assert len(boto3.client("ec2").describe_vpcs()["Vpcs"]) == 2  # the default one and ours


def test_existing_files_are_not_overwritten(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "bluegreen.yaml").write_text("mine\n")
    assert run(["sandbox", "stack", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: --dir: {tmp_path}/bluegreen.yaml already exists; refusing to overwrite it\n"
        "  hint: pick an empty directory with --dir\n"
    )
    assert (tmp_path / "bluegreen.yaml").read_text() == "mine\n"
    assert boto3.client("ecs").list_clusters()["clusterArns"] == []


@pytest.mark.parametrize("name", ["Web", "9lives", "a" * 21, "web_1", ""])
def test_bad_name_is_refused(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    assert run(["sandbox", "stack", "--dir", str(tmp_path), "--name", name]) == 2
    assert capsys.readouterr().err.startswith(f"error: --name: stack name {name!r} is not usable")
    assert boto3.client("ecs").list_clusters()["clusterArns"] == []


def nothing_exists(endpoint: str) -> None:
    """No resource of any kind the stack makes exists behind `endpoint`."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=endpoint)  # type: ignore[call-overload]

    assert [v["IsDefault"] for v in client("ec2").describe_vpcs()["Vpcs"]] == [True]
    assert client("ecs").list_clusters()["clusterArns"] == []
    assert client("ecr").describe_repositories()["repositories"] == []
    assert client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert client("iam").list_roles()["Roles"] == []
    assert client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    codedeploy = client("codedeploy")
    with pytest.raises(codedeploy.exceptions.ApplicationDoesNotExistException):
        codedeploy.get_application(applicationName="AppECS-web-cluster-web")


def test_an_endpoint_that_is_not_a_sandbox_is_refused(
    aws_env: SandboxServer,
    plain_moto: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", plain_moto)
    assert run(["sandbox", "stack", "--dir", str(tmp_path / "demo")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: {plain_moto}/_sandbox/info: {plain_moto} is not a bluegreen sandbox, so nothing "
        "was changed: GET /_sandbox/info was refused: HTTP 404\n"
        "  hint: start one with `bluegreen sandbox up` and source the exports it prints\n"
    )
    nothing_exists(plain_moto)
    assert not (tmp_path / "demo").exists()


def test_no_endpoint_is_refused(
    aws_env: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert run(["sandbox", "stack", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(
        "error: AWS_ENDPOINT_URL is not set, so there is no sandbox to talk to (refusing to "
        "touch whatever account the credentials point at)\n"
    )
    nothing_exists(aws_env.url)


@pytest.mark.parametrize(
    ("variable", "service"),
    [("AWS_ENDPOINT_URL_ECS", "ecs"), ("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "elbv2")],
)
def test_a_client_that_would_bypass_the_sandbox_is_refused(
    aws_env: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    variable: str,
    service: str,
) -> None:
    monkeypatch.setenv(variable, "http://127.0.0.1:9")
    assert run(["sandbox", "stack", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: the {service} client would talk to http://127.0.0.1:9, not to the sandbox at "
        f"{aws_env.url}; refusing to create anything\n"
        f"  hint: unset {variable} and any endpoint_url for {service} in ~/.aws/config\n"
    )
    nothing_exists(aws_env.url)


def test_ignored_endpoint_urls_are_refused(
    aws_env: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert run(["sandbox", "stack", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "error: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is set, so AWS clients would ignore the "
        f"sandbox endpoint {aws_env.url} and talk to real AWS\n"
        "  hint: unset AWS_IGNORE_CONFIGURED_ENDPOINT_URLS\n"
    )
    nothing_exists(aws_env.url)


def test_a_half_made_stack_is_refused(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    boto3.client("iam").create_role(RoleName="web-codedeploy", AssumeRolePolicyDocument="{}")
    assert run(["sandbox", "stack", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(
        "error: a stack named 'web' already exists in this sandbox (IAM role web-codedeploy); "
        "nothing was created\n"
    )
    assert boto3.client("ecs").list_clusters()["clusterArns"] == []
    assert list(tmp_path.iterdir()) == []


# --- --kind rolling -------------------------------------------------------------------------------
def test_a_rolling_stack_exists_as_described(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = make_stack(capsys, tmp_path / "demo", "--name", "shop", "--kind", "rolling")
    elbv2, ecs = boto3.client("elbv2"), boto3.client("ecs")
    (tg,) = elbv2.describe_target_groups(Names=["shop-tg"])["TargetGroups"]
    (lb,) = elbv2.describe_load_balancers(Names=["shop-alb"])["LoadBalancers"]
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert result == {
        "cluster": "shop-cluster",
        "service": "shop",
        "application": None,
        "deploymentGroup": None,
        "repository": "shop",
        "targetGroups": [tg["TargetGroupArn"]],
        "listeners": {"prod": listener["ListenerArn"], "test": None},
        "dir": str(tmp_path / "demo"),
    }
    # one target group behind the production listener, and nothing of a blue/green pair
    assert listener["Port"] == 80
    assert listener["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    assert (tg["TargetType"], tg["Port"], tg["VpcId"]) == ("ip", 8080, lb["VpcId"])
    names = {t["TargetGroupName"] for t in elbv2.describe_target_groups()["TargetGroups"]}
    assert names == {"shop-tg"}

    # ECS: an ECS-controller service on the target group, the circuit breaker and the stack's
    # alarms both rolling back, running the initial image pinned by digest
    (service,) = ecs.describe_services(cluster="shop-cluster", services=["shop"])["services"]
    assert service["deploymentController"] == {"type": "ECS"}
    assert service["loadBalancers"] == [
        {"targetGroupArn": tg["TargetGroupArn"], "containerName": "web", "containerPort": 8080}
    ]
    assert service.get("taskSets", []) == []
    conf = service["deploymentConfiguration"]
    assert conf["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert (conf["minimumHealthyPercent"], conf["maximumPercent"]) == (100, 200)
    assert conf["alarms"] == {
        "alarmNames": ["shop-5xx", "shop-latency"],
        "enable": True,
        "rollback": True,
    }
    (deployment,) = service["deployments"]
    assert deployment["status"] == "PRIMARY"
    assert deployment["taskDefinition"] == service["taskDefinition"]
    (image,) = boto3.client("ecr").describe_images(
        repositoryName="shop", imageIds=[{"imageTag": "v1"}]
    )["imageDetails"]
    td = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    (container,) = td["containerDefinitions"]
    assert container["image"] == (
        f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/shop@{image['imageDigest']}"
    )
    alarms = boto3.client("cloudwatch").describe_alarms(AlarmNames=["shop-5xx", "shop-latency"])
    assert len(alarms["MetricAlarms"]) == 2

    # no CodeDeploy: no application, no CodeDeploy role (the task execution role only)
    codedeploy = boto3.client("codedeploy")
    with pytest.raises(codedeploy.exceptions.ApplicationDoesNotExistException):
        codedeploy.get_application(applicationName="AppECS-shop-cluster-shop")
    roles = {r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]}
    assert roles == {"shop-task-execution"}

    # the spec: no codedeploy block, the stack's alarms, accepted by the project's loader
    text = (tmp_path / "demo" / "bluegreen.yaml").read_text()
    assert "codedeploy" not in text
    spec = load_spec(tmp_path / "demo" / "bluegreen.yaml")
    assert (spec.cluster, spec.service) == ("shop-cluster", "shop")
    assert spec.rollback.alarms == ["shop-5xx", "shop-latency"]


def test_a_rolling_stack_text_summary(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(["sandbox", "stack", "--dir", str(tmp_path), "--kind", "rolling"]) == 0
    assert capsys.readouterr().out == (
        "created the demo stack 'web' in the sandbox:\n"
        "  service     web-cluster/web (ECS controller, rolling updates, circuit breaker and "
        "alarms with rollback)\n"
        f"  image       {REPO_URI}:v1 in ECR repository web\n"
        "  listener    production :80 on the target group\n"
        f"wrote {tmp_path}/bluegreen.yaml and taskdef.json.j2\n"
        f"next: cd {tmp_path} && bluegreen deploy --image web={REPO_URI}:<tag>\n"
    )


def test_the_rolling_stack_is_ready_for_a_rolling_release(
    aws_env: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_stack(capsys, tmp_path, "--kind", "rolling")
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(tmp_path / "journal.jsonl"))
    spec = str(tmp_path / "bluegreen.yaml")
    assert run(["--config", spec, "validate"]) == 0
    boto3.client("ecr").put_image(
        repositoryName="web", imageManifest=image_manifest("v2"), imageTag="v2"
    )
    capsys.readouterr()
    assert run(["--config", spec, "-o", "json", "deploy", "--image", f"web={REPO_URI}:v2"]) == 0
    capsys.readouterr()
    (service,) = boto3.client("ecs").describe_services(cluster="web-cluster", services=["web"])[
        "services"
    ]
    assert service["taskDefinition"].endswith(":task-definition/web:2")
    (primary,) = service["deployments"]
    assert (primary["status"], primary["rolloutState"]) == ("PRIMARY", "COMPLETED")
    assert primary["taskDefinition"] == service["taskDefinition"]


def test_a_kind_that_does_not_exist_is_refused(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(["sandbox", "stack", "--dir", str(tmp_path), "--kind", "lambda"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--kind': 'lambda' is not one of 'codedeploy', 'rolling'" in err
    assert boto3.client("ecs").list_clusters()["clusterArns"] == []
    assert list(tmp_path.iterdir()) == []


def test_a_name_is_taken_whatever_the_kind(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    make_stack(capsys, tmp_path / "first", "--kind", "rolling")
    assert run(["sandbox", "stack", "--dir", str(tmp_path / "second")]) == 2
    assert capsys.readouterr().err.startswith(
        "error: a stack named 'web' already exists in this sandbox (ECS cluster web-cluster, "
        "ECR repository web, load balancer web-alb, IAM role web-task-execution, alarm web-5xx, "
        "alarm web-latency); nothing was created\n"
    )
    assert not (tmp_path / "second").exists()
    with pytest.raises(boto3.client("codedeploy").exceptions.ApplicationDoesNotExistException):
        boto3.client("codedeploy").get_application(applicationName="AppECS-web-cluster-web")
