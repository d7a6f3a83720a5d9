"""render and validate through the CLI entry point: whole output and exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bluegreen.cli.app import run
from tests.fixtures.world import REGISTRY, World

LOG_ROUTER = (
    "public.ecr.aws/aws-observability/aws-for-fluent-bit@sha256:"
    "6f2a8b1c4d3e5f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"
)


def write_minimal(folder: Path) -> None:
    (folder / "bluegreen.yaml").write_text(
        "version: 1\n"
        "cluster: c1\n"
        "service: s1\n"
        "task_definition: td.json.j2\n"
        "images: {app: 'nginx@sha256:" + "a" * 64 + "'}\n"
        "load_balancer: {container_name: app, container_port: 80}\n"
        "vars: {level: info}\n"
    )
    (folder / "td.json.j2").write_text(
        '{"family": "s1", "containerDefinitions": [{"name": "app", "image": "x", '
        '"memory": 128, "portMappings": [{"containerPort": 80}], '
        '"environment": [{"name": "LEVEL", "value": {{ vars.level | tojson }}}]}]}\n'
    )


def test_render_json_offline_is_exactly_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_minimal(tmp_path)
    monkeypatch.chdir(tmp_path)
    code = run(["-o", "json", "render", "--offline", "--var", "level=debug"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.count("\n") == 2  # the document, then the result line
    assert json.loads(out.splitlines()[-1]) == {"event": "result", "exitCode": 0, "reason": "ok"}
    assert json.loads(out.splitlines()[0]) == {
        "taskDefinition": {
            "family": "s1",
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": "nginx@sha256:" + "a" * 64,
                    "memory": 128,
                    "portMappings": [{"containerPort": 80}],
                    "environment": [{"name": "LEVEL", "value": "debug"}],  # not a secret
                }
            ],
        },
        "appspec": {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": "<TASK_DEFINITION>",
                            "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 80},
                        },
                    }
                }
            ],
        },
    }


def test_render_text_offline_whole_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_minimal(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert run(["render", "--offline"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == (
        "# task definition (register-task-definition input)\n"
        + json.dumps(
            {
                "family": "s1",
                "containerDefinitions": [
                    {
                        "name": "app",
                        "image": "nginx@sha256:" + "a" * 64,
                        "memory": 128,
                        "portMappings": [{"containerPort": 80}],
                        "environment": [{"name": "LEVEL", "value": "info"}],
                    }
                ],
            },
            indent=2,
        )
        + "\n# appspec\n"
        "version: 0.0\n"
        "Resources:\n"
        "- TargetService:\n"
        "    Type: AWS::ECS::Service\n"
        "    Properties:\n"
        "      TaskDefinition: <TASK_DEFINITION>\n"
        "      LoadBalancerInfo:\n"
        "        ContainerName: app\n"
        "        ContainerPort: 80\n"
    )


def test_render_online_pins_ecr_digest_and_takes_appspec_defaults_from_the_service(
    example: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["-o", "json", "render"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out.splitlines()[0])
    images = {c["name"]: c["image"] for c in doc["taskDefinition"]["containerDefinitions"]}
    assert images == {"web": f"{REGISTRY}/web@{world.digest}", "log-router": LOG_ROUTER}
    props = doc["appspec"]["Resources"][0]["TargetService"]["Properties"]
    assert props == {
        "TaskDefinition": "<TASK_DEFINITION>",
        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
        "PlatformVersion": "1.4.0",
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {
                "Subnets": [world.subnet],
                "SecurityGroups": [world.security_group],
                "AssignPublicIp": "DISABLED",
            }
        },
    }
    assert doc["appspec"]["Hooks"] == [{"AfterAllowTestTraffic": "web-smoke-tests"}]
    assert err == ""  # every image pinned: no notices
    world.assert_no_writes()


def test_render_online_default_appspec_uses_the_live_load_balancer(
    example: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = example / "bluegreen.yaml"
    text = spec.read_text()
    text = text.replace("appspec: appspec.yaml.j2\n", "")
    text = text.replace("load_balancer:\n  container_name: web\n  container_port: 8080\n", "")
    spec.write_text(text)
    assert run(["-o", "json", "--env", "prod", "render"]) == 0
    doc = json.loads(capsys.readouterr().out.splitlines()[0])
    props = doc["appspec"]["Resources"][0]["TargetService"]["Properties"]
    assert props["LoadBalancerInfo"] == {"ContainerName": "web", "ContainerPort": 8080}
    assert doc["taskDefinition"]["family"] == "web-prod"
    assert doc["taskDefinition"]["cpu"] == "1024"


def test_render_offline_notices_the_unresolved_tag(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["-o", "json", "render", "--offline"]) == 0
    out, err = capsys.readouterr()
    assert err == (
        f"warning: image for container 'web' ({REGISTRY}/web:1.4.2) not resolved to a digest "
        "(offline); a deploy pins it\n"
    )
    images = [
        c["image"]
        for c in json.loads(out.splitlines()[0])["taskDefinition"]["containerDefinitions"]
    ]
    assert images == [f"{REGISTRY}/web:1.4.2", LOG_ROUTER]


def test_validate_offline_whole_output(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--env", "prod", "validate", "--offline"]) == 0
    out, err = capsys.readouterr()
    assert out == (
        "ok  spec bluegreen.yaml (environment prod): cluster web-cluster, service web\n"
        "ok  task definition taskdef.json.j2: family web-prod, 2 container(s): web, log-router\n"
        "ok  images: 2 container image(s), 1 pinned by digest (offline: ECR tags not resolved)\n"
        "ok  load balancer: container web port 8080 is in its portMappings\n"
        "ok  fargate: cpu 1024 / memory 2048 is a valid size\n"
        "ok  appspec appspec.yaml.j2: TaskDefinition <TASK_DEFINITION>, "
        "hooks AfterAllowTestTraffic\n"
        "ok  codedeploy: application AppECS-web-cluster-web, group DgpECS-web-cluster-web, "
        "config canary:10%/5m\n"
    )
    assert "not resolved to a digest (offline)" in err


def test_validate_online_json(
    example: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["-o", "json", "validate"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    result = json.loads(out.splitlines()[0])
    assert result["valid"] is True
    assert result["spec"] == "bluegreen.yaml"
    assert "images: 2 container image(s), 2 pinned by digest" in result["checks"]
    world.assert_no_writes()


def test_validate_lists_every_problem(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = example / "bluegreen.yaml"
    spec.write_text(
        spec.read_text()
        .replace("service: web\n", "servce: web\n")
        .replace("stat: Sum", "stat: Total")
        .replace("timeout: 60m", "timeout: soon")
    )
    assert run(["validate", "--offline", "--image", "web"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "error: 5 problems in bluegreen.yaml:\n"
        "  - --image: 'web' is not NAME=VALUE\n"
        "      hint: e.g. --image web=123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.2\n"
        "  - bluegreen.yaml:1: (top level): missing required key 'service'\n"
        "  - bluegreen.yaml:6: servce: unknown key 'servce' (did you mean 'service'?)\n"
        "      hint: allowed keys here: version, region, cluster, service, task_definition, "
        "appspec, images, pin_digests, load_balancer, codedeploy, rollback, verify, timeout, "
        "vars, windows, role_arn, external_id, notify, environments\n"
        "  - bluegreen.yaml:25: rollback.metrics[0].stat: 'Total' is not valid here: "
        "Statistic (default Average): Average, Sum, Minimum, Maximum, SampleCount or pNN.\n"
        "  - bluegreen.yaml:33: timeout: invalid duration 'soon'\n"
        "      hint: write 90s, 5m, 1h30m, or an integer number of seconds\n"
    )


def test_help_lists_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["render", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--image", "--var", "--vars-file", "--offline"):
        assert flag in out


# the example spec's vars, as the hint of an undefined variable lists them
DEFINED = "vars.desired_cpu, vars.desired_memory, vars.log_level, vars.release"


def test_validate_one_problem_is_reported_alone(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (example / "inc.j2").write_text("ok\n{{ vars.nope }}\n")
    td = example / "taskdef.json.j2"
    td.write_text(td.read_text().replace('"family": "web', '"family": "{% include "inc.j2" %}web'))
    assert run(["validate", "--offline"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "error: inc.j2:2: undefined template variable: 'dict object' has no attribute 'nope'\n"
        f"  hint: defined: {DEFINED} (spec `vars`, --vars-file, --var K=V); also "
        "images.<container>, env, cluster, service, region, git_sha, git_branch; lookups "
        "ssm(), cfn_output(), tfstate(), env_var()\n"
    )


def test_an_undefined_variable_names_the_closest_defined_one(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in a variable: the message says which one was meant, and what is defined."""
    td = example / "taskdef.json.j2"
    td.write_text(td.read_text().replace("vars.log_level", "vars.log_levle", 1))
    assert run(["validate", "--offline"]) == 2
    err = capsys.readouterr().err
    assert "has no attribute 'log_levle'" in err
    assert "did you mean vars.log_level?" in err
    assert f"defined: {DEFINED}" in err


