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
        f"error: --as: tag 'v1' already names another image: {REPO}:v1 already names {old}, "
        f"not {new} (image web)\n"
        "  hint: choose another tag, or move it with --force\n"
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
        "exitCode": 0,
        "reason": "ok",
    }
    assert digest_of("v1") == new


def test_no_image_is_tagged_while_another_cannot_be(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Two images: the first is free to take the tag, the second's tag names another image and
    a third is missing; both problems are reported and neither repository is written to."""
    boto3.client("ecr").create_repository(repositoryName="api")
    api = push_image("v1", repository="api")
    push_image("v2", repository="api")
    assert run(["tag", "--image", f"api={REGISTRY}/api:v2", "--as", "live"]) == 0
    capsys.readouterr()
    argv = ["tag", "--image", f"web={REPO}:v1", "--image", f"api={REGISTRY}/api:v1"]
    argv += ["--image", f"gone={REGISTRY}/api:nope", "--as", "live"]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 2 problems in tag 'live':")
    assert f"{REGISTRY}/api:live already names" in err
    assert f"not {api} (image api)" in err
    assert "not found in ECR" in err
    assert digest_of("live") is None  # web was free, and still has no such tag


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


def test_retag_sends_the_same_manifest_and_media_type(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins the exact requests: the manifest bytes and media type BatchGetImage returned go
    unchanged into PutImage, with the digest; nothing else is called."""
    from botocore.stub import Stubber

    from bluegreen.aws.ecr import retag
    from bluegreen.aws.session import Aws
    from bluegreen.spec.images import parse_image

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws = Aws(region="us-east-1")
    digest = "sha256:" + "ab" * 32
    manifest = '{"schemaVersion": 2, "layers": []}'
    media = "application/vnd.oci.image.manifest.v1+json"
    with Stubber(aws.ecr()) as stub:
        stub.add_response(
            "batch_get_image",
            {
                "images": [
                    {
                        "imageId": {"imageDigest": digest, "imageTag": "v1"},
                        "imageManifest": manifest,
                        "imageManifestMediaType": media,
                    }
                ],
                "failures": [],
            },
            {
                "registryId": "123456789012",
                "repositoryName": "web",
                "imageIds": [{"imageTag": "v1"}],
                "acceptedMediaTypes": [
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v1+prettyjws",
                ],
            },
        )
        stub.add_client_error(
            "describe_images",
            "ImageNotFoundException",
            expected_params={
                "registryId": "123456789012",
                "repositoryName": "web",
                "imageIds": [{"imageTag": "prod"}],
            },
        )
        stub.add_response(
            "put_image",
            {"image": {"imageId": {"imageDigest": digest, "imageTag": "prod"}}},
            {
                "registryId": "123456789012",
                "repositoryName": "web",
                "imageManifest": manifest,
                "imageManifestMediaType": media,
                "imageTag": "prod",
                "imageDigest": digest,
            },
        )
        done = retag(aws, parse_image(f"{REPO}:v1"), "prod")
        stub.assert_no_pending_responses()
    assert (done.digest, done.status, done.previous) == (digest, "tagged", None)
