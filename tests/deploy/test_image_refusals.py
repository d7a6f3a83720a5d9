"""Images a release must refuse before any AWS write: a digest that is not in ECR, a
`repo:tag@digest` whose tag names another image, and a tag that cannot be pinned to a digest
(not in ECR) while `pin_digests` is on. Each is refused with exit 2 and a message naming the
container, the reference and where it came from; no task definition is registered and no
deployment is created (both read back from the sandbox)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.fixtures.codedeploy import Stack
from tests.helpers import Ran

MISSING = "sha256:" + "e" * 64
HUB = "docker.io/library/nginx:1.27"


@dataclass(frozen=True)
class Writes:
    """What a release would have written: task-definition revisions and deployments."""

    revisions: int
    deployments: int


def writes(stack: Stack) -> Writes:
    ecs = stack.client("ecs")
    revisions = len(ecs.list_task_definitions()["taskDefinitionArns"])
    deployments = len(
        stack.client("codedeploy").list_deployments(
            applicationName=stack.result.application,
            deploymentGroupName=stack.result.deployment_group,
        )["deployments"]
    )
    return Writes(revisions, deployments)


def set_spec_image(stack: Stack, image: str, *, pin: bool = True) -> int:
    """Write `image` as the spec's `images.web`; return the line it is on."""
    text = stack.spec.read_text()
    lines = text.splitlines()
    (index,) = [i for i, row in enumerate(lines) if row.startswith("  web: ")]
    lines[index] = f'  web: "{image}"'
    text = "\n".join(lines) + "\n"
    if not pin:
        text = text.replace("pin_digests: true", "pin_digests: false")
    stack.spec.write_text(text)
    return index + 1


def refused(ran: Ran, before: Writes, stack: Stack) -> str:
    assert ran.code == 2, (ran.code, ran.stdout, ran.stderr)
    assert "Traceback" not in ran.stderr
    assert writes(stack) == before  # nothing registered, nothing deployed
    return ran.stderr


def cases(stack: Stack) -> dict[str, tuple[str, str]]:
    """case -> (image reference, what the message must say about it)."""
    repo = stack.image("v1").rsplit(":", 1)[0]
    v2 = stack.push("v2")
    stack.push("v3")
    return {
        "unknown-digest": (f"{repo}@{MISSING}", "not found in ECR repository"),
        "tag-names-another-digest": (f"{repo}:v3@{v2}", "tag 'v3' names"),
        "unpinnable-tag": (HUB, "cannot be pinned to a digest"),
    }


@pytest.mark.parametrize("case", ["unknown-digest", "tag-names-another-digest", "unpinnable-tag"])
@pytest.mark.parametrize("source", ["flag", "spec"])
@pytest.mark.parametrize("dry_run", [False, True])
def test_an_image_that_cannot_be_released_is_refused_before_any_write(
    stack: Stack, cli: Callable[..., Ran], case: str, source: str, dry_run: bool
) -> None:
    image, problem = cases(stack)[case]
    before = writes(stack)
    args = ["deploy", *(["--dry-run"] if dry_run else [])]
    if source == "flag":
        ran = cli(*args, "--image", f"web={image}")
        where = "--image web"
    else:
        line = set_spec_image(stack, image)
        ran = cli(*args)
        where = f"bluegreen.yaml:{line}"
    err = refused(ran, before, stack)
    assert where in err
    assert "container 'web'" in err
    assert image in err or image.replace("docker.io/library/", "") in err
    assert problem in err
    assert "hint: " in err


def test_a_template_image_that_cannot_be_pinned_is_refused(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    """An image the task definition template writes itself (no `images` entry) is checked too,
    and the message names the template's JSON path."""
    text = stack.spec.read_text()
    stack.spec.write_text(re.sub(r"images:\n  web: .*\n", "images: {}\n", text))
    template = stack.dir / "taskdef.json.j2"
    original = template.read_text()
    template.write_text(original.replace("{{ images.web }}", HUB))
    try:
        before = writes(stack)
        err = refused(cli("deploy"), before, stack)
    finally:
        template.write_text(original)
    assert "taskdef.json.j2" in err
    assert "containerDefinitions[0].image" in err
    assert "container 'web'" in err


def test_an_unpinned_tag_is_released_as_it_is_when_pinning_is_off(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    """`pin_digests: false` is the opt-out: the tag is released unpinned (`doctor` warns)."""
    set_spec_image(stack, HUB, pin=False)
    ran = cli("-o", "json", "deploy", "--dry-run")
    assert ran.code == 0, ran.stderr
    (plan,) = ran.events("plan")
    assert plan["images"]["web"] == HUB
    assert plan["taskDefinition"]["containerDefinitions"][0]["image"] == HUB


def test_a_known_digest_and_a_matching_tag_and_digest_are_released(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    """The controls: the same shapes with an image that is there are accepted."""
    repo = stack.image("v1").rsplit(":", 1)[0]
    v2 = stack.push("v2")
    for image in (f"{repo}@{v2}", f"{repo}:v2@{v2}"):
        ran = cli("-o", "json", "deploy", "--dry-run", "--image", f"web={image}")
        assert ran.code == 0, ran.stderr
        (plan,) = ran.events("plan")
        assert plan["images"]["web"].endswith(f"@{v2}")
