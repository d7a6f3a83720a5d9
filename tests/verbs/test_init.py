"""init: scaffolds that validate, from nothing, a compose file, or a live service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen.cli.app import run
from bluegreen.release.compose import convert_service, duration_seconds, fargate_size, memory_mib
from bluegreen.render.release import render_release
from bluegreen.spec.load import load_spec
from tests.verbs.conftest import REGISTRY

FILES = ("bluegreen.yaml", "taskdef.json.j2", "appspec.yaml.j2")


def validate_offline(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["-c", str(folder / "bluegreen.yaml"), "validate", "--offline"])
    captured = capsys.readouterr()
    assert code == 0, captured.err


def rendered_td(folder: Path) -> dict[str, Any]:
    return render_release(load_spec(folder / "bluegreen.yaml")).task_definition


def test_example_scaffold_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    written = [*FILES, ".gitignore"]
    assert out == "wrote " + ", ".join(str(tmp_path / f) for f in written) + "\n"
    validate_offline(tmp_path, capsys)
    td = rendered_td(tmp_path)
    assert td["containerDefinitions"][0]["image"] == "public.ecr.aws/nginx/nginx:stable"
    assert td["containerDefinitions"][0]["environment"] == [{"name": "LOG_LEVEL", "value": "info"}]
    assert "#" in (tmp_path / "appspec.yaml.j2").read_text()  # commented


def test_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taskdef.json.j2").write_text("mine")
    assert run(["init", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path}/taskdef.json.j2: refusing to overwrite {tmp_path}/taskdef.json.j2\n"
        "  hint: pass --force to overwrite, or --dir to write elsewhere\n"
    )
    assert (tmp_path / "taskdef.json.j2").read_text() == "mine"
    assert not (tmp_path / "bluegreen.yaml").exists()  # all or nothing
    assert run(["init", "--dir", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "taskdef.json.j2").read_text() != "mine"


COMPOSE = """services:
  api:
    image: registry.example.com/team/api:1.2
    command: ["serve", "--port", "8080"]
    entrypoint: /docker-entrypoint.sh
    working_dir: /srv
    user: "1000:1000"
    ports:
      - "80:8080"
      - target: 9090
        protocol: udp
    environment:
      LOG_LEVEL: info
      WORKERS: 4
      DB_PASSWORD: hunter2-very-secret
      TEMPLATE: "{{ not jinja }}"
    healthcheck:
      test: ["CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"]
      interval: 30s
      timeout: 1m30s
      retries: 3
      start_period: 10s
    deploy:
      replicas: 2
      resources:
        limits: {cpus: "0.75", memory: 1536M}
        reservations: {memory: 512M}
    volumes: ["./data:/data"]
    depends_on: [db]
  db:
    image: postgres:16
