"""Demo stacks (`sandbox stack`) in the session sandbox, and a request counter on a session."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bluegreen.aws.session import Aws
from bluegreen.sandbox.server import SandboxServer
from bluegreen.sandbox.stack import StackResult, create_stack

SERVICES = ("ecs", "ecr", "codedeploy", "elbv2", "cloudwatch", "sts")


@dataclass
class Requests:
    """Every request a session's clients send: operation counts and each call's parameters."""

    counts: Counter[str] = field(default_factory=Counter)
    params: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def attach(self, aws: Aws) -> Aws:
        for service in SERVICES:
            aws.client(service).meta.events.register("provide-client-params", self._seen)
        return aws

    def _seen(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_name}:{model.name}"
        self.counts[name] += 1
        self.params.append((name, dict(params)))

    def of(self, name: str) -> list[dict[str, Any]]:
        return [p for n, p in self.params if n == name]


@pytest.fixture
def stacks(aws_env: SandboxServer, tmp_path: Path) -> list[StackResult]:
    aws = Aws(region="us-east-1")
    return [create_stack(aws, tmp_path / f"svc{i}", f"svc{i}") for i in range(1, 4)]
