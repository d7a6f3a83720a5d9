"""`deploy --tag-as TAG`: add TAG to the exact image (the resolved digest) of every ECR image of
a release, shared by the CodeDeploy and the rolling path.

`plan_tags` runs while planning (reads only): it resolves `git-sha`, parses the tag, pins each
ECR image to its digest and checks every image's TAG before anything is written, so a tag that
already names another image fails the release with exit 2 and no write at all. `apply_tags`
runs first among the release's writes (before the task definition is registered) and journals
each PutImage like the other writes. Images outside a private ECR registry are skipped with a
notice.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen import journal as J
from bluegreen.errors import BluegreenError, ImageError, UsageError

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.spec.images import ImageRef

GIT_SHA = "git-sha"
WHERE = "--tag-as"


@dataclass(frozen=True)
class TagItem:
    container: str
    image: str  # registry/repository@digest: the exact image that gets the tag
    repository: str
    digest: str
    present: bool  # the tag already names this digest: nothing to write


@dataclass(frozen=True)
class TagPlan:
    tag: str
    source: str  # "given" | "git-sha"
    items: tuple[TagItem, ...]
    skipped: tuple[str, ...] = ()  # containers whose image is not in a private ECR registry
    notices: tuple[str, ...] = ()

    def json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "source": self.source,
            "images": [
                {
                    "container": i.container,
                    "image": i.image,
                    "digest": i.digest,
                    "alreadyTagged": i.present,
                }
                for i in self.items
            ],
            "skipped": list(self.skipped),
            "notices": list(self.notices),
        }

    def lines(self) -> list[str]:
        out = []
        for i in self.items:
            state = " (already tagged)" if i.present else ""
            out.append(f"  tag {i.image} as {self.tag}{state}")
        out += [f"  note: {n}" for n in self.notices]
        return out


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(
            f"--tag-as git-sha needs git, which could not run ({exc})", where=WHERE
        ) from None


def git_head(folder: Path) -> tuple[str, bool]:
    """(full SHA of HEAD, whether tracked files have uncommitted changes) of the checkout
    holding `folder`; UsageError (exit 2) outside a checkout or before the first commit."""
    head = _git(folder, "rev-parse", "--verify", "HEAD")
    sha = head.stdout.strip()
    if head.returncode != 0 or not sha:
        raise UsageError(
            f"--tag-as git-sha: {folder} is not in a git checkout with a commit",
            where=WHERE,
            hint="run from the checkout of the build, or give the tag literally",
        )
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return sha, status.returncode == 0 and bool(status.stdout.strip())


def resolve_tag(value: str, folder: Path) -> tuple[str, str, list[str]]:
    """(tag, source, notices) for the --tag-as value: a literal tag, or `git-sha`."""
    notices: list[str] = []
    if value == GIT_SHA:
        sha, dirty = git_head(folder)
        if dirty:
            notices.append(
                f"the working tree of {folder} has uncommitted changes; the tag names HEAD "
                f"({sha[:12]}), not those changes"
            )
        return sha, GIT_SHA, notices
    return value, "given", notices


def plan_tags(
    aws: Aws, images: Mapping[str, str], value: str | None, folder: Path
) -> TagPlan | None:
    """Check TAG against every ECR image of the release (reads only); None without --tag-as."""
    if value is None:
        return None
    from bluegreen.spec.images import parse_image

    if not value.strip():
        raise UsageError("--tag-as needs a tag (or git-sha)", where=WHERE)
    tag, source, notices = resolve_tag(value.strip(), folder)
    ecr_images: dict[str, ImageRef] = {}
    skipped: list[str] = []
    for container, text in sorted(images.items()):
        ref = parse_image(text, where=f"image {container}")
        if ref.is_ecr:
            ecr_images[container] = ref
            continue
        skipped.append(container)
        notices.append(f"image {container} ({ref}) is not in a private ECR registry: not tagged")
    items = check_tags(
        aws,
        ecr_images,
        tag,
        where=WHERE,
        hint="choose another tag, or move it first with `bluegreen tag --force`",
    )
    return TagPlan(tag, source, items, tuple(skipped), tuple(notices))


def check_tags(
    aws: Aws,
    images: Mapping[str, ImageRef],
    tag: str,
    *,
    where: str,
    hint: str,
    force: bool = False,
) -> tuple[TagItem, ...]:
    """Each ECR image pinned to its digest, with whether `tag` already names it (reads only).
    Every problem of every image (the tag's grammar, an image not found, the tag naming
    another image unless `force`) is raised together, so that no image gets the tag while
    another cannot."""
    from bluegreen.aws import ecr
    from bluegreen.errors import flatten, raise_problems
    from bluegreen.spec.images import parse_image

    resolver = ecr.EcrResolver(aws)
    items: list[TagItem] = []
    problems: list[BluegreenError] = []
    conflicts: list[str] = []
    for container, ref in images.items():
        try:
            parse_image(f"{ref.name}:{tag}", where=where)  # the tag's grammar (exit 2)
            pinned = resolver.resolve(ref, f"image {container}")
        except UsageError as exc:
            problems += flatten(exc)
            continue
        assert pinned.digest is not None
        current = ecr.tag_digest(aws, pinned, tag)
        if current is not None and current != pinned.digest and not force:
            conflicts.append(
                f"{ref.name}:{tag} already names {current}, not {pinned.digest} (image {container})"
            )
        items.append(
            TagItem(
                container=container,
                image=f"{ref.name}@{pinned.digest}",
                repository=ref.repository,
                digest=pinned.digest,
                present=current == pinned.digest,
            )
        )
    if conflicts:
        problems.append(
            ImageError(
                f"tag {tag!r} already names another image: " + "; ".join(conflicts),
                where=where,
                hint=hint,
            )
        )
    raise_problems(problems, subject=f"tag {tag!r}")
    return tuple(items)


Emit = Callable[[dict[str, Any], str], None]


def apply_tags(aws: Aws, plan: TagPlan, journal: J.Journal, emit: Emit) -> None:
    """PutImage of each image's manifest under the tag, journalled before and after."""
    from bluegreen.aws.ecr import retag
    from bluegreen.spec.images import parse_image

    for item in plan.items:
        record = {"repository": item.repository, "digest": item.digest, "tag": plan.tag}
        journal.append(J.INTENT, action="TagImage", **record)
        done = retag(aws, parse_image(item.image, where=f"image {item.container}"), plan.tag)
        journal.append(J.DONE, action="TagImage", status=done.status, **record)
        word = "tagged" if done.status == "tagged" else "already tagged"
        emit(
            {
                "event": "tagged",
                "container": item.container,
                "image": item.image,
                "tag": plan.tag,
                "status": done.status,
            },
            f"{word} {item.image} as {plan.tag}",
        )
