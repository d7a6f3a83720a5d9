"""tag: a new tag on the exact image in ECR, in the sandbox."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from bluegreen.cli.app import run
from tests.verbs.conftest import REGISTRY, push_image

REPO = f"{REGISTRY}/web"


def digest_of(tag: str) -> str | None:
    ecr = boto3.client("ecr")
    try:
        details = ecr.describe_images(repositoryName="web", imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return None
    return str(details["imageDetails"][0]["imageDigest"])


def test_tag_then_again_is_idempotent(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    digest = service["digest"]
    assert run(["tag", "--image", f"web={REPO}:v1", "--as", "release-1"]) == 0
    assert capsys.readouterr().out == f"web: tagged {REPO}@{digest} as release-1\n"
    assert digest_of("release-1") == digest
    assert digest_of("v1") == digest  # the source tag stays
    assert run(["tag", "--image", f"web={REPO}:v1", "--as", "release-1"]) == 0
    assert capsys.readouterr().out == f"web: already tagged {REPO}@{digest} as release-1\n"


def test_tag_naming_another_image_needs_force(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    old = service["digest"]
    new = push_image("v2")
    code = run(["tag", "--image", f"web={REPO}:v2", "--as", "v1"])
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: {REPO}:v1: tag 'v1' already names another image ({old}), not {new}\n"
        "  hint: pass --force to move the tag, or choose another tag\n"
    )
    assert digest_of("v1") == old
    assert run(["-o", "json", "tag", "--image", f"web={REPO}@{new}", "--as", "v1", "--force"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert lines[-1] == {
        "event": "result",
        "images": [
            {
                "container": "web",
                "repository": "web",
                "digest": new,
                "tag": "v1",
                "status": "moved",
                "previous": old,
            }
        ],
    }
    assert digest_of("v1") == new


def test_container_alone_takes_the_spec_image(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["-c", service["spec"], "tag", "--image", "web", "--as", "stable"]) == 0
    assert capsys.readouterr().out == f"web: tagged {REPO}@{service['digest']} as stable\n"
    assert digest_of("stable") == service["digest"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--image", "web=nginx:1", "--as", "x"],
            "error: --image web: docker.io/library/nginx:1 is not in a private ECR registry\n",
        ),
        (["--image", "web=", "--as", "x"], "error: --image: --image 'web=' is not CONTAINER=REF\n"),
        (["--image", f"web={REPO}:v1", "--as", "bad tag"], "--as"),
        (["--image", f"web={REPO}:missing", "--as", "x"], "not found in ECR"),
    ],
)
def test_bad_input_is_exit_2_and_writes_nothing(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    before = boto3.client("ecr").describe_images(repositoryName="web")["imageDetails"]
    assert run(["tag", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    after = boto3.client("ecr").describe_images(repositoryName="web")["imageDetails"]
    assert [d.get("imageTags") for d in after] == [d.get("imageTags") for d in before]
