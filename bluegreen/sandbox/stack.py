"""The client side of the sandbox: proving an endpoint is a sandbox, its control API, and the
demo stack (`bluegreen sandbox stack`).

The stack is a complete, realistic setup for one ECS service, made with ordinary AWS calls
through `bluegreen.aws.session.Aws`: by default CodeDeploy blue/green (two target groups, a
production and a test listener, a deployment group); with `kind=rolling` an ECS-controller
service updated in place (one target group behind the production listener, the deployment
circuit breaker and the stack's alarms with rollback); with `kind=ecs-native` an ECS-controller
service with the BLUE_GREEN strategy (two target groups, production and test listener RULES
forwarding to both, the load-balancer infrastructure role, the stack's alarms). Before its
first write it proves that the endpoint is a bluegreen sandbox (`GET /_sandbox/info`) and that
every client it will use talks to that endpoint, so it can never create anything in a real
account.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.aws.errors import aws_errors
from bluegreen.errors import AwsError, ResourceNotFound, UsageError
from bluegreen.sandbox import StackKind

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef
    from mypy_boto3_ec2.type_defs import TagTypeDef
    from mypy_boto3_ecs.type_defs import (
        DeploymentConfigurationTypeDef,
        LoadBalancerTypeDef,
        NetworkConfigurationTypeDef,
    )

    from bluegreen.aws.session import Aws

INFO_PATH = "/_sandbox/info"
FAULTS_PATH = "/_sandbox/faults"
CONTAINER_NAME = "web"
CONTAINER_PORT = 8080
INITIAL_TAG = "v1"
DEPLOYMENT_CONFIG = "CodeDeployDefault.ECSCanary10Percent5Minutes"
TERMINATION_WAIT_MINUTES = 5
SPEC_FILE = "bluegreen.yaml"
TASKDEF_FILE = "taskdef.json.j2"
_CODEDEPLOY_ACTIONS = (
    "ecs:DescribeServices",
    "ecs:CreateTaskSet",
    "ecs:UpdateServicePrimaryTaskSet",
    "ecs:DeleteTaskSet",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:ModifyRule",
    "cloudwatch:DescribeAlarms",
    "lambda:InvokeFunction",
    "sns:Publish",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "iam:PassRole",
)
# AmazonECSInfrastructureRolePolicyForLoadBalancers (doc key IAMLB in
# ../shared/reference/ecs-native-bluegreen.md): what ECS needs to move listener-rule weights.
_ECS_INFRASTRUCTURE_ACTIONS = (
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
)
NATIVE_BAKE_MINUTES = 5
_EXECUTION_ACTIONS = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "ssm:GetParameters",
)
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_ENDPOINT_HINT = "start one with `bluegreen sandbox up` and source the exports it prints"
_TRUE = {"1", "true", "yes", "on"}


# --- the endpoint and the control API ---------------------------------------------------------
def endpoint_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The sandbox endpoint named by AWS_ENDPOINT_URL; refuses when boto3 would ignore it."""
    env = os.environ if environ is None else environ
    endpoint = env.get("AWS_ENDPOINT_URL", "").strip().rstrip("/")
    if not endpoint:
        raise UsageError(
            "AWS_ENDPOINT_URL is not set, so there is no sandbox to talk to (refusing to touch "
            "whatever account the credentials point at)",
            hint=_ENDPOINT_HINT,
        )
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").strip().lower() in _TRUE:
        raise UsageError(
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is set, so AWS clients would ignore the sandbox "
            f"endpoint {endpoint} and talk to real AWS",
            hint="unset AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        )
    if not endpoint.startswith(("http://", "https://")):
        raise UsageError(
            f"AWS_ENDPOINT_URL={endpoint!r} is not an http(s) URL",
            hint=_ENDPOINT_HINT,
        )
    return endpoint


class SandboxControl:
    """The sandbox's control API (`/_sandbox/...`) over plain HTTP with urllib."""

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self.endpoint + path
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) only
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            if 400 <= exc.code < 500:
                raise UsageError(f"{method} {path} was refused: {detail}", where=url) from exc
            raise AwsError(f"{method} {path} failed: {detail}", where=url) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AwsError(
                f"cannot reach {self.endpoint}: {reason}", where=url, hint=_ENDPOINT_HINT
            ) from exc
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise AwsError(f"{method} {path} answered with non-JSON", where=url) from exc

    def info(self) -> dict[str, Any]:
        """`GET /_sandbox/info`, proving the endpoint is a bluegreen sandbox (else exit 2)."""
        url = self.endpoint + INFO_PATH
        refusal = f"{self.endpoint} is not a bluegreen sandbox, so nothing was changed"
        try:
            answer = self._request("GET", INFO_PATH)
        except (UsageError, AwsError) as exc:
            raise UsageError(f"{refusal}: {exc.message}", where=url, hint=_ENDPOINT_HINT) from exc
        if not isinstance(answer, dict) or answer.get("sandbox") != "bluegreen":
            raise UsageError(
                f'{refusal}: GET {INFO_PATH} did not answer {{"sandbox": "bluegreen", ...}}',
                where=url,
                hint=_ENDPOINT_HINT,
            )
        return answer

    def add_fault(self, fault: dict[str, Any]) -> dict[str, Any]:
        answer = self._request("POST", FAULTS_PATH, fault)
        return answer if isinstance(answer, dict) else {}

    def faults(self) -> list[dict[str, Any]]:
        answer = self._request("GET", FAULTS_PATH)
        if isinstance(answer, dict):
            answer = answer.get("faults", [])
        return [f for f in answer if isinstance(f, dict)] if isinstance(answer, list) else []

    def clear_faults(self) -> None:
        self._request("DELETE", FAULTS_PATH)


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read()
    except OSError:
        raw = b""
    try:
        body = json.loads(raw)
    except ValueError:
        return f"HTTP {exc.code}"
    if isinstance(body, dict):
        for key in ("message", "error", "Message"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return f"HTTP {exc.code}"


# --- the demo stack ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StackNames:
    """Every name in a stack, derived from one short name."""

    name: str

    @property
    def cluster(self) -> str:
        return f"{self.name}-cluster"

    @property
    def service(self) -> str:
        return self.name

    @property
    def repository(self) -> str:
        return self.name

    @property
    def family(self) -> str:
        return self.name

    @property
    def application(self) -> str:
        return f"AppECS-{self.cluster}-{self.service}"

    @property
    def deployment_group(self) -> str:
        return f"DgpECS-{self.cluster}-{self.service}"

    @property
    def load_balancer(self) -> str:
        return f"{self.name}-alb"

    @property
    def target_groups(self) -> tuple[str, str]:
        return (f"{self.name}-blue", f"{self.name}-green")

    @property
    def target_group(self) -> str:
        """The one target group of a rolling stack."""
        return f"{self.name}-tg"

    @property
    def security_group(self) -> str:
        return f"{self.name}-sg"

    @property
    def codedeploy_role(self) -> str:
        return f"{self.name}-codedeploy"

    @property
    def infrastructure_role(self) -> str:
        """The ECS infrastructure role for load balancers of an ecs-native stack."""
        return f"{self.name}-ecs-infrastructure"

    @property
    def execution_role(self) -> str:
        return f"{self.name}-task-execution"

    @property
    def alarms(self) -> tuple[str, str]:
        return (f"{self.name}-5xx", f"{self.name}-latency")

    @property
    def log_group(self) -> str:
        return f"/ecs/{self.name}"


def check_name(name: str) -> StackNames:
    if not _NAME_RE.match(name):
        raise UsageError(
            f"stack name {name!r} is not usable: it names the ALB and target groups, so it must "
            "be 1-20 characters of lower-case letters, digits and '-', starting with a letter",
            where="--name",
            hint="for example --name web",
        )
    return StackNames(name)


@dataclass(frozen=True)
class StackResult:
    cluster: str
    service: str
    application: str | None  # None on a rolling stack (no CodeDeploy)
    deployment_group: str | None
    repository: str
    target_groups: tuple[str, ...]
    prod_listener: str
    test_listener: str | None
    directory: Path
    image: str
    kind: StackKind = StackKind.codedeploy
    rules: tuple[str, str] | None = None  # ecs-native: the production and test listener rules

    def to_json(self) -> dict[str, Any]:
        """The pinned `sandbox stack --output json` object (an ecs-native stack adds
        "rules": {"prod", "test"}, the listener rules its service names)."""
        pinned = {
            "cluster": self.cluster,
            "service": self.service,
            "application": self.application,
            "deploymentGroup": self.deployment_group,
            "repository": self.repository,
            "targetGroups": list(self.target_groups),
            "listeners": {"prod": self.prod_listener, "test": self.test_listener},
            "dir": str(self.directory),
        }
        if self.rules is not None:
            pinned["rules"] = {"prod": self.rules[0], "test": self.rules[1]}
        return pinned


def create_stack(
    aws: Aws,
    directory: Path,
    name: str = "web",
    environ: Mapping[str, str] | None = None,
    kind: StackKind = StackKind.codedeploy,
) -> StackResult:
    """Prove the endpoint is a sandbox, then build the stack of `kind` and write the spec into
    `directory`.

    Nothing is written (neither AWS resources nor files) unless every check passes first. A
    stack name is taken whatever the kind: every name either kind uses must be free.
    """
    kind = StackKind(kind)
    names = check_name(name)
    endpoint = endpoint_from_env(environ)
    SandboxControl(endpoint).info()
    _check_clients_use(aws, endpoint)
    directory = directory.resolve()
    _check_directory(directory)
    _check_absent(aws, names)
    return _Builder(aws, names, directory, kind).build()


_SERVICES = ("ec2", "ecs", "ecr", "elbv2", "iam", "sts", "cloudwatch", "codedeploy")


def _check_clients_use(aws: Aws, endpoint: str) -> None:
    """Every client must talk to the proven endpoint (no per-service or profile override)."""
    for service in _SERVICES:
        meta = aws.client(service).meta
        actual = str(meta.endpoint_url).rstrip("/")
        if actual != endpoint:
            variable = "AWS_ENDPOINT_URL_" + re.sub(r"\W+", "_", meta.service_model.service_id)
            raise UsageError(
                f"the {service} client would talk to {actual}, not to the sandbox at {endpoint}; "
                "refusing to create anything",
                hint=f"unset {variable.upper()} and any endpoint_url for {service} in "
                "~/.aws/config",
            )


def _check_directory(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a directory", where="--dir")
    for file in (SPEC_FILE, TASKDEF_FILE):
        if (directory / file).exists():
            raise UsageError(
                f"{directory / file} already exists; refusing to overwrite it",
                where="--dir",
                hint="pick an empty directory with --dir",
            )


def _check_absent(aws: Aws, names: StackNames) -> None:
    """Refuse (exit 2, nothing written) when any part of a stack of this name exists."""
    found: list[str] = []
    with aws_errors(resource=names.cluster):
        clusters = aws.ecs().describe_clusters(clusters=[names.cluster]).get("clusters", [])
    if any(c.get("status") == "ACTIVE" for c in clusters):
        found.append(f"ECS cluster {names.cluster}")
    with aws_errors(resource=names.repository):
        repos = aws.ecr().describe_repositories().get("repositories", [])
    if any(r.get("repositoryName") == names.repository for r in repos):
        found.append(f"ECR repository {names.repository}")
    try:
        with aws_errors(resource=names.application):
            aws.codedeploy().get_application(applicationName=names.application)
        found.append(f"CodeDeploy application {names.application}")
    except ResourceNotFound:
        pass
    with aws_errors(resource=names.load_balancer):
        lbs = aws.elbv2().describe_load_balancers().get("LoadBalancers", [])
    if any(lb.get("LoadBalancerName") == names.load_balancer for lb in lbs):
        found.append(f"load balancer {names.load_balancer}")
    with aws_errors(resource="IAM roles"):
        roles = {r["RoleName"] for r in aws.iam().list_roles(MaxItems=1000).get("Roles", [])}
    wanted_roles = (names.codedeploy_role, names.execution_role, names.infrastructure_role)
    found += [f"IAM role {role}" for role in wanted_roles if role in roles]
    with aws_errors(resource="CloudWatch alarms"):
        alarms = aws.cloudwatch().describe_alarms(AlarmNames=list(names.alarms))
    found += [f"alarm {a['AlarmName']}" for a in alarms.get("MetricAlarms", [])]
    if found:
        raise UsageError(
            f"a stack named {names.name!r} already exists in this sandbox ({', '.join(found)}); "
            "nothing was created",
            hint="use the bluegreen.yaml written when it was created, pick another --name, or "
            "restart `bluegreen sandbox up` for an empty sandbox",
        )


@contextmanager
def _step(resource: str) -> Iterator[None]:
    with aws_errors(resource=resource):
        yield


class _Builder:
    def __init__(self, aws: Aws, names: StackNames, directory: Path, kind: StackKind) -> None:
        self.infrastructure_role_arn = ""
        self.aws = aws
        self.n = names
        self.directory = directory
        self.kind = kind

    @property
    def rolling(self) -> bool:
        return self.kind is StackKind.rolling

    @property
    def native(self) -> bool:
        return self.kind is StackKind.ecs_native

    def build(self) -> StackResult:
        n = self.n
        with _step("sts:GetCallerIdentity"):
            account = self.aws.sts().get_caller_identity()["Account"]
        region = self.aws.region_name or "us-east-1"
        subnets, security_group = self._network()
        alb_suffix, tg_arns, tg_suffixes, prod, test = self._load_balancer(subnets, security_group)
        codedeploy_role, execution_role = self._roles()
        rules = self._rules(tg_arns, prod, test) if self.native and test is not None else None
        repo_uri, digest = self._repository()
        image = f"{repo_uri}:{INITIAL_TAG}"
        taskdef = taskdef_input(
            n,
            image=f"{repo_uri}@{digest}",
            execution_role=execution_role,
            region=region,
            account=account,
            log_level="info",
        )
        with _step(n.family):
            taskdef_arn = self.aws.ecs().register_task_definition(**taskdef)["taskDefinition"][
                "taskDefinitionArn"
            ]
        self._alarms(alb_suffix, tg_suffixes[0])
        if rules is not None:
            self._native_service(taskdef_arn, tg_arns, rules, subnets, security_group)
        else:
            self._service(taskdef_arn, tg_arns[0], subnets, security_group)
        if codedeploy_role is not None and test is not None:
            self._codedeploy(codedeploy_role, prod, test)
        self._write_files(n, image, region, execution_role, account)
        return StackResult(
            cluster=n.cluster,
            service=n.service,
            application=None if self.rolling or self.native else n.application,
            deployment_group=None if self.rolling or self.native else n.deployment_group,
            repository=n.repository,
            target_groups=tg_arns,
            prod_listener=prod,
            test_listener=test,
            directory=self.directory,
            image=image,
            kind=self.kind,
            rules=rules,
        )

    def _network(self) -> tuple[list[str], str]:
        ec2 = self.aws.ec2()
        tags: list[TagTypeDef] = [
            {"Key": "Name", "Value": self.n.name},
            {"Key": "bluegreen:stack", "Value": "1"},
        ]
        with _step(f"VPC {self.n.name}"):
            vpc = ec2.create_vpc(
                CidrBlock="10.0.0.0/16",
                TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}],
            )["Vpc"]["VpcId"]
            ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
            ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
            zones = [
                z["ZoneName"]
                for z in ec2.describe_availability_zones()["AvailabilityZones"]
                if z.get("State", "available") == "available"
            ][:2]
            if len(zones) < 2:
                raise AwsError(f"the sandbox offers {len(zones)} availability zones, 2 needed")
            subnets = [
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)[
                    "Subnet"
                ]["SubnetId"]
                for i, zone in enumerate(zones)
            ]
            igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        with _step(f"security group {self.n.security_group}"):
            sg = ec2.create_security_group(
                GroupName=self.n.security_group,
                Description=f"bluegreen demo stack {self.n.name}: HTTP 80/8080 in",
                VpcId=vpc,
            )["GroupId"]
            ec2.authorize_security_group_ingress(
                GroupId=sg,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                    for port in (80, CONTAINER_PORT)
                ],
            )
        return subnets, sg

    def _load_balancer(
        self, subnets: list[str], sg: str
    ) -> tuple[str, tuple[str, ...], tuple[str, ...], str, str | None]:
        """The ALB, its target groups (blue and green; a rolling stack's one) and listeners
        (production :80 and test :8080; a rolling stack has no test listener), all forwarding
        to the first target group."""
        elb = self.aws.elbv2()
        with _step(f"load balancer {self.n.load_balancer}"):
            lb = elb.create_load_balancer(
                Name=self.n.load_balancer,
                Subnets=subnets,
                SecurityGroups=[sg],
                Scheme="internet-facing",
                Type="application",
                IpAddressType="ipv4",
            )["LoadBalancers"][0]
        alb_arn = lb["LoadBalancerArn"]
        vpc = lb["VpcId"]
        arns: list[str] = []
        tg_names = (self.n.target_group,) if self.rolling else self.n.target_groups
        for tg_name in tg_names:
            with _step(f"target group {tg_name}"):
                tg = elb.create_target_group(
                    Name=tg_name,
                    Protocol="HTTP",
                    Port=CONTAINER_PORT,
                    VpcId=vpc,
                    TargetType="ip",
                    HealthCheckProtocol="HTTP",
                    HealthCheckPath="/health",
                    HealthCheckIntervalSeconds=10,
                    HealthyThresholdCount=2,
                    UnhealthyThresholdCount=2,
                    Matcher={"HttpCode": "200"},
                )["TargetGroups"][0]
            arns.append(tg["TargetGroupArn"])
        blue = arns[0]
        ports = (
            ((80, "production"),)
            if self.rolling
            else ((80, "production"), (CONTAINER_PORT, "test"))
        )
        listeners: list[str] = []
        for port, label in ports:
            with _step(f"{label} listener :{port} on {self.n.load_balancer}"):
                listener = elb.create_listener(
                    LoadBalancerArn=alb_arn,
                    Protocol="HTTP",
                    Port=port,
                    DefaultActions=[
                        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
                        if self.native
                        else {"Type": "forward", "TargetGroupArn": blue}
                    ],
                )["Listeners"][0]
            listeners.append(listener["ListenerArn"])
        return (
            _arn_suffix(alb_arn, "loadbalancer/"),
            tuple(arns),
            tuple(_arn_suffix(arn, "") for arn in arns),
            listeners[0],
            listeners[1] if len(listeners) > 1 else None,
        )

    def _roles(self) -> tuple[str | None, str]:
        """The CodeDeploy service role (not on a rolling stack) and the task execution role,
        each with an inline policy of what it needs (the permissions of the AWS managed
        policies for these roles)."""
        iam = self.aws.iam()
        arns: list[str] = []
        wanted: list[tuple[str, str, tuple[str, ...]]] = [
            (self.n.execution_role, "ecs-tasks.amazonaws.com", _EXECUTION_ACTIONS)
        ]
        if self.native:
            wanted.insert(
                0,
                (self.n.infrastructure_role, "ecs.amazonaws.com", _ECS_INFRASTRUCTURE_ACTIONS),
            )
        elif not self.rolling:
            wanted.insert(
                0, (self.n.codedeploy_role, "codedeploy.amazonaws.com", _CODEDEPLOY_ACTIONS)
            )
        for role, principal, actions in wanted:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": principal},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
            }
            with _step(f"IAM role {role}"):
                arn = iam.create_role(
                    RoleName=role,
                    AssumeRolePolicyDocument=json.dumps(trust),
                    Description=f"bluegreen demo stack {self.n.name}",
                )["Role"]["Arn"]
                iam.put_role_policy(
                    RoleName=role, PolicyName=role, PolicyDocument=json.dumps(policy)
                )
            arns.append(arn)
        if self.native:
            self.infrastructure_role_arn = arns[0]
            return None, arns[1]
        return (None, arns[0]) if self.rolling else (arns[0], arns[1])

    def _rules(self, tg_arns: tuple[str, ...], prod: str, test: str) -> tuple[str, str]:
        """An ecs-native stack's production and test listener rules: every path, forwarded
        to both target groups, the serving one weight 1 and the other 0 (doc key MIG)."""
        elb = self.aws.elbv2()
        rules: list[str] = []
        for label, listener in (("production", prod), ("test", test)):
            with _step(f"{label} listener rule on {self.n.load_balancer}"):
                rule = elb.create_rule(
                    ListenerArn=listener,
                    Priority=1,
                    Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
                    Actions=[
                        {
                            "Type": "forward",
                            "ForwardConfig": {
                                "TargetGroups": [
                                    {"TargetGroupArn": tg_arns[0], "Weight": 1},
                                    {"TargetGroupArn": tg_arns[1], "Weight": 0},
                                ]
                            },
                        }
                    ],
                )["Rules"][0]
            rules.append(rule["RuleArn"])
        return rules[0], rules[1]

    def _native_service(
        self,
        taskdef_arn: str,
        tg_arns: tuple[str, ...],
        rules: tuple[str, str],
        subnets: list[str],
        sg: str,
    ) -> None:
        """An ECS-controller service with the BLUE_GREEN strategy: bake time, the stack's
        alarms with rollback, and each load balancer's advancedConfiguration (alternate target
        group, production and test rules, the infrastructure role)."""
        ecs = self.aws.ecs()
        n = self.n
        with _step(f"ECS cluster {n.cluster}"):
            ecs.create_cluster(
                clusterName=n.cluster,
                settings=[{"name": "containerInsights", "value": "disabled"}],
            )
        with _step(f"ECS service {n.cluster}/{n.service}"):
            ecs.create_service(
                cluster=n.cluster,
                serviceName=n.service,
                taskDefinition=taskdef_arn,
                loadBalancers=[
                    {
                        "targetGroupArn": tg_arns[0],
                        "containerName": CONTAINER_NAME,
                        "containerPort": CONTAINER_PORT,
                        "advancedConfiguration": {
                            "alternateTargetGroupArn": tg_arns[1],
                            "productionListenerRule": rules[0],
                            "testListenerRule": rules[1],
                            "roleArn": self.infrastructure_role_arn,
                        },
                    }
                ],
                desiredCount=2,
                launchType="FARGATE",
                platformVersion="LATEST",
                deploymentController={"type": "ECS"},
                deploymentConfiguration={
                    "strategy": "BLUE_GREEN",
                    "bakeTimeInMinutes": NATIVE_BAKE_MINUTES,
                    "alarms": {"alarmNames": list(n.alarms), "enable": True, "rollback": True},
                },
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": subnets,
                        "securityGroups": [sg],
                        "assignPublicIp": "ENABLED",
                    }
                },
                healthCheckGracePeriodSeconds=30,
                schedulingStrategy="REPLICA",
            )

    def _repository(self) -> tuple[str, str]:
        ecr = self.aws.ecr()
        with _step(f"ECR repository {self.n.repository}"):
            uri = ecr.create_repository(
                repositoryName=self.n.repository,
                imageTagMutability="MUTABLE",
                imageScanningConfiguration={"scanOnPush": False},
            )["repository"]["repositoryUri"]
            manifest = image_manifest(f"{self.n.name}:{INITIAL_TAG}")
            image = ecr.put_image(
                repositoryName=self.n.repository,
                imageManifest=manifest,
                imageManifestMediaType=MANIFEST_MEDIA_TYPE,
                imageTag=INITIAL_TAG,
            )["image"]
        return uri, image["imageId"]["imageDigest"]

    def _service(self, taskdef_arn: str, blue: str, subnets: list[str], sg: str) -> None:
        ecs = self.aws.ecs()
        n = self.n
        network: NetworkConfigurationTypeDef = {
            "awsvpcConfiguration": {
                "subnets": subnets,
                "securityGroups": [sg],
                "assignPublicIp": "ENABLED",
            }
        }
        lbs: list[LoadBalancerTypeDef] = [
            {
                "targetGroupArn": blue,
                "containerName": CONTAINER_NAME,
                "containerPort": CONTAINER_PORT,
            }
        ]
        with _step(f"ECS cluster {n.cluster}"):
            ecs.create_cluster(
                clusterName=n.cluster,
                settings=[{"name": "containerInsights", "value": "disabled"}],
            )
        if self.rolling:
            with _step(f"ECS service {n.cluster}/{n.service}"):
                ecs.create_service(
                    cluster=n.cluster,
                    serviceName=n.service,
                    taskDefinition=taskdef_arn,
                    loadBalancers=lbs,
                    desiredCount=2,
                    launchType="FARGATE",
                    platformVersion="LATEST",
                    deploymentController={"type": "ECS"},
                    deploymentConfiguration=self._rolling_configuration(),
                    networkConfiguration=network,
                    healthCheckGracePeriodSeconds=30,
                    schedulingStrategy="REPLICA",
                )
            return
        with _step(f"ECS service {n.cluster}/{n.service}"):
            ecs.create_service(
                cluster=n.cluster,
                serviceName=n.service,
                taskDefinition=taskdef_arn,
                loadBalancers=lbs,
                desiredCount=2,
                launchType="FARGATE",
                platformVersion="LATEST",
                deploymentController={"type": "CODE_DEPLOY"},
                networkConfiguration=network,
                healthCheckGracePeriodSeconds=30,
                schedulingStrategy="REPLICA",
            )
            task_set = ecs.create_task_set(
                cluster=n.cluster,
                service=n.service,
                taskDefinition=taskdef_arn,
                externalId=f"{n.name}-initial",
                networkConfiguration=network,
                loadBalancers=lbs,
                launchType="FARGATE",
                platformVersion="LATEST",
                scale={"value": 100.0, "unit": "PERCENT"},
            )["taskSet"]
            ecs.update_service_primary_task_set(
                cluster=n.cluster, service=n.service, primaryTaskSet=task_set["taskSetArn"]
            )

    def _rolling_configuration(self) -> DeploymentConfigurationTypeDef:
        """A rolling service's guards, as a careful team sets them: new tasks start before old
        ones stop, and the circuit breaker and the stack's alarms both roll back."""
        return {
            "minimumHealthyPercent": 100,
            "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "alarms": {"alarmNames": list(self.n.alarms), "enable": True, "rollback": True},
        }

    def _alarms(self, alb_suffix: str, blue_suffix: str) -> None:
        cw = self.aws.cloudwatch()
        five_xx, latency = self.n.alarms
        dims: list[DimensionTypeDef] = [
            {"Name": "LoadBalancer", "Value": alb_suffix},
            {"Name": "TargetGroup", "Value": blue_suffix},
        ]
        with _step(f"CloudWatch alarm {five_xx}"):
            cw.put_metric_alarm(
                AlarmName=five_xx,
                AlarmDescription=f"{self.n.service}: targets answer 5xx",
                Namespace="AWS/ApplicationELB",
                MetricName="HTTPCode_Target_5XX_Count",
                Dimensions=dims,
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=5.0,
                ComparisonOperator="GreaterThanThreshold",
                TreatMissingData="notBreaching",
            )
        with _step(f"CloudWatch alarm {latency}"):
            cw.put_metric_alarm(
                AlarmName=latency,
                AlarmDescription=f"{self.n.service}: p99 response time above 1 s",
                Namespace="AWS/ApplicationELB",
                MetricName="TargetResponseTime",
                Dimensions=dims,
                ExtendedStatistic="p99",
                Period=60,
                EvaluationPeriods=3,
                DatapointsToAlarm=2,
                Threshold=1.0,
                ComparisonOperator="GreaterThanThreshold",
                TreatMissingData="notBreaching",
            )

    def _codedeploy(self, role: str, prod: str, test: str) -> None:
        cd = self.aws.codedeploy()
        n = self.n
        with _step(f"CodeDeploy application {n.application}"):
            cd.create_application(applicationName=n.application, computePlatform="ECS")
        with _step(f"CodeDeploy deployment group {n.deployment_group}"):
            cd.create_deployment_group(
                applicationName=n.application,
                deploymentGroupName=n.deployment_group,
                serviceRoleArn=role,
                deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
                deploymentStyle={
                    "deploymentType": "BLUE_GREEN",
                    "deploymentOption": "WITH_TRAFFIC_CONTROL",
                },
                blueGreenDeploymentConfiguration={
                    "terminateBlueInstancesOnDeploymentSuccess": {
                        "action": "TERMINATE",
                        "terminationWaitTimeInMinutes": TERMINATION_WAIT_MINUTES,
                    },
                    "deploymentReadyOption": {
                        "actionOnTimeout": "CONTINUE_DEPLOYMENT",
                        "waitTimeInMinutes": 0,
                    },
                },
                loadBalancerInfo={
                    "targetGroupPairInfoList": [
                        {
                            "targetGroups": [{"name": tg} for tg in n.target_groups],
                            "prodTrafficRoute": {"listenerArns": [prod]},
                            "testTrafficRoute": {"listenerArns": [test]},
                        }
                    ]
                },
                ecsServices=[{"serviceName": n.service, "clusterName": n.cluster}],
                alarmConfiguration={
                    "enabled": True,
                    "ignorePollAlarmFailure": False,
                    "alarms": [{"name": alarm} for alarm in n.alarms],
                },
                autoRollbackConfiguration={
                    "enabled": True,
                    "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
                },
            )

    def _write_files(
        self, n: StackNames, image: str, region: str, execution_role: str, account: str
    ) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        template = taskdef_template(
            n, execution_role=execution_role, region=region, account=account
        )
        (self.directory / TASKDEF_FILE).write_text(template, encoding="utf-8")
        (self.directory / SPEC_FILE).write_text(
            spec_text(n, image, region, self.kind), encoding="utf-8"
        )


