"""The spec loader: defaults, environments, durations, paths, positions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bluegreen.errors import Problems, SpecError
from bluegreen.resources import load_schema
from bluegreen.spec.load import load_spec, parse_duration
from bluegreen.spec.model import CodeDeploySpec, LoadBalancerSpec, MetricCheck
from tests.fixtures.world import EXAMPLE


def write(folder: Path, text: str) -> Path:
    path = folder / "bluegreen.yaml"
    path.write_text(text)
    return path


BASE = "version: 1\ncluster: arn:aws:ecs:us-east-1:123456789012:cluster/c1\nservice: s1\n"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (300, 300.0),
        ("300", 300.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("2h", 7200.0),
        ("1h0m5s", 3605.0),
        (0, 0.0),
    ],
)
def test_parse_duration(value: str | int, seconds: float) -> None:
    assert parse_duration(value, "x") == seconds


@pytest.mark.parametrize("value", ["", "5", "m", "5 m", "1.5h", "5M", "-3", "1m1h", True, -1])
def test_parse_duration_rejects(value: str | int) -> None:
    if value == "5":
        assert parse_duration(value, "x") == 5.0  # bare digits are seconds
        return
    with pytest.raises(SpecError) as info:
        parse_duration(value, "bluegreen.yaml:3: timeout")
    assert info.value.where == "bluegreen.yaml:3: timeout"


def test_defaults(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, BASE + "task_definition: sub/td.json.j2\n"))
    assert spec.cluster.endswith("cluster/c1")
    assert spec.codedeploy == CodeDeploySpec("AppECS-c1-s1", "DgpECS-c1-s1", None, {})
    assert spec.task_definition == tmp_path / "sub" / "td.json.j2"
    assert spec.appspec is None
    assert (spec.pin_digests, spec.load_balancer, spec.verify, spec.windows) == (
        True,
        None,
        None,
        None,
    )
    assert (spec.rollback.on_failure, spec.rollback.alarms, spec.rollback.metrics) == (True, [], [])
    assert (spec.timeout_seconds, spec.env, spec.region, spec.vars) == (None, None, None, {})


def test_example_is_fully_typed() -> None:
    spec = load_spec(EXAMPLE / "bluegreen.yaml", "staging")
    assert spec.cluster == "web-staging"
    assert spec.codedeploy.deployment_config == "all-at-once"
    assert spec.codedeploy.hooks == {"AfterAllowTestTraffic": "web-smoke-tests"}
    assert spec.load_balancer == LoadBalancerSpec("web", 8080)
    assert spec.vars == {
        "release": "1.4.2",
        "log_level": "debug",
        "desired_cpu": "256",
        "desired_memory": "512",
    }
    assert spec.rollback.metrics == [
        MetricCheck(
            "green-5xx",
            "AWS/ApplicationELB",
            "HTTPCode_Target_5XX_Count",
            "Sum",
            60,
            "green",
            {},
            "GreaterThanThreshold",
            5.0,
            False,
        )
    ]
    assert spec.verify is not None
    assert spec.verify.command == ["./smoke.sh", "--url", "$BLUEGREEN_TEST_URL"]
    assert spec.verify.timeout_seconds == 300.0
    assert spec.timeout_seconds == 3600.0
    assert spec.windows == {
        "timezone": "Europe/Berlin",
        "allow": [{"days": ["mon", "tue", "wed", "thu"], "hours": "09:00-16:00"}],
        "freeze": [{"from": "2026-12-20", "to": "2027-01-04", "reason": "year-end freeze"}],
    }
    assert "environments" not in spec.data
    assert spec.task_definition == EXAMPLE / "taskdef.json.j2"


def test_environment_merge_is_deep_for_mappings_and_replaces_lists(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE + "task_definition: td.json\n"
        "rollback: {alarms: [a, b], on_failure: false}\n"
        "vars: {a: 1, nested: {x: 1, y: 2}}\n"
        "environments:\n"
        "  prod:\n"
        "    rollback: {alarms: [c]}\n"
        "    vars: {nested: {y: 3}, b: 2}\n"
        "  empty:\n",
    )
    spec = load_spec(path, "prod")
    assert spec.rollback.alarms == ["c"]
    assert spec.rollback.on_failure is False
    assert spec.vars == {"a": 1, "nested": {"x": 1, "y": 3}, "b": 2}
    assert load_spec(path, "empty").vars == {"a": 1, "nested": {"x": 1, "y": 2}}
    assert load_spec(path).rollback.alarms == ["a", "b"]


def test_required_keys_may_come_from_the_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\nservice: s1\ntask_definition: td.json\n"
        "environments:\n  prod: {cluster: prod-cluster}\n  dev: {}\n",
    )
    assert load_spec(path, "prod").cluster == "prod-cluster"
    with pytest.raises(SpecError, match="missing required key 'cluster'"):
        load_spec(path, "dev")


def test_errors_in_the_merged_document_point_at_the_overlay_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path,
        BASE + "task_definition: td.json\ntimeout: 5m\n"
        "environments:\n  prod:\n    timeout: forever\n",
    )
    with pytest.raises(SpecError) as info:
        load_spec(path, "prod")
    assert info.value.where == "bluegreen.yaml:8: environments.prod.timeout"


def test_all_problems_are_reported_in_line_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path,
        "version: 1\ncluster: c\nservice: s\ntask_definition: t\n"
        "pin_digest: true\nload_balancer: {container_name: web}\nvars: []\n",
    )
    with pytest.raises(Problems) as info:
        load_spec(path)
    assert [p.where for p in info.value.problems] == [
        "bluegreen.yaml:5: pin_digest",
        "bluegreen.yaml:6: load_balancer",
        "bluegreen.yaml:7: vars",
    ]
    assert "did you mean 'pin_digests'?" in info.value.problems[0].message
    assert info.value.problems[1].message == "missing required key 'container_port'"
    assert info.value.exit_code == 2


def test_relative_paths_resolve_against_the_spec_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "deploy").mkdir()
    write(tmp_path / "deploy", BASE + "task_definition: td.json.j2\nappspec: ../as.yaml.j2\n")
    monkeypatch.chdir(tmp_path)
    spec = load_spec(Path("deploy/bluegreen.yaml"))
    assert spec.task_definition == tmp_path / "deploy" / "td.json.j2"
    assert spec.appspec == tmp_path / "as.yaml.j2"
    assert spec.display == "deploy/bluegreen.yaml"


def test_every_schema_key_has_a_description_and_objects_are_closed() -> None:
    def check(name: str) -> None:
        schema = load_schema(name)

        def walk(node: object, path: str) -> None:
            if isinstance(node, dict):
                if node.get("type") == "object" and "properties" in node:
                    assert node.get("additionalProperties") is False, f"{name}: {path}"
                for key, sub in node.get("properties", {}).items():
                    if name != "taskdef":
                        assert "description" in sub, f"{name}: {path}.{key}"
                for key, sub in node.items():
                    walk(sub, f"{path}/{key}")
            elif isinstance(node, list):
                for i, sub in enumerate(node):
                    walk(sub, f"{path}[{i}]")

        walk(schema, "")

    for name in ("spec", "appspec", "taskdef"):
        check(name)


def test_schemas_are_valid_2020_12() -> None:
    from jsonschema import Draft202012Validator

    for name in ("spec", "appspec", "taskdef"):
        schema = load_schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


def test_taskdef_schema_follows_the_botocore_model() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    schema = load_schema("taskdef")
    assert set(schema["properties"]) == set(shape.members)
    container = model.shape_for("ContainerDefinition")
    assert set(schema["$defs"]["ContainerDefinition"]["properties"]) == set(container.members)
    assert json.dumps(schema).count("additionalProperties") > 30
