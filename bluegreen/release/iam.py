"""The least-privilege IAM policy for what a spec uses.

`ACTIONS` is the table of every AWS action bluegreen calls, with the feature that needs it
and the resource it can be scoped to. `build_policy` keeps the actions of the features a
spec uses and groups them into statements by resource. A test checks that every AWS call in
`bluegreen/aws/` has a row here, so the policy cannot fall behind the code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bluegreen.errors import SpecError

if TYPE_CHECKING:
    from bluegreen.spec.model import Spec

# --- features ------------------------------------------------------------------------------
CORE = "core"  # render, diff, status, history, deploy's reads and the registration
CODEDEPLOY_BG = "blue-green"  # CodeDeploy-controlled services
CUSTOM_CONFIG = "custom-config"  # deployment_config shorthand created on demand
ROLLING = "rolling"  # ECS-controlled services (rolling update, redeploy)
ECS_NATIVE = "ecs-native"  # ECS-controlled BLUE_GREEN / LINEAR / CANARY services
ROLE_USE = "pass-role"  # the task definition names an execution or task role
ECR = "ecr"  # images in ECR: digest resolution
TAG = "tag"  # `tag` and `deploy --tag-as`
ALARMS = "alarms"  # rollback.alarms
METRICS = "metrics"  # rollback.metrics
CLEANUP = "cleanup"
DOCTOR = "doctor"
ACCOUNT = "account"  # account lookup when --account is not given
MIGRATE = "migrate"  # `migrate --to ecs` (iam-policy --migrate)
LOOKUPS = "lookups"  # template lookups: ssm(), cfn_output(), tfstate() of s3://
RUN = "run"  # one-off tasks: `run` (iam-policy --run)

FEATURES = (
    CORE,
    CODEDEPLOY_BG,
    CUSTOM_CONFIG,
    ROLLING,
    ECS_NATIVE,
    ROLE_USE,
    ECR,
    TAG,
    ALARMS,
    METRICS,
    CLEANUP,
    DOCTOR,
    ACCOUNT,
    MIGRATE,
    RUN,
    LOOKUPS,
)

# --- resources -----------------------------------------------------------------------------
ANY = "*"
CLUSTER = "cluster"
SERVICE = "service"
FAMILY = "task-definition-family"
APPLICATION = "codedeploy-application"
GROUP = "codedeploy-deployment-group"
CONFIG = "codedeploy-deployment-config"
REPOSITORIES = "ecr-repositories"
ALARM_ARNS = "cloudwatch-alarms"
TASK_ROLES = "task-roles"
ROLES = "iam-roles"
CREATED_CONFIGS = "codedeploy-created-configs"
SERVICE_DEPLOYMENTS = "ecs-service-deployments"
SERVICE_REVISIONS = "ecs-service-revisions"
INFRASTRUCTURE_ROLES = "ecs-infrastructure-roles"
MIGRATION_ROLE = "migration-infrastructure-role"  # the role `migrate` creates
SSM_PARAMETERS = "ssm-parameters"  # the parameters ssm() reads
STACKS = "cloudformation-stacks"  # the stacks cfn_output() reads
S3_OBJECTS = "s3-objects"  # the state files tfstate('s3://...') reads
CONFIG_PREFIX = "bluegreen."  # bluegreen.engines.codedeploy.configs.PREFIX


@dataclass(frozen=True)
class Action:
    feature: str
    resource: str
    why: str
    also: tuple[str, ...] = ()  # other features that need the action too


# action -> (feature, resource kind, what calls it). Actions that do not support
# resource-level permissions are scoped to "*" (the Service Authorization Reference lists
# no resource type for them); ECS list/describe calls that do are scoped to the cluster.
ACTIONS: dict[str, Action] = {
    # core
    "ecs:DescribeServices": Action(CORE, SERVICE, "read the live service"),
    "ecs:DescribeClusters": Action(CORE, CLUSTER, "check the cluster"),
    "ecs:DescribeTaskDefinition": Action(CORE, ANY, "read the live task definition"),
    "ecs:RegisterTaskDefinition": Action(CORE, ANY, "register the new revision"),
    "ecs:TagResource": Action(CORE, FAMILY, "tags on the registered revision"),
    "ecs:ListTasks": Action(CORE, ANY, "status: the service's tasks"),
    "ecs:DescribeTasks": Action(CORE, ANY, "status: task health and images"),
    # blue/green through CodeDeploy
    "codedeploy:GetApplication": Action(CODEDEPLOY_BG, APPLICATION, "preflight"),
    "codedeploy:BatchGetApplications": Action(
        CODEDEPLOY_BG, APPLICATION, "preflight of several specs in one read"
    ),
    "codedeploy:RegisterApplicationRevision": Action(CODEDEPLOY_BG, APPLICATION, "the AppSpec"),
    "codedeploy:GetApplicationRevision": Action(CODEDEPLOY_BG, APPLICATION, "the AppSpec"),
    "codedeploy:GetDeploymentGroup": Action(CODEDEPLOY_BG, GROUP, "preflight, waits"),
    "codedeploy:CreateDeployment": Action(CODEDEPLOY_BG, GROUP, "start the release"),
    "codedeploy:GetDeployment": Action(CODEDEPLOY_BG, GROUP, "watch"),
    "codedeploy:BatchGetDeployments": Action(CODEDEPLOY_BG, GROUP, "history"),
    "codedeploy:ListDeployments": Action(CODEDEPLOY_BG, GROUP, "active deployment, history"),
    "codedeploy:GetDeploymentTarget": Action(CODEDEPLOY_BG, GROUP, "watch lifecycle and weights"),
    "codedeploy:ListDeploymentTargets": Action(CODEDEPLOY_BG, GROUP, "watch"),
    "codedeploy:StopDeployment": Action(CODEDEPLOY_BG, GROUP, "stop, rollback"),
    "codedeploy:ContinueDeployment": Action(CODEDEPLOY_BG, GROUP, "approve"),
    "codedeploy:GetDeploymentConfig": Action(CODEDEPLOY_BG, CONFIG, "the shift's steps"),
    "ecs:DescribeTaskSets": Action(CODEDEPLOY_BG, SERVICE, "blue and green task sets"),
    "elasticloadbalancing:DescribeTargetGroups": Action(
        CODEDEPLOY_BG, ANY, "target groups", also=(ECS_NATIVE,)
    ),
    "elasticloadbalancing:DescribeListeners": Action(
        CODEDEPLOY_BG, ANY, "prod/test listeners", also=(ECS_NATIVE,)
    ),
    "elasticloadbalancing:DescribeRules": Action(
        CODEDEPLOY_BG, ANY, "weighted forwards", also=(ECS_NATIVE,)
    ),
    "elasticloadbalancing:DescribeTargetHealth": Action(CODEDEPLOY_BG, ANY, "green health"),
    "elasticloadbalancing:DescribeLoadBalancers": Action(
        CODEDEPLOY_BG, ANY, "test listener URL", also=(ECS_NATIVE,)
    ),
    "codedeploy:CreateDeploymentConfig": Action(
        CUSTOM_CONFIG, CREATED_CONFIGS, "canary:/linear: configs"
    ),
    # rolling updates (ECS controller)
    "ecs:UpdateService": Action(ROLLING, SERVICE, "roll out the new revision", also=(ECS_NATIVE,)),
    # ECS-native blue/green (ECS controller, BLUE_GREEN | LINEAR | CANARY)
    "ecs:ListServiceDeployments": Action(ECS_NATIVE, SERVICE, "in flight, history"),
    "ecs:DescribeServiceDeployments": Action(
        ECS_NATIVE, SERVICE_DEPLOYMENTS, "follow the deployment"
    ),
    "ecs:StopServiceDeployment": Action(ECS_NATIVE, SERVICE_DEPLOYMENTS, "stop, rollback"),
    "ecs:ContinueServiceDeployment": Action(
        ECS_NATIVE, SERVICE_DEPLOYMENTS, "approve, verify's pause hook"
    ),
    "ecs:DescribeServiceRevisions": Action(ECS_NATIVE, SERVICE_REVISIONS, "revisions' images"),
    # the task's roles
    "iam:PassRole": Action(ROLE_USE, TASK_ROLES, "register a task definition with roles"),
    # images
    "ecr:DescribeImages": Action(ECR, REPOSITORIES, "tag -> digest"),
    "ecr:BatchGetImage": Action(TAG, REPOSITORIES, "the manifest to re-tag"),
    "ecr:PutImage": Action(TAG, REPOSITORIES, "the manifest under the new tag"),
    # rollback signals
    "cloudwatch:DescribeAlarms": Action(ALARMS, ALARM_ARNS, "alarm state during the shift"),
    "cloudwatch:GetMetricData": Action(METRICS, ANY, "metric checks"),
    # cleanup
    "ecs:ListTaskDefinitions": Action(CLEANUP, ANY, "the family's revisions"),
    "ecs:ListServices": Action(CLEANUP, ANY, "revisions in use in the cluster"),
    "ecs:DeregisterTaskDefinition": Action(CLEANUP, ANY, "old revisions"),
    "ecs:DeleteTaskDefinitions": Action(CLEANUP, FAMILY, "cleanup --delete"),
    # doctor
    "iam:GetRole": Action(DOCTOR, ROLES, "the deployment group's service role"),
    # account lookup
    "sts:GetCallerIdentity": Action(ACCOUNT, ANY, "account of the ARNs"),
    # migrate --to ecs: rules forwarding to both target groups, the load balancers'
    # infrastructure role, the controller switch (ecs:UpdateService, ECS_NATIVE's), and
    # --delete-codedeploy
    "elasticloadbalancing:CreateRule": Action(MIGRATE, ANY, "production and test rules"),
    "elasticloadbalancing:AddTags": Action(MIGRATE, ANY, "the rules' bluegreen:migrate tag"),
    "elasticloadbalancing:DescribeTags": Action(MIGRATE, ANY, "rules migrate created"),
    "iam:CreateRole": Action(MIGRATE, MIGRATION_ROLE, "the infrastructure role"),
    "iam:AttachRolePolicy": Action(MIGRATE, MIGRATION_ROLE, "its managed policy"),
    "iam:ListAttachedRolePolicies": Action(MIGRATE, MIGRATION_ROLE, "is it attached"),
    "codedeploy:ListDeploymentGroups": Action(MIGRATE, APPLICATION, "the application's groups"),
    "codedeploy:DeleteDeploymentGroup": Action(MIGRATE, GROUP, "--delete-codedeploy"),
    "codedeploy:DeleteApplication": Action(MIGRATE, APPLICATION, "--delete-codedeploy"),
    # template lookups, scoped to what the templates read
    "ssm:GetParameter": Action(LOOKUPS, SSM_PARAMETERS, "ssm() in templates"),
    "cloudformation:DescribeStacks": Action(LOOKUPS, STACKS, "cfn_output() in templates"),
    "s3:GetObject": Action(LOOKUPS, S3_OBJECTS, "tfstate('s3://...') in templates"),
    # run: a one-off task of the family in the spec's cluster (DescribeTasks, a core read,
    # follows it; iam:PassRole on the task's roles comes with them, see ROLE_USE)
    "ecs:RunTask": Action(RUN, FAMILY, "run: start the one-off task"),
    "ecs:StopTask": Action(RUN, ANY, "run: stop it on timeout or cancel"),
}

# Read-only: never needs more than the features it is listed under; the policy builder keeps
# the cluster condition on ECS calls scoped to "*" that accept it.
_ECS_CLUSTER_CONDITION = {"ecs:ListTasks", "ecs:DescribeTasks", "ecs:ListServices"}
# Task writes of `run`, kept to the spec's cluster the same way.
_ECS_RUN_CONDITION = {"ecs:RunTask", "ecs:StopTask"}

_SERVICE_PREFIX = {
    "ecs": "ecs",
    "ecr": "ecr",
    "codedeploy": "codedeploy",
    "elbv2": "elasticloadbalancing",
    "cloudwatch": "cloudwatch",
    "iam": "iam",
    "sts": "sts",
    "ssm": "ssm",
    "cloudformation": "cloudformation",
    "s3": "s3",
}


def action_for_call(service: str, method: str) -> str:
    """`("ecs", "describe_services")` -> `"ecs:DescribeServices"`."""
    prefix = _SERVICE_PREFIX[service]
    return f"{prefix}:" + "".join(part.capitalize() for part in method.split("_"))


@dataclass(frozen=True)
class PolicyInputs:
    partition: str
    account: str
    region: str
    cluster: str
    service: str
    family: str
    application: str
    deployment_group: str
    repositories: tuple[tuple[str, str, str], ...]  # (account, region, name) of ECR images
    alarms: tuple[str, ...]
    task_roles: tuple[str, ...]  # role ARNs or names
    features: frozenset[str]
    # ECS-native: the infrastructure (and hook) roles UpdateService passes to ECS; empty: any
    infrastructure_roles: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    # what template lookups read: ("ssm", name), ("cfn", stack), ("s3", bucket, key)
    lookups: tuple[tuple[str, ...], ...] = ()


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def features_for(
    *,
    strategies: Iterable[str],
    ecr_images: bool,
    roles: bool,
    alarms: bool,
    metrics: bool,
    custom_config: bool,
    account_lookup: bool,
    migrate: bool = False,
    lookups: bool = False,
    run: bool = False,
) -> frozenset[str]:
    out = {CORE, CLEANUP, DOCTOR}
    out.update(strategies)
    if run:
        out.add(RUN)
    if migrate:  # it reads the group, writes the service under the ECS-native engine
        out.update((MIGRATE, CODEDEPLOY_BG, ECS_NATIVE))
    if ecr_images:
        out.update((ECR, TAG))
    if roles:
        out.add(ROLE_USE)
    if alarms:
        out.add(ALARMS)
    if metrics:
        out.add(METRICS)
    if custom_config and CODEDEPLOY_BG in out:
        out.add(CUSTOM_CONFIG)
    if account_lookup:
        out.add(ACCOUNT)
    if lookups:
        out.add(LOOKUPS)
    return frozenset(out)


def actions_for(features: Iterable[str]) -> list[str]:
    wanted = set(features)
    return sorted(
        name for name, a in ACTIONS.items() if a.feature in wanted or wanted.intersection(a.also)
    )


def _parameter_arn(p: PolicyInputs, name: str) -> str:
    """`/app/db` -> `arn:aws:ssm:REGION:ACCOUNT:parameter/app/db` (a version or label selector,
    `name:3`, is not part of the ARN)."""
    if name.startswith("arn:"):
        return name
    bare = name.split(":", 1)[0].lstrip("/")
    return f"arn:{p.partition}:ssm:{p.region}:{p.account}:parameter/{bare}"


def _role_arn(p: PolicyInputs, role: str) -> str:
    if role.startswith("arn:"):
        return role
    return f"arn:{p.partition}:iam::{p.account}:role/{role}"


def _resources(p: PolicyInputs, kind: str) -> list[str]:
    ecs = f"arn:{p.partition}:ecs:{p.region}:{p.account}"
    cd = f"arn:{p.partition}:codedeploy:{p.region}:{p.account}"
    if kind == ANY:
        return ["*"]
    if kind == CLUSTER:
        return [f"{ecs}:cluster/{p.cluster}"]
    if kind == SERVICE:
        return [f"{ecs}:service/{p.cluster}/{p.service}"]
    if kind == FAMILY:
        return [f"{ecs}:task-definition/{p.family}:*"]
    if kind == APPLICATION:
        return [f"{cd}:application:{p.application}"]
    if kind == GROUP:
        return [f"{cd}:deploymentgroup:{p.application}/{p.deployment_group}"]
    if kind == CONFIG:
        # any config may be read (the group's own, or a --deployment-config override);
        # bluegreen only ever creates configs under its own prefix
        return [f"{cd}:deploymentconfig:*"]
    if kind == CREATED_CONFIGS:
        return [f"{cd}:deploymentconfig:{CONFIG_PREFIX}*"]
    if kind == REPOSITORIES:
        return [
            f"arn:{p.partition}:ecr:{region}:{account}:repository/{name}"
            for account, region, name in p.repositories
        ]
    if kind == ALARM_ARNS:
        return [f"arn:{p.partition}:cloudwatch:{p.region}:{p.account}:alarm:{a}" for a in p.alarms]
    if kind == TASK_ROLES:
        return [_role_arn(p, r) for r in p.task_roles]
    if kind == ROLES:
        return [f"arn:{p.partition}:iam::{p.account}:role/*"]
    if kind == SERVICE_DEPLOYMENTS:
        return [f"{ecs}:service-deployment/{p.cluster}/{p.service}/*"]
    if kind == SERVICE_REVISIONS:
        return [f"{ecs}:service-revision/{p.cluster}/{p.service}/*"]
    if kind == SSM_PARAMETERS:
        return [_parameter_arn(p, r[1]) for r in p.lookups if r[0] == "ssm"]
    if kind == STACKS:
        return [
            r[1]
            if r[1].startswith("arn:")
            else f"arn:{p.partition}:cloudformation:{p.region}:{p.account}:stack/{r[1]}/*"
            for r in p.lookups
            if r[0] == "cfn"
        ]
    if kind == S3_OBJECTS:
        return [f"arn:{p.partition}:s3:::{r[1]}/{r[2]}" for r in p.lookups if r[0] == "s3"]
    if kind == MIGRATION_ROLE:
        from bluegreen.release.migrate import role_name_for

        return [_role_arn(p, role_name_for(p.cluster, p.service))]
    if kind == INFRASTRUCTURE_ROLES:
        if not p.infrastructure_roles and MIGRATE in p.features:
            return _resources(p, MIGRATION_ROLE)  # the role migrate creates and passes
        return [_role_arn(p, r) for r in p.infrastructure_roles] or [
            f"arn:{p.partition}:iam::{p.account}:role/*"
        ]
    raise ValueError(f"unknown resource kind {kind!r}")


_SIDS = {
    ANY: "NoResourceLevelPermissions",
    CLUSTER: "Cluster",
    SERVICE: "Service",
    FAMILY: "TaskDefinitionFamily",
    APPLICATION: "CodeDeployApplication",
    GROUP: "CodeDeployDeploymentGroup",
    CONFIG: "CodeDeployReadConfigs",
    CREATED_CONFIGS: "CodeDeployCreateOwnConfigs",
    REPOSITORIES: "EcrRepositories",
    ALARM_ARNS: "Alarms",
    TASK_ROLES: "PassTaskRolesToEcsTasks",
    ROLES: "ReadRoles",
    SERVICE_DEPLOYMENTS: "EcsServiceDeployments",
    SERVICE_REVISIONS: "EcsServiceRevisions",
    INFRASTRUCTURE_ROLES: "PassInfrastructureRolesToEcs",
    MIGRATION_ROLE: "MigrationInfrastructureRole",
    SSM_PARAMETERS: "TemplateLookupsSsmParameters",
    STACKS: "TemplateLookupsStacks",
    S3_OBJECTS: "TemplateLookupsStateFiles",
}


def build_policy(p: PolicyInputs) -> dict[str, Any]:
    """The IAM policy document: one statement per (resource set, condition)."""
    groups: dict[tuple[tuple[str, ...], str], list[str]] = {}
    kinds: dict[tuple[tuple[str, ...], str], str] = {}
    for name in actions_for(p.features):
        a = ACTIONS[name]
        resources = tuple(sorted(set(_resources(p, a.resource))))
        if not resources:
            continue  # e.g. no CodeDeploy config to read: nothing to grant
        cond = "cluster" if name in _ECS_CLUSTER_CONDITION else ""
        if name in _ECS_RUN_CONDITION:
            cond = "cluster-run"
        if name == "iam:PassRole":
            cond = "passrole"
        groups.setdefault((resources, cond), []).append(name)
        kinds.setdefault((resources, cond), a.resource)
    statements: list[dict[str, Any]] = []
    for key, actions in sorted(groups.items(), key=lambda kv: _SIDS[kinds[kv[0]]]):
        resources, cond = key
        sid = "ClusterScopedReads" if cond == "cluster" else _SIDS[kinds[key]]
        if cond == "cluster-run":
            sid = "OneOffTasksInCluster" if kinds[key] == FAMILY else "StopOneOffTasksInCluster"
        stmt: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": list(resources) if len(resources) > 1 else resources[0],
        }
        if cond in ("cluster", "cluster-run"):
            stmt["Condition"] = {
                "ArnEquals": {
                    "ecs:cluster": f"arn:{p.partition}:ecs:{p.region}:{p.account}:cluster/"
                    f"{p.cluster}"
                }
            }
        elif cond == "passrole":
            stmt["Condition"] = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
        statements.append(stmt)
    if ECS_NATIVE in p.features:
        # UpdateService passes the load balancers' infrastructure role (and Lambda hooks'
        # roles) to ECS itself, not to tasks
        roles = sorted(set(_resources(p, INFRASTRUCTURE_ROLES)))
        statements.append(
            {
                "Sid": _SIDS[INFRASTRUCTURE_ROLES],
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": roles if len(roles) > 1 else roles[0],
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def policy_actions(policy: Mapping[str, Any]) -> list[str]:
    out: set[str] = set()
    for stmt in policy["Statement"]:
        acts = stmt["Action"]
        out.update([acts] if isinstance(acts, str) else acts)
    return sorted(out)


# --- from a spec -----------------------------------------------------------------------------
_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
STRATEGIES = (CODEDEPLOY_BG, ROLLING)


@dataclass(frozen=True)
class PolicyResult:
    policy: dict[str, Any]
    features: frozenset[str]
    notes: tuple[str, ...]


def policy_for(
    spec: Spec,
    task_definition: Mapping[str, Any],
    images: Mapping[str, str],
    *,
    account: str,
    region: str,
    strategies: Sequence[str] = STRATEGIES,
    account_lookup: bool = False,
    infrastructure_roles: Sequence[str] = (),
    migrate: bool = False,
    assume_role: str | None = None,
    lookups: Sequence[tuple[str, ...]] = (),
    run: bool = False,
) -> PolicyResult:
    """The policy for `spec`, whose task definition rendered to `task_definition` with
    `images` (container -> reference). `assume_role`: the role the release runs as (spec
    `role_arn` or --assume-role): the policy is that role's, and a note says what the
    identity that assumes it needs."""
    from bluegreen.engines.codedeploy.configs import parse_config
    from bluegreen.spec.images import parse_image

    notes: list[str] = []
    repositories: list[tuple[str, str, str]] = []
    for container, ref in sorted(images.items()):
        image = parse_image(ref, where=f"images.{container}")
        m = _ECR_HOST.match(image.registry or "")
        if m is None:
            notes.append(f"image of {container!r} is not in ECR ({ref}): no ECR permission needed")
            continue
        repo = (m.group(1), m.group(2), image.repository)
        if repo not in repositories:
            repositories.append(repo)
    roles = tuple(
        sorted(
            {
                str(task_definition[k])
                for k in ("executionRoleArn", "taskRoleArn")
                if task_definition.get(k)
            }
        )
    )
    config = spec.codedeploy.deployment_config
    custom = config is not None and parse_config(config).shorthand is not None
    features = features_for(
        strategies=strategies,
        ecr_images=bool(repositories),
        roles=bool(roles),
        alarms=bool(spec.rollback.alarms),
        metrics=bool(spec.rollback.metrics),
        custom_config=custom,
        account_lookup=account_lookup,
        migrate=migrate,
        lookups=bool(lookups),
        run=run,
    )
    family = str(task_definition.get("family") or "")
    if not family:
        raise SpecError(
            "the rendered task definition has no family",
            where=str(spec.task_definition),
            hint="set `family` in the task definition template",
        )
    inputs = PolicyInputs(
        partition=partition_for(region),
        account=account,
        region=region,
        cluster=_name(spec.cluster),
        service=_name(spec.service),
        family=family,
        application=spec.codedeploy.application,
        deployment_group=spec.codedeploy.deployment_group,
        repositories=tuple(repositories),
        alarms=tuple(spec.rollback.alarms),
        task_roles=roles,
        features=features,
        infrastructure_roles=tuple(dict.fromkeys(infrastructure_roles)),
        lookups=tuple(dict.fromkeys(lookups)),
    )
    if any(r[0] == "ssm" for r in lookups):
        notes.append(
            "ssm(): a SecureString parameter encrypted with a customer managed KMS key also "
            "needs kms:Decrypt on that key (the AWS managed key aws/ssm needs nothing more)"
        )
    if ECS_NATIVE in features and not infrastructure_roles:
        notes.append(
            "ECS-native: the infrastructure role is not known (no live service read), so "
            "iam:PassRole to ecs.amazonaws.com is granted on every role of the account"
        )
    if assume_role is not None:
        notes.append(assume_role_note(assume_role))
    return PolicyResult(build_policy(inputs), features, tuple(notes))


def assume_role_note(role_arn: str) -> str:
    """What the identity that runs bluegreen (a CI role) needs when the release assumes
    `role_arn`: sts:AssumeRole on it, and a place in its trust policy."""
    import json

    grant = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
    return (
        f"every AWS call runs as {role_arn}: attach this policy to that role; the identity that "
        f"runs bluegreen (e.g. the CI role) needs only {json.dumps(grant)}, and the role's "
        "trust policy must let that identity assume it (with the spec's external_id, if any)"
    )


def _name(name_or_arn: str) -> str:
    """`arn:aws:ecs:r:a:cluster/web` -> `web`; service ARNs keep only the service name."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.rsplit("/", 1)[-1]
    return name_or_arn
