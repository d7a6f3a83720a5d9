"""The sandbox's ECR answers as AWS gives them, each raw answer held to botocore's service
model (tests/sandbox/model_check.py). Plain boto3; each test cites the AWS page it follows."""

from __future__ import annotations

import hashlib
import json

import boto3
import pytest

from bluegreen.sandbox.server import SandboxServer
from tests.sandbox.model_check import RawResponses

LAYER = "sha256:" + "a" * 64


def manifest(config: str) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 100,
                "digest": "sha256:" + config * 64,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 10,
                    "digest": LAYER,
                }
            ],
        }
    )


def sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_pushing_a_changed_manifest_under_a_tag_answers_its_new_digest(
    aws_env: SandboxServer,
) -> None:
    """https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html — the
    answer's imageDigest is the digest of the manifest pushed, so a second push of a changed
    manifest (same layers, new config) under one tag answers the new digest, and the tag then
    names it; the image the tag named before stays, untagged
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html)."""
    raw = RawResponses()
    ecr = raw.attach(boto3.client("ecr"))
    ecr.create_repository(repositoryName="web")
    first, second = manifest("1"), manifest("2")
    pushed = []
    for body in (first, second):
        answer = ecr.put_image(repositoryName="web", imageManifest=body, imageTag="v1")
        raw.check("PutImage")
        pushed.append(answer["image"]["imageId"]["imageDigest"])
    assert pushed == [sha256(first), sha256(second)]
    found = ecr.batch_get_image(repositoryName="web", imageIds=[{"imageTag": "v1"}])
    raw.check("BatchGetImage")
    [image] = found["images"]
    assert image["imageId"]["imageDigest"] == sha256(second)
    assert image["imageManifest"] == second
    details = ecr.describe_images(repositoryName="web")["imageDetails"]
    raw.check("DescribeImages")
    tags = {d["imageDigest"]: d.get("imageTags", []) for d in details}
    assert tags == {sha256(first): [], sha256(second): ["v1"]}


def test_a_digest_that_does_not_match_the_manifest_is_refused(aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html —
    ImageDigestDoesNotMatchException: the imageDigest given is not the manifest's."""
    raw = RawResponses()
    ecr = raw.attach(boto3.client("ecr"))
    ecr.create_repository(repositoryName="web")
    with pytest.raises(ecr.exceptions.ImageDigestDoesNotMatchException):
        ecr.put_image(
            repositoryName="web",
            imageManifest=manifest("1"),
            imageTag="v1",
            imageDigest=sha256(manifest("2")),
        )
    raw.check("PutImage")
    assert ecr.describe_images(repositoryName="web")["imageDetails"] == []