def _arn_suffix(arn: str, after: str) -> str:
    """`app/name/id` of an ALB ARN, `targetgroup/name/id` of a target group ARN (the
    CloudWatch dimension values)."""
    resource = arn.split(":", 5)[-1]
    return resource.split(after, 1)[-1] if after else resource


# --- the files written into --dir ----------------------------------------------------------------
MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def image_manifest(seed: str) -> str:
    """A Docker v2 (schema 2) image manifest whose config and layer digests derive from `seed`."""

    def blob(kind: str) -> tuple[str, int]:
        content = f"bluegreen sandbox {kind} for {seed}".encode()
        return "sha256:" + hashlib.sha256(content).hexdigest(), len(content)

    config_digest, config_size = blob("config")
    layer_digest, layer_size = blob("layer")
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config_size,
            "digest": config_digest,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": layer_size,
                "digest": layer_digest,
            }
        ],
    }
    return json.dumps(manifest, indent=3)


def taskdef_input(
    n: StackNames, *, image: str, execution_role: str, region: str, account: str, log_level: str
) -> dict[str, Any]:
    """The register-task-definition input of the stack's service."""
    return {
        "family": n.family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": execution_role,
        "containerDefinitions": [
            {
                "name": CONTAINER_NAME,
                "image": image,
                "essential": True,
                "cpu": 256,
                "memory": 512,
                "portMappings": [{"containerPort": CONTAINER_PORT, "protocol": "tcp"}],
                "environment": [{"name": "LOG_LEVEL", "value": log_level}],
                "secrets": [
                    {
                        "name": "DB_PASSWORD",
                        "valueFrom": f"arn:aws:ssm:{region}:{account}:parameter/{n.name}/"
                        "db-password",
                    }
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": n.log_group,
                        "awslogs-region": region,
                        "awslogs-stream-prefix": CONTAINER_NAME,
                    },
                },
            }
        ],
    }


