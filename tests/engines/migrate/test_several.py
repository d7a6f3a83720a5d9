"""`migrate --to ecs -c a.yaml -c b.yaml`: every service planned and checked before any write;
one that cannot be migrated refuses them all (exit 2, nothing changed on any); then they are
migrated in turn, production staying on its target group."""

from __future__ import annotations

from pathlib import Path

from bluegreen.aws.session import Aws
from bluegreen.sandbox import StackKind
from bluegreen.sandbox.stack import create_stack
from tests.fixtures.migrate import CodeDeployStack, wait_for
from tests.helpers import run_cli


def _second(cd_stack: CodeDeployStack, tmp_path: Path, kind: StackKind) -> CodeDeployStack:
    result = create_stack(Aws(region="us-east-1"), tmp_path / "second", "mig2", kind=kind)
    other = CodeDeployStack(cd_stack.sandbox, result, cd_stack.journal)
    if kind is StackKind.codedeploy:
        wait_for(
            lambda: [t.get("status") for t in other.service().get("taskSets") or []] == ["PRIMARY"],
            what="the second stack's first task set",
        )
    return other


def test_one_service_that_cannot_move_refuses_them_all(
    cd_stack: CodeDeployStack, tmp_path: Path
) -> None:
    rolling = _second(cd_stack, tmp_path, StackKind.rolling)
    before = cd_stack.snapshot()
    ran = run_cli("migrate", "--to", "ecs", "-c", str(cd_stack.spec), "-c", str(rolling.spec))
    assert ran.code == 2, ran.stdout + ran.stderr
    assert "migrate moves CODE_DEPLOY services" in ran.stderr
    assert cd_stack.snapshot() == before
    assert cd_stack.service()["deploymentController"] == {"type": "CODE_DEPLOY"}


def test_several_services_are_migrated_in_turn(cd_stack: CodeDeployStack, tmp_path: Path) -> None:
    other = _second(cd_stack, tmp_path, StackKind.codedeploy)
    serving = {s.result.service: s.production() for s in (cd_stack, other)}
    ran = run_cli("migrate", "--to", "ecs", "-c", str(cd_stack.spec), "-c", str(other.spec))
    assert ran.code == 0, ran.stdout + ran.stderr
    for stack in (cd_stack, other):
        svc = stack.service()
        assert svc["deploymentController"] == {"type": "ECS"}
        assert svc["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
        assert stack.production() == serving[stack.result.service]
