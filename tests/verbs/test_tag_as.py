"""`deploy --tag-as TAG`: the exact image of every ECR image of the release gets TAG, on the
rolling and the CodeDeploy path, checked before any write and journalled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fixtures.rolling import REGISTRY, Stack
from tests.fixtures.verbs import Cli, ecr_tag_digest, git
from tests.helpers import records

TWO_CONTAINERS = """{
  "family": "{{ service }}",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [
    {"name": "web", "image": "set-by-images", "essential": true,
     "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]},
    {"name": "%s", "image": "set-by-images", "essential": false}
  ]
}
"""
BUSYBOX = "docker.io/library/busybox@sha256:" + "ab" * 32


def two_container_spec(stack: Stack, second: str, second_image: str) -> Path:
    (stack.folder / "two.json.j2").write_text(TWO_CONTAINERS % second, encoding="utf-8")
    path = stack.folder / "bluegreen.yaml"
    path.write_text(
        "version: 1\nregion: us-east-1\ncluster: apps\nservice: api\n"
        "task_definition: two.json.j2\n"
        f"images:\n  web: {REGISTRY}/web:v2\n  {second}: {second_image}\n",
        encoding="utf-8",
    )
    return path


def actions(journal: Path) -> list[tuple[str, str]]:
    return [(str(r["kind"]), str(r.get("action", ""))) for r in records(journal)]


# --- rolling path --------------------------------------------------------------------------------
def test_rolling_release_tags_the_resolved_digest_first(
    rolling: Stack, cli: Cli, journal: Path
) -> None:
    rolling.service("apps", "api")
    digest = rolling.push("v2")
    rolling.spec("apps", "api")
    ran = cli("-o", "json", "deploy", "--tag-as", "release-7")
    assert ran.code == 0, ran.stderr
    assert ecr_tag_digest(rolling.aws, "release-7") == digest
    assert ecr_tag_digest(rolling.aws, "v2") == digest  # the source tag stays where it was
    tagged = ran.events("tagged")
    assert [(t["container"], t["status"], t["tag"]) for t in tagged] == [
        ("web", "tagged", "release-7")
    ]
    assert tagged[0]["image"] == f"{REGISTRY}/web@{digest}"
    plan = ran.events("plan")[0]
    assert plan["tagAs"]["images"][0]["digest"] == digest
    steps = actions(journal)
    tag_intent = steps.index(("intent", "TagImage"))
    assert steps[tag_intent + 1] == ("done", "TagImage")
    assert tag_intent < steps.index(("intent", "RegisterTaskDefinition"))
    done = next(
        r for r in records(journal) if r.get("action") == "TagImage" and r["kind"] == "done"
    )
    assert (done["digest"], done["tag"], done["status"]) == (digest, "release-7", "tagged")
    assert ran.result["exitCode"] == 0


def test_dry_run_lists_the_tag_and_writes_nothing(rolling: Stack, cli: Cli, journal: Path) -> None:
    rolling.service("apps", "api")
    digest = rolling.push("v2")
    rolling.spec("apps", "api")
    ran = cli("-o", "json", "deploy", "--tag-as", "release-8", "--dry-run")
    assert ran.code == 0, ran.stderr
    plan = ran.events("plan")[0]["tagAs"]
    assert plan["tag"] == "release-8"
    assert plan["images"] == [
        {
            "container": "web",
            "image": f"{REGISTRY}/web@{digest}",
            "digest": digest,
            "alreadyTagged": False,
        }
    ]
    assert ecr_tag_digest(rolling.aws, "release-8") is None
    assert records(journal) == []
    text = cli("deploy", "--tag-as", "release-8", "--dry-run")
    assert f"tag {REGISTRY}/web@{digest} as release-8" in text.stdout + text.stderr


def test_a_tag_naming_another_image_is_exit_2_before_any_write(
    rolling: Stack, cli: Cli, journal: Path
) -> None:
    rolling.service("apps", "api")
    rolling.push("v2")
    rolling.push("shared", repository="worker")  # the tag already names another worker image
    worker_v1 = rolling.push("v1", repository="worker")
    two_container_spec(rolling, "worker", f"{REGISTRY}/worker:v1")
    before = rolling.describe("apps", "api")["taskDefinition"]
    taken = ecr_tag_digest(rolling.aws, "shared", "worker")
    ran = cli("deploy", "--tag-as", "shared")
    assert ran.code == 2, ran.stderr
    assert "--tag-as" in ran.stderr
    assert f"{REGISTRY}/worker:shared already names {taken}, not {worker_v1}" in ran.stderr
    # web sorts before worker and had no conflict: still untagged, nothing registered or updated
    assert ecr_tag_digest(rolling.aws, "shared") is None
    assert ecr_tag_digest(rolling.aws, "shared", "worker") == taken
    assert rolling.revisions("api") == [before]
    assert rolling.describe("apps", "api")["taskDefinition"] == before
    assert records(journal) == []


def test_images_outside_ecr_are_skipped_with_a_notice(
    rolling: Stack, cli: Cli, journal: Path
) -> None:
    rolling.service("apps", "api")
    digest = rolling.push("v2")
    two_container_spec(rolling, "sidecar", BUSYBOX)
    ran = cli("-o", "json", "deploy", "--tag-as", "release-9")
    assert ran.code == 0, ran.stderr
    plan = ran.events("plan")[0]["tagAs"]
    assert plan["skipped"] == ["sidecar"]
    assert any("not in a private ECR registry: not tagged" in n for n in plan["notices"])
    assert [t["container"] for t in ran.events("tagged")] == ["web"]
    assert ecr_tag_digest(rolling.aws, "release-9") == digest


def test_git_sha_tags_head_and_notes_a_dirty_tree(rolling: Stack, cli: Cli, journal: Path) -> None:
    rolling.service("apps", "api")
    digest = rolling.push("v2")
    spec = rolling.spec("apps", "api")
    git(rolling.folder, "init", "-q")
    git(rolling.folder, "add", spec.name, "taskdef.json.j2")
    git(rolling.folder, "commit", "-q", "-m", "spec")
    sha = git(rolling.folder, "rev-parse", "HEAD")
    spec.write_text(spec.read_text() + "# edited, not committed\n", encoding="utf-8")
    ran = cli("-o", "json", "deploy", "--tag-as", "git-sha")
    assert ran.code == 0, ran.stderr
    plan = ran.events("plan")[0]["tagAs"]
    assert (plan["tag"], plan["source"]) == (sha, "git-sha")
    assert len(sha) == 40
    assert any("uncommitted changes" in n and sha[:12] in n for n in plan["notices"])
    assert ecr_tag_digest(rolling.aws, sha) == digest


def test_git_sha_outside_a_checkout_is_exit_2(rolling: Stack, cli: Cli, journal: Path) -> None:
    rolling.service("apps", "api")
    rolling.push("v2")
    rolling.spec("apps", "api")
    before = rolling.revisions("api")
    ran = cli("deploy", "--tag-as", "git-sha")
    assert ran.code == 2, ran.stderr
    assert "--tag-as: " in ran.stderr
    assert "not in a git checkout" in ran.stderr
    assert rolling.revisions("api") == before
    assert records(journal) == []


def test_a_malformed_tag_is_exit_2(rolling: Stack, cli: Cli, journal: Path) -> None:
    rolling.service("apps", "api")
    rolling.push("v2")
    rolling.spec("apps", "api")
    ran = cli("deploy", "--tag-as", "no/slashes")
    assert ran.code == 2, ran.stderr
    assert "--tag-as" in ran.stderr
    assert records(journal) == []


# --- CodeDeploy path -----------------------------------------------------------------------------
def _push_v2() -> str:
    from tests.verbs.conftest import push_image

    return push_image("v2")


def test_codedeploy_release_tags_before_registering(
    codedeploy_stack: dict[str, Any], cli: Cli, journal: Path
) -> None:
    digest = _push_v2()
    image = f"{REGISTRY}/web:v2"
    spec = str(codedeploy_stack["spec"])
    dry = cli(
        "-o",
        "json",
        "--config",
        spec,
        "deploy",
        "--image",
        f"web={image}",
        "--tag-as",
        "cd-1",
        "--dry-run",
    )
    assert dry.code == 0, dry.stderr
    assert dry.events("plan")[0]["tagAs"]["images"][0]["digest"] == digest
    from bluegreen.aws.session import Aws

    aws = Aws(region="us-east-1")
    assert ecr_tag_digest(aws, "cd-1") is None
    ran = cli(
        "-o", "json", "--config", spec, "deploy", "--image", f"web={image}", "--tag-as", "cd-1"
    )
    assert ran.code == 0, ran.stderr
    assert ecr_tag_digest(aws, "cd-1") == digest
    assert [t["status"] for t in ran.events("tagged")] == ["tagged"]
    steps = actions(journal)
    assert steps.index(("intent", "TagImage")) < steps.index(("intent", "RegisterTaskDefinition"))
    assert ran.result["status"] == "Succeeded"
    again = cli(
        "-o", "json", "--config", spec, "deploy", "--image", f"web={image}", "--tag-as", "cd-1"
    )
    assert again.code == 0, again.stderr
    assert [t["status"] for t in again.events("tagged")] == ["unchanged"]


def test_several_specs_check_every_tag_before_any_release_writes(
    rolling: Stack, cli: Cli, journal: Path
) -> None:
    rolling.service("apps", "api")
    rolling.service("apps", "jobs")
    rolling.push("v2")
    rolling.push("v1", repository="worker")
    taken = rolling.push("rel", repository="worker")  # `rel` names another worker image
    first = rolling.spec("apps", "api", name="api.yaml")
    second = rolling.spec("apps", "jobs", name="jobs.yaml")
    second.write_text(
        second.read_text().replace(f"{REGISTRY}/web:v2", f"{REGISTRY}/worker:v1"),
        encoding="utf-8",
    )
    before = {s: rolling.describe("apps", s)["taskDefinition"] for s in ("api", "jobs")}
    ran = cli("deploy", "--config", str(first), "--config", str(second), "--tag-as", "rel")
    assert ran.code == 2, ran.stderr
    assert "already names" in ran.stderr
    assert ecr_tag_digest(rolling.aws, "rel") is None  # the first spec's image: not tagged
    assert ecr_tag_digest(rolling.aws, "rel", "worker") == taken
    assert {s: rolling.describe("apps", s)["taskDefinition"] for s in ("api", "jobs")} == before
    assert records(journal) == []
