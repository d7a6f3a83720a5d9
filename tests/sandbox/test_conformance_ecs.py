"""The sandbox's ECS answers as AWS gives them, each raw answer held to botocore's service
model (tests/sandbox/model_check.py). Plain boto3; each test cites the AWS page or the awscli
example it follows."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from bluegreen.sandbox.server import SandboxServer
from tests.conftest import sandbox_call
from tests.helpers import wait_for
from tests.sandbox.model_check import RawResponses


@pytest.fixture
def raw() -> RawResponses:
    return RawResponses()


@pytest.fixture
def ecs(aws_env: SandboxServer, raw: RawResponses) -> Any:
    client = raw.attach(boto3.client("ecs"))
    client.create_cluster(clusterName="c")
    for tag in ("v1", "v2"):
        client.register_task_definition(
            family="api",
            containerDefinitions=[{"name": "api", "image": f"api:{tag}", "memory": 128}],
        )
    return client


def service(ecs: Any, name: str = "api") -> dict[str, Any]:
    found: dict[str, Any] = ecs.describe_services(cluster="c", services=[name])["services"][0]
    return found


def steady_service(ecs: Any, name: str = "api", desired: int = 2) -> dict[str, Any]:
    ecs.create_service(cluster="c", serviceName=name, taskDefinition="api:1", desiredCount=desired)
    done: dict[str, Any] = wait_for(
        lambda: (s := service(ecs, name))["deployments"][0].get("rolloutState") == "COMPLETED" and s
    )
    return done


def arn(ecs: Any, name: str) -> str:
    found: str = ecs.describe_task_definition(taskDefinition=name)["taskDefinition"][
        "taskDefinitionArn"
    ]
    return found


def test_update_service_answers_the_started_deployment(ecs: Any, raw: RawResponses) -> None:
    """awscli's own example (aws-cli awscli/examples/ecs/update-service.rst) and
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html: the
    answer already shows the service's task definition as the new ARN, the new deployment
    PRIMARY with rolloutState IN_PROGRESS and the previous one ACTIVE."""
    before = steady_service(ecs)
    old_id = before["deployments"][0]["id"]
    answer = ecs.update_service(cluster="c", service="api", taskDefinition="api:2")["service"]
    raw.check("UpdateService")
    assert answer["taskDefinition"] == arn(ecs, "api:2")
    deployments = answer["deployments"]
    assert [d["status"] for d in deployments] == ["PRIMARY", "ACTIVE"]
    assert deployments[0]["taskDefinition"] == arn(ecs, "api:2")
    assert deployments[0]["rolloutState"] == "IN_PROGRESS"
    assert deployments[0]["id"] != old_id
    assert deployments[1]["id"] == old_id
    assert deployments[1]["taskDefinition"] == arn(ecs, "api:1")


def test_update_service_force_new_deployment_answers_two_deployments(
    ecs: Any, raw: RawResponses
) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html
    (forceNewDeployment): a new deployment of the same task definition starts beside the old
    one, and the answer shows both."""
    steady_service(ecs)
    answer = ecs.update_service(cluster="c", service="api", forceNewDeployment=True)["service"]
    raw.check("UpdateService")
    assert [d["status"] for d in answer["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert answer["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert {d["taskDefinition"] for d in answer["deployments"]} == {arn(ecs, "api:1")}


def test_describe_services_fits_the_model(
    ecs: Any, raw: RawResponses, aws_env: SandboxServer
) -> None:
    """Every DescribeServices answer during a rollout fits the ECS model
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html)."""
    steady_service(ecs)
    raw.check("DescribeServices")
    sandbox_call(aws_env, "settings", {"timeScale": 60})
    ecs.update_service(cluster="c", service="api", taskDefinition="api:2")
    service(ecs)
    raw.check("DescribeServices")


def tasks(ecs: Any, name: str = "api", **kw: Any) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster="c", serviceName=name, **kw)["taskArns"]
    if not arns:
        return []
    found: list[dict[str, Any]] = ecs.describe_tasks(cluster="c", tasks=arns)["tasks"]
    return found


def test_list_tasks_lists_the_named_service_s_tasks(ecs: Any, raw: RawResponses) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html —
    serviceName filters the results to the tasks that belong to that service; each task
    reports its service as `group` service:<name> and its deployment as `startedBy`
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html)."""
    api = steady_service(ecs, "api", desired=2)
    other = steady_service(ecs, "other", desired=1)
    listed = wait_for(lambda: len(tasks(ecs, "api")) == 2 and len(tasks(ecs, "other")) == 1)
    assert listed
    raw.check("ListTasks")
    raw.check("DescribeTasks")
    api_tasks, other_tasks = tasks(ecs, "api"), tasks(ecs, "other")
    assert {t["group"] for t in api_tasks} == {"service:api"}
    assert {t["startedBy"] for t in api_tasks} == {api["deployments"][0]["id"]}
    assert {t["group"] for t in other_tasks} == {"service:other"}
    assert {t["startedBy"] for t in other_tasks} == {other["deployments"][0]["id"]}
    assert {t["lastStatus"] for t in api_tasks + other_tasks} == {"RUNNING"}
    assert not {t["taskArn"] for t in api_tasks} & {t["taskArn"] for t in other_tasks}


def test_list_tasks_of_an_unknown_service_is_service_not_found(ecs: Any, raw: RawResponses) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html (Errors):
    ServiceNotFoundException when the named service does not exist."""
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.list_tasks(cluster="c", serviceName="nope")
    raw.check("ListTasks")