def taskdef_template(n: StackNames, *, execution_role: str, region: str, account: str) -> str:
    """`taskdef.json.j2`: the input above with the image and the log level as jinja2 variables."""
    data = taskdef_input(
        n,
        image="{{ images.%s }}" % CONTAINER_NAME,  # noqa: UP031 - a jinja2 placeholder
        execution_role=execution_role,
        region=region,
        account=account,
        log_level="{{ vars.log_level }}",
    )
    return json.dumps(data, indent=2) + "\n"


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def spec_text(
    n: StackNames, image: str, region: str, kind: StackKind = StackKind.codedeploy
) -> str:
    """`bluegreen.yaml` for the stack (docs/architecture.md, "The spec file"); a rolling or
    ecs-native stack's has no `codedeploy:` block (its service's controller is ECS)."""
    alarms = ", ".join(_yaml_str(a) for a in n.alarms)
    codedeploy = (
        ""
        if kind in (StackKind.rolling, StackKind.ecs_native)
        else f"""\
codedeploy:
  application: {_yaml_str(n.application)}
  deployment_group: {_yaml_str(n.deployment_group)}
  deployment_config: {DEPLOYMENT_CONFIG}
"""
    )
    return f"""\
# Written by `bluegreen sandbox stack` for the demo stack {n.name!r} in the bluegreen sandbox.
# Deploy a new build with, for example:
#   bluegreen deploy --image {CONTAINER_NAME}={image.rsplit(":", 1)[0]}:<tag>
version: 1
region: {_yaml_str(region)}
cluster: {_yaml_str(n.cluster)}
service: {_yaml_str(n.service)}
task_definition: {TASKDEF_FILE}
images:
  {CONTAINER_NAME}: {_yaml_str(image)}
pin_digests: true
load_balancer:
  container_name: {CONTAINER_NAME}
  container_port: {CONTAINER_PORT}
{codedeploy}rollback:
  on_failure: true
  alarms: [{alarms}]
vars:
  log_level: info
"""
