"""ECS and CodeDeploy reads and writes of `cleanup`: a family's revisions, the revisions a
cluster uses, the ones in-flight deployments name, deregistration and deletion."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bluegreen.aws.errors import aws_errors

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws

_APPSPEC_TD = re.compile(r"""["']?TaskDefinition["']?\s*:\s*["']?(arn:[^"'\s,}]+)""", re.I)


def family_revisions(aws: Aws, family: str, status: str) -> list[str]:
    """ARNs of the family's revisions in `status` (ACTIVE | INACTIVE)."""
    out: list[str] = []
    paginator = aws.ecs().get_paginator("list_task_definitions")
    with aws_errors(resource=f"task definition family {family}"):
        for page in paginator.paginate(familyPrefix=family, status=status):  # type: ignore[arg-type]
            out.extend(page.get("taskDefinitionArns", []))
    return out


def task_definitions_in_use(aws: Aws, cluster: str) -> dict[str, list[str]]:
    """Task definition ARN -> why it is in use, for every service of the cluster: its
    taskDefinition, its deployments' and its task sets'."""
    arns: list[str] = []
    paginator = aws.ecs().get_paginator("list_services")
    with aws_errors(resource=f"cluster {cluster}"):
        for page in paginator.paginate(cluster=cluster):
            arns.extend(page.get("serviceArns", []))
    used: dict[str, list[str]] = {}

    def add(arn: Any, why: str) -> None:
        if arn:
            reasons = used.setdefault(str(arn), [])
            if why not in reasons:
                reasons.append(why)

    for i in range(0, len(arns), 10):
        with aws_errors(resource=f"cluster {cluster}"):
            resp = aws.ecs().describe_services(cluster=cluster, services=arns[i : i + 10])
        for svc in resp.get("services", []):
            if svc.get("status") == "INACTIVE":
                continue
            name = f"{cluster}/{svc.get('serviceName')}"
            add(svc.get("taskDefinition"), f"service {name}")
            for d in svc.get("deployments") or []:
                add(d.get("taskDefinition"), f"{d.get('status', '').lower()} deployment of {name}")
            for ts in svc.get("taskSets") or []:
                add(ts.get("taskDefinition"), f"{ts.get('status', '').lower()} task set of {name}")
    return used


def appspec_task_definitions(info: Mapping[str, Any]) -> list[str]:
    """The task definition ARNs a deployment's inline AppSpec (GetDeployment's
    `deploymentInfo`) names."""
    revision: Mapping[str, Any] = info.get("revision") or {}
    content = str((revision.get("appSpecContent") or {}).get("content") or "")
    return list(_APPSPEC_TD.findall(content))


def deployment_task_definitions(aws: Aws, deployment_ids: Sequence[str]) -> dict[str, str]:
    """Task definition ARN -> deployment id, from the deployments' inline AppSpecs."""
    out: dict[str, str] = {}
    for deployment_id in deployment_ids:
        with aws_errors(resource=f"CodeDeploy deployment {deployment_id}"):
            info = aws.codedeploy().get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        for arn in appspec_task_definitions(dict(info)):
            out[arn] = deployment_id
    return out


def deregister(aws: Aws, arn: str) -> None:
    with aws_errors(resource=arn):
        aws.ecs().deregister_task_definition(taskDefinition=arn)


def delete(aws: Aws, arns: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """DeleteTaskDefinitions (10 at a time): the ARNs ECS accepted, and ARN -> reason for the
    ones it refused."""
    done: list[str] = []
    failed: dict[str, str] = {}
    for i in range(0, len(arns), 10):
        chunk = list(arns[i : i + 10])
        with aws_errors(resource=", ".join(chunk)):
            resp = aws.ecs().delete_task_definitions(taskDefinitions=chunk)
        for f in resp.get("failures") or []:
            failed[str(f.get("arn"))] = str(f.get("reason") or f.get("detail") or "refused")
        done.extend(a for a in chunk if a not in failed)
    return done, failed
