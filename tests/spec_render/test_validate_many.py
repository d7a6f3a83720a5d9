"""`validate` over several specs in one process: -c repeated, or a folder of specs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.render_bench import generate
from bluegreen.cli.app import run
from tests.fixtures.world import World


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four generated services (specs, templates) in tmp/services, the cwd being tmp."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    generate(tmp_path / "services", 4)
    return Path("services")


def test_a_folder_is_validated_spec_by_spec(
    services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["-e", "prod", "validate", "--offline", "-c", str(services)]) == 0
    out, err = capsys.readouterr()
    assert out == (
        "ok  services/svc0001.yaml: cluster-01/svc0001\n"
        "ok  services/svc0002.yaml: cluster-02/svc0002\n"
        "ok  services/svc0003.yaml: cluster-03/svc0003\n"
        "ok  services/svc0004.yaml: cluster-04/svc0004\n"
        "4 specs: 4 valid, 0 with problems\n"
    )
    # one line for the four offline notices, the first one quoted
    assert err.count("\n") == 1
    assert err.startswith("warning: 4 notices, the first: services/svc0001.yaml: image for ")
    assert err.endswith("(-v lists every one)\n")


def test_verbose_lists_every_notice(services: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-v", "-e", "prod", "validate", "--offline", "-c", str(services)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1].strip() for line in err] == [
        f"services/svc000{i}.yaml" for i in (1, 2, 3, 4)
    ]


def test_the_global_config_may_name_a_folder(
    services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["-o", "json", "-c", str(services), "-e", "prod", "validate", "--offline"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines.pop() == {"event": "result", "exitCode": 0, "reason": "ok"}
    assert [line.get("spec") for line in lines[:-1]] == [
        f"services/svc000{i}.yaml" for i in (1, 2, 3, 4)
    ]
    assert all(line["valid"] and line["env"] == "prod" for line in lines[:-1])
    assert all("not resolved to a digest" in line["notices"][0] for line in lines[:-1])
    assert lines[-1] == {"valid": True, "specs": 4}


def test_every_problem_of_every_spec_names_its_file(
    services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = services / "svc0002.yaml"
    broken.write_text(broken.read_text().replace("service: svc0002", "servce: svc0002"))
    template = services / "taskdefs" / "svc0003.json.j2"
    template.write_text(template.read_text().replace("vars.port }}", "vars.prot }}", 1))
    argv = ["-e", "prod", "validate", "--offline", "-c", str(services), "-c", "missing.yaml"]
    assert run(argv) == 2
    out, err = capsys.readouterr()
    assert out == (
        "ok  services/svc0001.yaml: cluster-01/svc0001\n"
        "ok  services/svc0004.yaml: cluster-04/svc0004\n"
        "5 specs: 2 valid, 3 with problems\n"
    )
    problems = [line for line in err.splitlines() if line.startswith("  - ")]
    assert "error: 3 problems in 3 of 5 specs:" in err.splitlines()
    assert len(problems) == 3
    assert any("services/svc0002.yaml:4: servce: unknown key 'servce'" in p for p in problems)
    assert any(
        p.startswith("  - services/taskdefs/svc0003.json.j2:") and "prot" in p for p in problems
    )
    assert any(p.startswith("  - missing.yaml: spec file not found") for p in problems)


def test_a_bad_flag_is_reported_once_before_any_spec(
    services: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["-e", "prod", "validate", "--offline", "-c", str(services), "--var", "oops"]
    assert run(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "error: --var: an argument (not shown: it may hold a secret) is not NAME=VALUE\n"
        "  hint: e.g. --var log_level=debug\n"
    )


def test_a_folder_without_specs_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert run(["validate", "--offline", "-c", str(tmp_path / "empty")]) == 2
    assert "the folder holds no spec files" in capsys.readouterr().err


def test_several_specs_are_checked_against_aws_without_a_write(
    example: Path, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    shutil.copytree(example, other)
    argv = ["-o", "json", "validate", "-c", "bluegreen.yaml", "-c", str(other / "bluegreen.yaml")]
    assert run(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 4
    for line in lines[:2]:
        assert "images: 2 container image(s), 2 pinned by digest" in line["checks"]
    assert lines[2] == {"valid": True, "specs": 2}
    assert lines[3] == {"event": "result", "exitCode": 0, "reason": "ok"}
    world.assert_no_writes()


def test_each_spec_is_read_in_its_own_region(
    example: Path, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The copy lives in eu-west-1, where the sandbox has no such service: its reads go there
    (one session per region), so it fails while the us-east-1 spec passes."""
    other = tmp_path / "other"
    shutil.copytree(example, other)
    spec = other / "bluegreen.yaml"
    spec.write_text(spec.read_text().replace("region: us-east-1", "region: eu-west-1"))
    argv = ["validate", "-c", "bluegreen.yaml", "-c", str(spec)]
    code = run(argv)
    out, err = capsys.readouterr()
    assert code != 0, out
    assert out.startswith("ok  bluegreen.yaml: web-cluster/web\n")
    assert "eu-west-1" in err or "not found" in err, err
    world.assert_no_writes()