def test_validate_collects_image_and_task_definition_problems_together(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    td = example / "taskdef.json.j2"
    td.write_text(td.read_text().replace('"networkMode": "awsvpc"', '"networkMode": "awsvpn"'))
    argv = ["validate", "--offline", "--image", "api=nginx:1", "--image", "log-router=Bad:1"]
    assert run(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("  - ")]
    assert lines == [
        "  - --image log-router: invalid image reference 'Bad:1': repository 'Bad' has "
        "uppercase letters",
        "  - --image api: no container named 'api' in the task definition taskdef.json.j2; "
        "its containers: web, log-router",
        "  - taskdef.json.j2:3: networkMode: 'awsvpn' is not one of: bridge, host, awsvpc, none",
    ]


def test_render_vars_file_and_var_flag(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-o", "json", "render", "--offline", "--vars-file", "vars/large.yaml"]
    assert run([*argv, "--var", "release=2.0.0", "--var", "desired_memory=8192"]) == 0
    td = json.loads(capsys.readouterr().out.splitlines()[0])["taskDefinition"]
    assert (td["cpu"], td["memory"]) == ("2048", "8192")
    assert td["containerDefinitions"][0]["image"] == f"{REGISTRY}/web:2.0.0"


def test_a_rolling_service_without_load_balancer_needs_no_appspec(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    world: World,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world.ecs().create_service(cluster="web-cluster", serviceName="worker", desiredCount=1)
    write_minimal(tmp_path)
    spec = tmp_path / "bluegreen.yaml"
    spec.write_text(
        spec.read_text()
        .replace("cluster: c1", "cluster: web-cluster")
        .replace("service: s1", "service: worker")
        .replace("load_balancer: {container_name: app, container_port: 80}\n", "")
    )
    monkeypatch.chdir(tmp_path)
    assert run(["-o", "json", "render"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[0])["appspec"] == {}
    assert err == (
        "warning: no AppSpec: service worker is deployed by the ECS controller and has no "
        "load balancer\n"
    )
    assert run(["validate"]) == 0
    out, _ = capsys.readouterr()
    assert "appspec" not in out
    assert world.ecs().list_task_definitions()["taskDefinitionArns"] == []
