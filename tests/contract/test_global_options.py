"""Global options work after the verb as well as before it (DESIGN.md: pinned)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.codedeploy import Ran, Stack


def write_spec(folder: Path, family: str = "s1") -> Path:
    (folder / "bluegreen.yaml").write_text(
        "version: 1\ncluster: c1\nservice: s1\ntask_definition: td.json.j2\n"
        "images: {app: 'nginx@sha256:" + "a" * 64 + "'}\n"
        "load_balancer: {container_name: app, container_port: 80}\n"
        f"vars: {{family: {family}}}\n"
        "environments:\n  staging: {vars: {family: s1-staging}}\n"
    )
    (folder / "td.json.j2").write_text(
        '{"family": "{{ vars.family }}", "containerDefinitions": [{"name": "app", '
        '"image": "x", "memory": 128, "portMappings": [{"containerPort": 80}]}]}\n'
    )
    return folder / "bluegreen.yaml"


def test_env_output_and_config_after_the_verb(
    cli: Callable[..., Ran], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    spec = write_spec(tmp_path / "elsewhere")
    monkeypatch.chdir(tmp_path)
    ran = cli("render", "--offline", "--env", "staging", "--output", "json", "-c", str(spec))
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[0])["taskDefinition"]["family"] == "s1-staging"
    assert ran.result == {"event": "result", "exitCode": 0, "reason": "ok"}
    # short forms, and the same options before the verb still work
    ran = cli("-c", str(spec), "render", "--offline", "-e", "staging", "-o", "json", "--no-color")
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[0])["taskDefinition"]["family"] == "s1-staging"
    # after the verb wins over before it
    ran = cli("-o", "text", "-e", "prod", "-c", str(spec), "render", "--offline", "-o", "json",
              "-e", "staging")  # fmt: skip
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[0])["taskDefinition"]["family"] == "s1-staging"


def test_verbose_after_the_verb_shows_the_traceback(
    cli: Callable[..., Ran], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = cli("validate", "-v")
    assert ran.code == 2
    assert "Traceback" in ran.stderr
    assert "spec file not found" in ran.stderr


def test_deploy_env_is_not_mistaken_for_var(stack: Stack, cli: Callable[..., Ran]) -> None:
    text = stack.spec.read_text()
    stack.spec.write_text(text + "environments:\n  staging: {cluster: nope-cluster}\n")
    ran = cli("deploy", "--env", "staging", "--dry-run", "--output", "json")
    assert "Did you mean --" not in ran.stderr  # click's guess at a mistyped option
    assert "No such option" not in ran.stderr
    assert ran.code in (2, 4), ran.stderr
    assert "nope-cluster" in ran.result["reason"]  # the environment's cluster was looked up
    assert ran.result["exitCode"] == ran.code


def test_region_and_profile_after_the_verb(stack: Stack, cli: Callable[..., Ran]) -> None:
    ran = cli("status", "--output", "json")
    assert ran.code == 0, ran.stderr
    ran = cli("status", "--output", "json", "--region", "eu-west-3")
    assert ran.code != 0  # the stack lives in us-east-1 only
    assert "eu-west-3" in ran.stderr or "not found" in ran.result["reason"].lower(), ran.stderr
    ran = cli("status", "--profile", "no-such-profile", "-o", "json")
    assert ran.code == 4, ran.stderr
    assert "no-such-profile" in ran.result["reason"]


def test_deploy_and_validate_keep_their_repeated_config(
    cli: Callable[..., Ran], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-c` after deploy/validate is theirs: several specs, one run (fan-out)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = write_spec(tmp_path / "a", "fa"), write_spec(tmp_path / "b", "fb")
    monkeypatch.chdir(tmp_path)
    ran = cli("validate", "--offline", "-c", str(a), "-c", str(b), "-o", "json")
    assert ran.code == 0, ran.stderr
    specs = [line["spec"] for line in ran.lines if "spec" in line and "checks" in line]
    assert len(specs) == 2
    assert ran.lines[-2] == {"valid": True, "specs": 2}
