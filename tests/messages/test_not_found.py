"""A wrong cluster, service or region: the message says which name is missing, where it came
from (spec file and key, the --env overlay, --region / the spec / AWS_REGION) and what exists
there, with a did-you-mean; exit 4 (AWS: missing resource), nothing written."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.fixtures.codedeploy import Stack
from tests.helpers import Ran


def set_key(stack: Stack, key: str, value: str) -> int:
    """Point the spec's `key` at `value`; the line it is on."""
    text = stack.spec.read_text()
    lines = text.splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    lines[number] = f"{key}: {value}"
    stack.spec.write_text("\n".join(lines) + "\n")
    return number + 1


def revisions(stack: Stack) -> list[str]:
    return list(stack.client("ecs").list_task_definitions()["taskDefinitionArns"])


@pytest.mark.parametrize("verb", [("status",), ("diff",), ("deploy", "--dry-run"), ("stop",)])
def test_a_wrong_cluster_names_its_spec_line_and_the_clusters_there(
    stack: Stack, cli: Callable[..., Ran], verb: tuple[str, ...]
) -> None:
    real = stack.result.cluster
    typo = real[:-1] + "x" + "z"  # close to the real name
    line = set_key(stack, "cluster", typo)
    region_line = next(
        i + 1 for i, text in enumerate(stack.spec.read_text().splitlines()) if text[:7] == "region:"
    )
    before = revisions(stack)
    ran = cli(*verb)
    assert ran.code == 4, ran.stderr
    err = ran.stderr
    assert f"ECS cluster {typo!r} not found in region us-east-1" in err
    assert f"did you mean {real!r}?" in err
    assert re.search(rf"clusters in region us-east-1: [^;]*\b{re.escape(real)}\b", err)
    assert f"cluster from bluegreen.yaml:{line}: cluster" in err
    assert f"region from bluegreen.yaml:{region_line}: region" in err
    assert revisions(stack) == before
    assert stack.client("ecs").describe_clusters(clusters=[typo])["clusters"] == []  # truth


def test_a_wrong_service_lists_the_services_of_the_cluster(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    real = stack.result.service
    line = set_key(stack, "service", real + "-api")
    ran = cli("-o", "json", "status")
    assert ran.code == 4, ran.stderr
    result = ran.result
    assert result["kind"] == "not-found"
    assert result["reason"].endswith(
        f"ECS service '{real}-api' is not found in cluster '{stack.result.cluster}' "
        "(region us-east-1)"
    )
    hint = result["hint"]
    assert hint.startswith(f"did you mean {real!r}? services in cluster '{stack.result.cluster}': ")
    assert f"service from bluegreen.yaml:{line}: service" in hint
    listed = stack.client("ecs").list_services(cluster=stack.result.cluster)["serviceArns"]
    assert [arn.rsplit("/", 1)[-1] for arn in listed] == [real]  # what AWS says exists


def test_a_cluster_set_by_an_environment_says_so(stack: Stack, cli: Callable[..., Ran]) -> None:
    text = stack.spec.read_text()
    stack.spec.write_text(text + "environments:\n  staging:\n    cluster: web-staging\n")
    line = len(text.splitlines()) + 3
    ran = cli("--env", "staging", "status")
    assert ran.code == 4, ran.stderr
    assert "ECS cluster 'web-staging' not found in region us-east-1" in ran.stderr
    assert f"cluster from bluegreen.yaml:{line}: cluster (with --env staging)" in ran.stderr
    assert "did you mean" not in ran.stderr  # nothing close: the list alone
    assert stack.result.cluster in ran.stderr


@pytest.mark.parametrize(
    ("args", "env", "origin"),
    [
        (("--region", "eu-west-1"), {}, "region from --region"),
        ((), {"AWS_REGION": "eu-west-1"}, "region from AWS_REGION"),
    ],
)
def test_a_wrong_region_says_where_the_region_came_from(
    stack: Stack,
    cli: Callable[..., Ran],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: dict[str, str],
    origin: str,
) -> None:
    if not args:  # the spec's region would win over the environment
        text = stack.spec.read_text()
        stack.spec.write_text(re.sub(r"(?m)^region: .*\n", "", text))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ran = cli(*args, "status")
    assert ran.code == 4, ran.stderr
    assert f"ECS cluster {stack.result.cluster!r} not found in region eu-west-1" in ran.stderr
    assert "there are no clusters in region eu-west-1" in ran.stderr
    assert origin in ran.stderr
