"""Rendering: context, variables, git values, read-only fields, images, AppSpec defaults;
the ECS/ECR read gateways against the sandbox; redaction."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bluegreen.aws.ecr import EcrResolver
from bluegreen.aws.ecs import describe_service, describe_task_definition
from bluegreen.aws.model import LiveService
from bluegreen.aws.session import Aws
from bluegreen.errors import ImageError, ResourceNotFound, TemplateError
from bluegreen.render.appspec import PLACEHOLDER_TASK_DEFINITION
from bluegreen.render.redact import redact_task_definition, redact_text
from bluegreen.render.release import appspec_content, render_release
from bluegreen.spec.images import parse_image
from bluegreen.spec.load import load_spec
from tests.fixtures.world import REGISTRY, World, manifest

TD = {
    "family": "app",
    "containerDefinitions": [
        {"name": "app", "image": "nginx:1", "memory": 128, "portMappings": [{"containerPort": 80}]}
    ],
}


def project(
    folder: Path, spec_extra: str = "", td: str | None = None, name: str = "td.json.j2"
) -> Path:
    (folder / name).write_text(td if td is not None else json.dumps(TD))
    path = folder / "bluegreen.yaml"
    path.write_text(
        "version: 1\ncluster: c1\nservice: s1\n"
        f"task_definition: {name}\n"
        "load_balancer: {container_name: app, container_port: 80}\n" + spec_extra
    )
    return path


def test_variables_in_order_spec_then_files_then_flags(tmp_path: Path) -> None:
    td = json.dumps(
        {**TD, "family": "{{ vars.a }}-{{ vars.b }}-{{ vars.c }}-{{ vars.n.x }}{{ vars.n.y }}"}
    )
    path = project(tmp_path, "vars: {a: spec, b: spec, c: spec, n: {x: 1, y: 2}}\n", td)
    (tmp_path / "one.yaml").write_text("b: one\nc: one\nn: {y: 3}\n")
    (tmp_path / "two.json").write_text('{"c": "two"}')
    rendered = render_release(
        load_spec(path),
        vars_files=[tmp_path / "one.yaml", tmp_path / "two.json"],
        var_overrides={"a": "flag"},
    )
    assert rendered.task_definition["family"] == "flag-one-two-13"


def test_context_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    td = json.dumps({**TD, "family": "{{ cluster }}-{{ service }}-{{ env }}-{{ region }}"})
    path = project(tmp_path, "environments: {prod: {}}\n", td)
    assert render_release(load_spec(path, "prod")).task_definition["family"] == (
        "c1-s1-prod-eu-central-1"
    )


def test_images_apply_by_container_and_are_in_the_template_context(tmp_path: Path) -> None:
    td = {
        **TD,
        "family": "x",
        "containerDefinitions": [
            {**TD["containerDefinitions"][0], "dockerLabels": {"img": "{{ images.app }}"}},
            {
                "name": "side",
                "image": "busybox@sha256:" + "b" * 64,
                "memory": 64,
                "essential": False,
            },
        ],
    }
    path = project(
        tmp_path, "images: {app: 'nginx:{{ vars.v }}'}\nvars: {v: '1.27'}\n", json.dumps(td)
    )
    rendered = render_release(load_spec(path))
    app, side = rendered.task_definition["containerDefinitions"]
    assert app["image"] == "nginx:1.27"
    assert app["dockerLabels"] == {"img": "nginx:1.27"}
    assert side["image"] == "busybox@sha256:" + "b" * 64
    assert rendered.images == {"app": "nginx:1.27", "side": "busybox@sha256:" + "b" * 64}
    assert len(rendered.notices) == 1
    assert "mutable tag '1.27'" in rendered.notices[0]
    assert "ECS_IMAGE_PULL_BEHAVIOR" in rendered.notices[0]
    overridden = render_release(load_spec(path), image_overrides={"app": "nginx:2"})
    assert overridden.images["app"] == "nginx:2"


def test_pin_digests_false_keeps_tags_quietly(tmp_path: Path) -> None:
    path = project(tmp_path, "pin_digests: false\n")
    rendered = render_release(load_spec(path))
    assert rendered.notices == []
    assert rendered.images == {"app": "nginx:1"}


def test_describe_output_is_unwrapped_and_read_only_fields_stripped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    described = {
        "taskDefinition": {
            **TD,
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/app:3",
            "revision": 3,
            "status": "ACTIVE",
            "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
            "compatibilities": ["EC2"],
            "registeredAt": "2026-01-01T00:00:00Z",
            "registeredBy": "arn:aws:iam::123456789012:role/ci",
        },
        "tags": [{"key": "team", "value": "web"}],
    }
    path = project(tmp_path, "pin_digests: false\n", json.dumps(described, indent=2))
    rendered = render_release(load_spec(path))
    assert rendered.task_definition == {**TD, "tags": [{"key": "team", "value": "web"}]}
    assert rendered.notices == [
        'td.json.j2: unwrapped the describe-task-definition output {"taskDefinition": ...}',
        "td.json.j2: removed read-only fields of describe-task-definition output: "
        "taskDefinitionArn, revision, status, requiresAttributes, compatibilities, "
        "registeredAt, registeredBy",
    ]


def test_yaml_task_definition_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    td = (
        "family: app\ncontainerDefinitions:\n  - name: app\n    image: nginx:1\n    memory: 128\n"
        "    portMappings:\n      - containerPort: {{ vars.port }}\n"
    )
    path = project(tmp_path, "pin_digests: false\nvars: {port: 80}\n", td, name="td.yaml.j2")
    assert render_release(load_spec(path)).task_definition == TD
    path = project(tmp_path, "pin_digests: false\nvars: {port: '\"80\"'}\n", td, name="td.yaml.j2")
    with pytest.raises(Exception) as info:
        render_release(load_spec(path))
    assert info.value.where == "td.yaml.j2:7: containerDefinitions[0].portMappings[0].containerPort"  # type: ignore[attr-defined]


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_git_values_inside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.delenv("GITHUB_HEAD_REF", raising=False)
    td = json.dumps({**TD, "family": "app-{{ git_branch }}"})
    path = project(tmp_path, "images: {app: 'nginx:{{ git_sha[:12] }}'}\npin_digests: false\n", td)
    git(tmp_path, "init", "-q", "-b", "release")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "init")
    sha = git(tmp_path, "rev-parse", "HEAD")
    rendered = render_release(load_spec(path))
    assert rendered.task_definition["family"] == "app-release"
    assert rendered.images["app"] == f"nginx:{sha[:12]}"
    git(tmp_path, "checkout", "-q", "--detach")
    for name in ("GITHUB_HEAD_REF", "CI_COMMIT_REF_NAME", "BRANCH_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    assert render_release(load_spec(path)).task_definition["family"] == "app-main"


def test_git_sha_outside_a_checkout_names_the_template_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    td = json.dumps(TD, indent=2).replace('"family": "app"', '"family": "app-{{ git_sha }}"')
    path = project(tmp_path, "", td)
    with pytest.raises(TemplateError) as info:
        render_release(load_spec(path))
    assert info.value.where == "td.json.j2:2"
    assert info.value.message.startswith("git_sha is used but cannot be computed: . is not")


def test_placeholder_and_known_task_definition_arn(tmp_path: Path) -> None:
    path = project(tmp_path, "pin_digests: false\n")
    props = render_release(load_spec(path)).appspec["Resources"][0]["TargetService"]["Properties"]
    assert props["TaskDefinition"] == PLACEHOLDER_TASK_DEFINITION == "<TASK_DEFINITION>"
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/app:7"
    rendered = render_release(load_spec(path), task_definition_arn=arn)
    assert rendered.appspec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"] == arn


def test_appspec_defaults_from_the_live_service(tmp_path: Path) -> None:
    path = project(
        tmp_path, "pin_digests: false\ncodedeploy: {hooks: {AfterInstall: f2, BeforeInstall: f1}}\n"
    )
    path.write_text(
        path.read_text().replace("load_balancer: {container_name: app, container_port: 80}\n", "")
    )
    live = LiveService(
        cluster="c1",
        service="s1",
        task_definition_arn=None,
        deployment_controller="CODE_DEPLOY",
        load_balancers=[{"targetGroupArn": "tg", "containerName": "app", "containerPort": 80}],
        network_configuration={
            "awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "ENABLED"}
        },
        platform_version="LATEST",
        capacity_provider_strategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0}],
    )
    appspec = render_release(load_spec(path), live=live).appspec
    assert appspec == {
        "version": 0.0,
        "Resources": [
            {
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": "<TASK_DEFINITION>",
                        "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 80},
                        "PlatformVersion": "LATEST",
                        "NetworkConfiguration": {
                            "AwsvpcConfiguration": {
                                "Subnets": ["subnet-1"],
                                "AssignPublicIp": "ENABLED",
                            }
                        },
                        "CapacityProviderStrategy": [
                            {"CapacityProvider": "FARGATE_SPOT", "Base": 0, "Weight": 3}
                        ],
                    },
                }
            }
        ],
        "Hooks": [{"BeforeInstall": "f1"}, {"AfterInstall": "f2"}],
    }
    text, sha = appspec_content(appspec)
    assert json.loads(text) == appspec
    assert sha == hashlib.sha256(text.encode()).hexdigest()


# --- gateways against the sandbox -----------------------------------------------------------
def test_ecr_resolver_pins_tags_and_names_what_is_missing(world: World) -> None:
    resolver = EcrResolver(Aws(region="us-east-1"))
    ref = parse_image(f"{REGISTRY}/web:1.4.2")
    assert str(resolver.resolve(ref, "w")) == f"{REGISTRY}/web:1.4.2@{world.digest}"
    with pytest.raises(ImageError) as info:
        resolver.resolve(parse_image(f"{REGISTRY}/web:0.0.1"), "bluegreen.yaml:9: images.web")
    assert (info.value.where, info.value.message, info.value.exit_code) == (
        "bluegreen.yaml:9: images.web",
        "tag '0.0.1' not found in ECR repository 'web'",
        2,
    )
    with pytest.raises(
        ImageError, match="ECR repository 'api' does not exist in account 123456789012"
    ):
        resolver.resolve(parse_image(f"{REGISTRY}/api:1"), "w")


def test_ecr_resolver_uses_the_registry_region(world: World) -> None:
    ecr = boto3.client("ecr", region_name="eu-west-1")
    ecr.create_repository(repositoryName="web")
    ecr.put_image(repositoryName="web", imageManifest=manifest("2"), imageTag="eu")
    digest = ecr.describe_images(repositoryName="web")["imageDetails"][0]["imageDigest"]
    assert digest != world.digest
    ref = parse_image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:eu")
    assert EcrResolver(Aws(region="us-east-1")).resolve(ref, "w").digest == digest


def test_ecr_request_names_the_registry_account() -> None:
    aws = Aws(region="us-east-1")
    client = boto3.client(
        "ecr", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    aws._clients["ecr"] = client
    with Stubber(client) as stub:
        stub.add_response(
            "describe_images",
            {"imageDetails": [{"imageDigest": "sha256:" + "d" * 64}]},
            {
                "registryId": "210987654321",
                "repositoryName": "team/web",
                "imageIds": [{"imageTag": "latest"}],
            },
        )
        ref = parse_image("210987654321.dkr.ecr.us-east-1.amazonaws.com/team/web")
        assert EcrResolver(aws).resolve(ref, "w").digest == "sha256:" + "d" * 64
        stub.assert_no_pending_responses()


def test_describe_service_and_task_definition(world: World) -> None:
    aws = Aws(region="us-east-1")
    live = describe_service(aws, "web-cluster", "web")
    assert (live.deployment_controller, live.platform_version) == ("CODE_DEPLOY", "1.4.0")
    assert live.load_balancers[0]["containerPort"] == 8080
    assert live.network_configuration == {
        "awsvpcConfiguration": {
            "subnets": [world.subnet],
            "securityGroups": [world.security_group],
            "assignPublicIp": "DISABLED",
        }
    }
    with pytest.raises(ResourceNotFound) as info:
        describe_service(aws, "web-cluster", "api")
    assert info.value.where == "web-cluster/api"
    assert "ECS service 'api' is not found in cluster 'web-cluster'" in info.value.message
    arn = aws.ecs().register_task_definition(**TD, tags=[{"key": "k", "value": "v"}])[
        "taskDefinition"
    ]["taskDefinitionArn"]
    td = describe_task_definition(aws, arn)
    assert td["family"] == "app"
    assert td["tags"] == [{"key": "k", "value": "v"}]
    json.dumps(td)  # plain data: datetimes converted


# --- redaction ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("postgres://app:hunter2@db:5432/x", "postgres://app:***@db:5432/x"),
        ("key AKIAIOSFODNN7EXAMPLE", "key ***"),
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "***"),
        ("DB_PASSWORD=s3cr3t other", "DB_PASSWORD=*** other"),
        ("api_key: abc123", "api_key: ***"),
        ("Authorization: Bearer abcdefghijk", "Authorization: Bearer ***"),
        ("ghp_" + "a" * 36, "***"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "***"),
        ("log_level=info", "log_level=info"),
        ("0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567"),
        ("sha256:" + "ab" * 32, "sha256:" + "ab" * 32),
    ],
)
def test_redact_text(text: str, redacted: str) -> None:
    assert redact_text(text) == redacted


def test_redact_task_definition_masks_secret_environment_and_keeps_arns() -> None:
    td: dict[str, Any] = {
        "family": "app",
        "containerDefinitions": [
            {
                "name": "app",
                "image": "nginx:1",
                "environment": [
                    {"name": "LEVEL", "value": "info"},
                    {"name": "DB_PASSWORD", "value": "hunter2"},
                ],
                "secrets": [
                    {
                        "name": "DB",
                        "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
                    }
                ],
                "command": ["run", "--token=abcdef123456"],
            }
        ],
    }
    out = redact_task_definition(td)
    c = out["containerDefinitions"][0]
    # a plain value is shown (reviewable), one whose name says secret is not
    assert c["environment"] == [
        {"name": "LEVEL", "value": "info"},
        {"name": "DB_PASSWORD", "value": "***"},
    ]
    assert c["secrets"] == td["containerDefinitions"][0]["secrets"]
    assert c["command"] == ["run", "--token=***"]
    assert td["containerDefinitions"][0]["environment"][0]["value"] == "info"  # a copy