"""


def test_from_compose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(COMPOSE)
    out_dir = tmp_path / "out"
    code = run(
        [
            "-o",
            "json",
            "init",
            "--dir",
            str(out_dir),
            "--from-compose",
            str(compose),
            "--service",
            "api",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out.strip().splitlines()[0])
    assert result["unsupported"] == [
        "services.api.volumes",
        "services.api.depends_on",
        "services.api.deploy.replicas",
    ]
    assert "warning: not converted (unsupported): services.api.volumes, " in captured.err
    assert any("DB_PASSWORD" in n and "secret" in n for n in result["notes"])
    assert "hunter2" not in "".join(p.read_text() for p in out_dir.iterdir())
    validate_offline(out_dir, capsys)
    td = rendered_td(out_dir)
    assert (td["cpu"], td["memory"]) == ("1024", "2048")  # smallest Fargate size that fits
    (c,) = td["containerDefinitions"]
    assert c["image"] == "registry.example.com/team/api:1.2"
    assert c["command"] == ["serve", "--port", "8080"]
    assert c["entryPoint"] == ["/docker-entrypoint.sh"]
    assert c["workingDirectory"] == "/srv"
    assert c["user"] == "1000:1000"
    assert c["portMappings"] == [
        {"containerPort": 8080, "hostPort": 8080},
        {"containerPort": 9090, "hostPort": 9090, "protocol": "udp"},
    ]
    assert c["environment"] == [
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "WORKERS", "value": "4"},
        {"name": "TEMPLATE", "value": "{{ not jinja }}"},  # kept literally, not evaluated
    ]
    assert c["healthCheck"] == {
        "command": ["CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"],
        "interval": 30,
        "timeout": 90,
        "retries": 3,
        "startPeriod": 10,
    }
    assert (c["cpu"], c["memory"], c["memoryReservation"]) == (768, 1536, 512)
    spec = load_spec(out_dir / "bluegreen.yaml")
    assert (spec.cluster, spec.service) == ("default", "api")
    assert spec.load_balancer is not None
    assert (spec.load_balancer.container_name, spec.load_balancer.container_port) == ("api", 8080)


def test_compose_with_several_services_needs_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(COMPOSE)
    assert run(["init", "--dir", str(tmp_path / "o"), "--from-compose", str(compose)]) == 2
    assert capsys.readouterr().err == (
        f"error: {compose}: services: has 2 services: api, db\n"
        "  hint: choose one with --service NAME\n"
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"image": "x", "ports": ["abc"]}, "services.web.ports[0]: cannot read port 'abc'"),
        ({"image": "x", "healthcheck": {"test": ["BAD"]}}, "services.web.healthcheck.test"),
        ({"image": "x", "deploy": {"resources": {"limits": {"memory": "lots"}}}}, "memory"),
        ({"image": "x", "environment": 5}, "services.web.environment"),
    ],
)
def test_bad_compose_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: dict[str, Any], fragment: str
) -> None:
    compose = tmp_path / "compose.json"
    compose.write_text(json.dumps({"services": {"web": body}}))
    assert run(["init", "--dir", str(tmp_path / "o"), "--from-compose", str(compose)]) == 2
    err = capsys.readouterr().err
    assert str(compose) in err
    assert fragment in err


def test_compose_conversions() -> None:
    assert duration_seconds("1m30s", "x") == 90
    assert duration_seconds("500ms", "x") == 0
    assert duration_seconds(45, "x") == 45
    assert memory_mib("1g", "x") == 1024
    assert memory_mib("1.5GiB", "x") == 1536
    assert memory_mib(268435456, "x") == 256
    assert fargate_size(None, None) == (256, 512)
    assert fargate_size(2048, 3000) == (2048, 4096)
    svc = convert_service("w", {"image": "x", "ports": ["8000-8010:8000-8010"]}, "c: services.w")
    assert svc.unsupported == ["services.w.ports[0] (port range 8000-8010:8000-8010)"]


def test_from_service(
    service: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a secret-looking and a plain environment value on the live revision
    ecs = boto3.client("ecs")
    td = ecs.describe_task_definition(taskDefinition=service["arn"])["taskDefinition"]
    td["containerDefinitions"][0]["environment"] = [
        {"name": "LOG_LEVEL", "value": "warn"},
        {"name": "API_TOKEN", "value": "tok-123456"},
    ]
    keep = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory", "executionRoleArn")
    arn = ecs.register_task_definition(
        **{k: td[k] for k in keep}, containerDefinitions=td["containerDefinitions"]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="web-cluster", service="web", taskDefinition=arn)
    folder = tmp_path / "from"
    code = run(["init", "--dir", str(folder), "--from-service", "web-cluster/web"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "API_TOKEN of container web looks like a secret: not written" in captured.err
    text = "".join((folder / f).read_text() for f in FILES)
    assert "tok-123456" not in text
    spec = load_spec(folder / "bluegreen.yaml")
    assert spec.images == {"web": f"{REGISTRY}/web@{service['digest']}"}
    assert spec.vars == {"log_level": "warn"}
    template = json.loads(
        (folder / "taskdef.json.j2")
        .read_text()
        .replace("{{ vars.log_level | tojson }}", '"x"')
        .replace('{{ images["web"] | tojson }}', '"y"')
    )
    assert "taskDefinitionArn" not in template
    assert "revision" not in template
    validate_offline(folder, capsys)
    # what the scaffold renders is what the service runs, minus the left-out secret
    assert run(["-c", str(folder / "bluegreen.yaml"), "diff"]) == 0
    diff = capsys.readouterr().out
    assert '-          "name": "API_TOKEN",' in diff
    assert "LOG_LEVEL" not in diff.replace('"name": "LOG_LEVEL"', "")


def test_from_service_bad_target_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(["init", "--dir", str(tmp_path), "--from-service", "just-a-name"]) == 2
    assert "--from-service 'just-a-name' is not CLUSTER/SERVICE" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_from_service_missing_is_exit_4(
    aws_env: object, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    boto3.client("ecs").create_cluster(clusterName="c")
    assert run(["init", "--dir", str(tmp_path), "--from-service", "c/nope"]) == 4
    assert "ECS service 'nope' is not found in cluster 'c'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_init_keeps_the_journal_out_of_git(tmp_path: Path) -> None:
    """`init` adds `.bluegreen/` (the local journal) to the folder's .gitignore, once, keeping
    what the file already says."""
    from tests.helpers import run_cli

    (tmp_path / ".gitignore").write_text("node_modules/", encoding="utf-8")
    ran = run_cli("init", "--dir", str(tmp_path))
    assert ran.code == 0, ran.stderr
    lines = (tmp_path / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "node_modules/"
    assert lines[-1] == ".bluegreen/"
    again = run_cli("init", "--dir", str(tmp_path), "--force")
    assert again.code == 0, again.stderr
    assert (tmp_path / ".gitignore").read_text(encoding="utf-8").count(".bluegreen/") == 1
