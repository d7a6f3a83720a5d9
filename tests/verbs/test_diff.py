"""diff: the rendered task definition against the live one, in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen.cli.app import run
from bluegreen.release.diff import diff_task_definitions
from bluegreen.render.taskdef import normalise
from tests.verbs.conftest import push_image

REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web"
LIVE = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"


def revisions() -> list[str]:
    ecs = boto3.client("ecs")
    return ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"]


def live_digest() -> str:
    ecs = boto3.client("ecs")
    td = ecs.describe_task_definition(taskDefinition=LIVE)["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"]).split("@", 1)[1]


def test_no_differences(service: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-c", service["spec"], "diff", "--exit-code"]) == 0
    assert capsys.readouterr().out == f"no differences: web runs {LIVE}\n"


def test_changed_environment_value_is_shown(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """LOG_LEVEL is not a secret: the reviewer sees what it changes from and to (secret
    values stay hidden: tests/security/test_redaction_rules.py)."""
    before = revisions()
    code = run(["-c", service["spec"], "diff", "--var", "log_level=debug"])
    out = capsys.readouterr().out
    assert code == 0
    assert out == (
        f"--- live {LIVE}\n"
        "+++ rendered\n"
        "@@ -4,7 +4,7 @@\n"
        '       "environment": [\n'
        "         {\n"
        '           "name": "LOG_LEVEL",\n'
        '-          "value": "info"\n'
        '+          "value": "debug"\n'
        "         }\n"
        "       ],\n"
        f'       "image": "{REPO}@{live_digest()}",\n'
    )
    assert revisions() == before  # diff never writes


def test_exit_code_flag_makes_a_difference_exit_1(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["-c", service["spec"], "diff", "--exit-code", "--var", "log_level=debug"]) == 1
    assert '+          "value": "debug"' in capsys.readouterr().out


def test_new_image_json_result(service: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    old = live_digest()
    new = push_image("v2")
    code = run(["-c", service["spec"], "-o", "json", "diff", "--image", f"web={REPO}:v2"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert len(lines) == 2  # the diff, then the result line
    assert json.loads(lines[1]) == {"event": "result", "exitCode": 0, "reason": "ok"}
    result = json.loads(lines[0])
    assert result["changed"] is True
    assert f'-      "image": "{REPO}@{old}",\n' in result["diff"]
    assert f'+      "image": "{REPO}@{new}",\n' in result["diff"]


def test_unchanged_json_result(service: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-c", service["spec"], "-o", "json", "diff"]) == 0
    assert capsys.readouterr().out == (
        '{"changed": false, "diff": ""}\n{"event": "result", "exitCode": 0, "reason": "ok"}\n'
    )


def test_missing_tag_is_exit_2_naming_the_flag(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["-c", service["spec"], "diff", "--image", f"web={REPO}:nope"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--image web" in err
    assert "'nope' not found" in err


def test_bad_var_flag_is_exit_2(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["-c", service["spec"], "diff", "--var", "log_level"]) == 2
    assert capsys.readouterr().err == (
        "error: --var: --var an argument (not shown: it may hold a secret) is not NAME=VALUE\n"
        "  hint: e.g. --var web=...\n"
    )


def test_missing_spec_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-c", str(tmp_path / "nope.yaml"), "diff"]) == 2
    assert "nope.yaml" in capsys.readouterr().err


# --- normalisation (pure) -----------------------------------------------------------------------
def test_what_ecs_adds_on_describe_is_not_a_difference() -> None:
    rendered = {
        "family": "web",
        "networkMode": "awsvpc",
        "cpu": "256",
        "containerDefinitions": [
            {"name": "web", "image": "x", "portMappings": [{"containerPort": 80}]}
        ],
    }
    described = {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:3",
        "revision": 3,
        "status": "ACTIVE",
        "registeredAt": "2026-11-26T09:00:00+00:00",
        "requiresAttributes": [{"name": "ecs.capability.task-eni"}],
        "compatibilities": ["EC2", "FARGATE"],
        "family": "web",
        "networkMode": "awsvpc",
        "cpu": "256",
        "volumes": [],
        "placementConstraints": [],
        "containerDefinitions": [
            {
                "name": "web",
                "image": "x",
                "cpu": 0,
                "essential": True,
                "environment": [],
                "mountPoints": [],
                "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
            }
        ],
    }
    assert normalise(described) == normalise(rendered)
    assert diff_task_definitions(described, rendered).changed is False


def test_no_live_task_definition_diffs_against_nothing() -> None:
    result = diff_task_definitions(None, {"family": "web", "containerDefinitions": []})
    assert result.changed is True
    assert result.diff.startswith("--- live (none)\n+++ rendered\n")


def test_blue_green_stack_has_no_differences(
    stack: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["-c", stack["spec"], "diff", "--exit-code"]) == 0
    assert capsys.readouterr().out == f"no differences: web runs {LIVE}\n"
