"""One notion of "the same task definition" for render, diff, deploy and the rolling path."""

from __future__ import annotations

from typing import Any

from bluegreen.render.taskdef import (
    READ_ONLY_FIELDS,
    normalise,
    same_task_definition,
    to_register_input,
)

WANTED: dict[str, Any] = {
    "family": "web",
    "networkMode": "awsvpc",
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [
        {
            "name": "web",
            "image": "r@sha256:1",
            "portMappings": [{"containerPort": 8080}],
            "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
        }
    ],
}

# What DescribeTaskDefinition gives back for WANTED: read-only fields, filled-in defaults,
# numbers for sizes, the awsvpc host port, other orders and empty lists.
DESCRIBED: dict[str, Any] = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
    "revision": 3,
    "status": "ACTIVE",
    "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
    "compatibilities": ["EC2", "FARGATE"],
    "registeredAt": "2026-01-01T00:00:00",
    "family": "web",
    "networkMode": "awsvpc",
    "cpu": 256,
    "memory": "512",
    "volumes": [],
    "containerDefinitions": [
        {
            "name": "web",
            "image": "r@sha256:1",
            "cpu": 0,
            "essential": True,
            "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "mountPoints": [],
        }
    ],
}


def test_describe_output_of_a_revision_is_the_same_as_its_input() -> None:
    assert same_task_definition(WANTED, DESCRIBED)
    assert normalise(WANTED) == normalise(DESCRIBED)


def test_a_changed_image_or_value_is_different() -> None:
    other_image = {
        **WANTED,
        "containerDefinitions": [{**WANTED["containerDefinitions"][0], "image": "r@sha256:2"}],
    }
    assert not same_task_definition(other_image, DESCRIBED)
    not_essential = {
        **WANTED,
        "containerDefinitions": [{**WANTED["containerDefinitions"][0], "essential": False}],
    }
    assert not same_task_definition(not_essential, DESCRIBED)
    assert not same_task_definition({**WANTED, "memory": "1024"}, DESCRIBED)


def test_no_live_revision_is_never_the_same() -> None:
    assert not same_task_definition(None, WANTED)


def test_register_input_drops_every_read_only_field_and_copies() -> None:
    register = to_register_input(DESCRIBED)
    assert not set(READ_ONLY_FIELDS) & set(register)
    register["containerDefinitions"][0]["image"] = "changed"
    assert DESCRIBED["containerDefinitions"][0]["image"] == "r@sha256:1"
