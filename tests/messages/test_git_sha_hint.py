"""`git_sha` outside a git checkout: the hint names what works, and what it names works.

The demo stack's folder is not a git checkout. A spec image written with {{ git_sha }} fails
(exit 2, nothing written) with a hint naming `--var git_sha=...` and `--image`; each of them
then releases (the sandbox's service runs the build they name)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

import pytest

from tests.fixtures.codedeploy import Stack
from tests.helpers import Ran

SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"


@pytest.fixture
def git_sha_image(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The stack's spec image tagged {{ git_sha }}, its folder outside any git checkout."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(stack.dir.parent))
    assert (
        subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=stack.dir, capture_output=True, check=False
        ).returncode
        != 0
    )
    text = stack.spec.read_text()
    repo = stack.result.image.rsplit(":", 1)[0]
    stack.spec.write_text(
        re.sub(r'(?m)^  web: ".*"$', f'  web: "{repo}:{{{{ git_sha }}}}"', text, count=1)
    )
    assert "{{ git_sha }}" in stack.spec.read_text()
    return stack


def test_the_hint_names_what_works(git_sha_image: Stack, cli: Callable[..., Ran]) -> None:
    stack = git_sha_image
    before = stack.live_task_definition()
    ran = cli("-o", "json", "deploy")
    assert ran.code == 2, ran.stderr
    assert ran.result["kind"] == "template"  # one problem, not also an "invalid reference"
    assert "git_sha is used but cannot be computed" in ran.result["reason"]
    assert "invalid image reference" not in ran.stderr
    assert "--var git_sha=VALUE" in ran.result["hint"]
    assert "--image CONTAINER=REF" in ran.result["hint"]
    assert stack.live_task_definition() == before  # nothing written


def test_var_git_sha_gives_the_value(git_sha_image: Stack, cli: Callable[..., Ran]) -> None:
    stack = git_sha_image
    digest = stack.push(SHA)
    ran = cli("-o", "json", "deploy", "--var", f"git_sha={SHA}")
    assert ran.code == 0, ran.stderr
    td = stack.client("ecs").describe_task_definition(taskDefinition=stack.live_task_definition())
    assert td["taskDefinition"]["containerDefinitions"][0]["image"].endswith(f"@{digest}")


def test_image_override_does_not_need_git(git_sha_image: Stack, cli: Callable[..., Ran]) -> None:
    stack = git_sha_image
    digest = stack.push("g2")
    ran = cli("-o", "json", "deploy", "--image", f"web={stack.image('g2')}")
    assert ran.code == 0, ran.stderr
    td = stack.client("ecs").describe_task_definition(taskDefinition=stack.live_task_definition())
    assert td["taskDefinition"]["containerDefinitions"][0]["image"].endswith(f"@{digest}")