def test_tasks_follow_a_rolling_update(ecs: Any, raw: RawResponses, aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-ecs.html —
    the new revision's tasks start and run while the old revision's are stopped by the
    scheduler; a stopped task says why ("Scaling activity initiated by (deployment
    ecs-svc/...)", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html)
    and is listed with desiredStatus STOPPED."""
    before = steady_service(ecs, desired=2)
    old_id = before["deployments"][0]["id"]
    wait_for(lambda: len(tasks(ecs)) == 2)
    old_arns = {t["taskArn"] for t in tasks(ecs)}
    sandbox_call(aws_env, "settings", {"timeScale": 60})
    ecs.update_service(cluster="c", service="api", taskDefinition="api:2")
    wait_for(lambda: service(ecs)["deployments"][0]["rolloutState"] == "COMPLETED")
    new = wait_for(lambda: (found := tasks(ecs)) and len(found) == 2 and found)
    raw.check("DescribeTasks")
    assert {t["taskDefinitionArn"] for t in new} == {arn(ecs, "api:2")}
    assert {t["lastStatus"] for t in new} == {"RUNNING"}
    assert not old_arns & {t["taskArn"] for t in new}
    stopped = ecs.describe_tasks(cluster="c", tasks=sorted(old_arns))["tasks"]
    raw.check("DescribeTasks")
    assert {t["lastStatus"] for t in stopped} == {"STOPPED"}
    assert {t["desiredStatus"] for t in stopped} == {"STOPPED"}
    assert {t["stoppedReason"] for t in stopped} == {
        f"Scaling activity initiated by (deployment {old_id})"
    }
    assert {t["stopCode"] for t in stopped} == {"ServiceSchedulerInitiated"}
    assert old_arns <= {t["taskArn"] for t in tasks(ecs, desiredStatus="STOPPED")}


def test_failed_launches_show_as_stopped_tasks(ecs: Any, aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
    — tasks of a deployment that fail to start are stopped (counted in failedTasks) and the
    old revision's tasks keep running."""
    steady_service(ecs, desired=2)
    wait_for(lambda: len(tasks(ecs)) == 2)
    sandbox_call(aws_env, "faults", {"kind": "unhealthy-green"})
    sandbox_call(aws_env, "settings", {"timeScale": 60})
    ecs.update_service(cluster="c", service="api", taskDefinition="api:2")
    wait_for(lambda: service(ecs)["deployments"][0]["failedTasks"] >= 1)
    failed = wait_for(
        lambda: [
            t for t in tasks(ecs, desiredStatus="STOPPED") if t["stopCode"] == "TaskFailedToStart"
        ]
    )
    assert {t["taskDefinitionArn"] for t in failed} == {arn(ecs, "api:2")}
    running = [t for t in tasks(ecs) if t["lastStatus"] == "RUNNING"]
    assert {t["taskDefinitionArn"] for t in running} == {arn(ecs, "api:1")}


@pytest.fixture
def fargate(ecs: Any) -> dict[str, str]:
    """An EXTERNAL-controller Fargate service in a VPC, and a task definition whose memory is
    given at task level only."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    definition = ecs.register_task_definition(
        family="web",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "web", "image": "public.ecr.aws/nginx/nginx:1"}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="c",
        serviceName="web",
        taskDefinition=definition,
        desiredCount=2,
        launchType="FARGATE",
        deploymentController={"type": "EXTERNAL"},
    )
    return {"subnet": subnet, "taskDefinition": definition}


def create_task_set(ecs: Any, fargate: dict[str, str], **kw: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "cluster": "c",
        "service": "web",
        "taskDefinition": fargate["taskDefinition"],
        "launchType": "FARGATE",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": [fargate["subnet"]]}},
        **kw,
    }
    found: dict[str, Any] = ecs.create_task_set(**params)["taskSet"]
    return found


def test_create_task_set_with_task_level_memory_only(
    ecs: Any, raw: RawResponses, fargate: dict[str, str]
) -> None:
    """Container-level memory is optional for Fargate when the task sets memory
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html);
    CreateTaskSet with a scale accepts such a task definition
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateTaskSet.html)."""
    created = create_task_set(ecs, fargate, scale={"value": 100.0, "unit": "PERCENT"})
    raw.check("CreateTaskSet")
    assert created["taskDefinition"] == fargate["taskDefinition"]
    assert created["scale"] == {"value": 100.0, "unit": "PERCENT"}
    listed = ecs.describe_task_sets(cluster="c", service="web")["taskSets"]
    assert [t["taskSetArn"] for t in listed] == [created["taskSetArn"]]


def test_inactive_task_definitions_are_refused(
    ecs: Any, raw: RawResponses, fargate: dict[str, str]
) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeregisterTaskDefinition.html
    — an INACTIVE task definition can't create new services or task sets, nor be referenced by
    an update of an existing service: ECS answers ClientException "TaskDefinition is
    inactive", and nothing changes."""
    steady_service(ecs)
    inactive = arn(ecs, "api:2")
    ecs.deregister_task_definition(taskDefinition=inactive)
    with pytest.raises(ecs.exceptions.ClientException, match="TaskDefinition is inactive"):
        ecs.update_service(cluster="c", service="api", taskDefinition=inactive)
    raw.check("UpdateService")
    assert service(ecs)["taskDefinition"] == arn(ecs, "api:1")
    with pytest.raises(ecs.exceptions.ClientException, match="TaskDefinition is inactive"):
        ecs.create_service(cluster="c", serviceName="new", taskDefinition="api:2", desiredCount=1)
    raw.check("CreateService")
    assert ecs.describe_services(cluster="c", services=["new"])["services"] == []
    ecs.deregister_task_definition(taskDefinition=fargate["taskDefinition"])
    with pytest.raises(ecs.exceptions.ClientException, match="TaskDefinition is inactive"):
        create_task_set(ecs, fargate)
    raw.check("CreateTaskSet")
    assert ecs.describe_task_sets(cluster="c", service="web")["taskSets"] == []
