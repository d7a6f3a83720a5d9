"""ECR gateway: resolve an image tag to its digest (the ImageResolver of rendering)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bluegreen.aws.errors import aws_errors, is_aws_exception
from bluegreen.errors import ImageError

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.spec.images import ImageRef


class EcrResolver:
    """Tags -> digests with ecr:DescribeImages, in the registry's own account and region."""

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self._by_region: dict[str, Aws] = {}
        self._cache: dict[str, str] = {}

    def _session(self, region: str | None) -> Aws:
        if region is None or region == self.aws.region:
            return self.aws
        if region not in self._by_region:  # same profile and role, the registry's region
            self._by_region[region] = self.aws.with_region(region)
        return self._by_region[region]

    def resolve(self, ref: ImageRef, where: str) -> ImageRef:
        """`ref` pinned to its digest. A reference that names a digest is checked instead: in a
        private ECR registry the image must exist, and a tag given with it must name that very
        image (ECS pulls by the digest; a tag that names another build is a mistake to refuse,
        not to run)."""
        if ref.digest:
            if ref.is_ecr:
                self._check_digest(ref, where)
            return ref
        if not ref.is_ecr:
            raise ImageError(
                f"{ref} is not in a private ECR registry; cannot resolve its tag here",
                where=where or None,
            )
        key = str(ref)
        if key in self._cache:
            return ref.with_digest(self._cache[key])
        tag = ref.tag or "latest"
        account = ref.ecr_account
        client = self._session(ref.ecr_region).ecr()
        resource = f"{ref.registry}/{ref.repository}"
        try:
            with aws_errors(resource=resource):
                resp = client.describe_images(
                    registryId=account or "",
                    repositoryName=ref.repository,
                    imageIds=[{"imageTag": tag}],
                )
        except Exception as exc:
            code = _code(exc)
            if code == "RepositoryNotFoundException":
                raise ImageError(
                    f"ECR repository {ref.repository!r} does not exist in account {account} "
                    f"({ref.ecr_region})",
                    where=where or resource,
                    hint="check the image reference, or create and push to the repository",
                ) from None
            if code == "ImageNotFoundException":
                raise ImageError(
                    f"tag {tag!r} not found in ECR repository {ref.repository!r}",
                    where=where or resource,
                    hint="push the image first, or fix the tag",
                ) from None
            raise
        details = [d for d in resp.get("imageDetails", []) if d.get("imageDigest")]
        if not details:
            raise ImageError(
                f"tag {tag!r} not found in ECR repository {ref.repository!r}",
                where=where or resource,
                hint="push the image first, or fix the tag",
            )
        digest = str(details[0]["imageDigest"])
        self._cache[key] = digest
        return ref.with_digest(digest)

    def _check_digest(self, ref: ImageRef, where: str) -> None:
        """ImageError (exit 2) unless the digest is in the repository and the tag, if any,
        names it."""
        assert ref.digest is not None
        key = str(ref)
        if key in self._cache:
            return
        account = ref.ecr_account or ""
        client = self._session(ref.ecr_region).ecr()
        resource = f"{ref.registry}/{ref.repository}"
        try:
            with aws_errors(resource=resource):
                resp = client.describe_images(
                    registryId=account,
                    repositoryName=ref.repository,
                    imageIds=[{"imageDigest": ref.digest}],
                )
        except Exception as exc:
            code = _code(exc)
            if code == "RepositoryNotFoundException":
                raise ImageError(
                    f"ECR repository {ref.repository!r} does not exist in account {account} "
                    f"({ref.ecr_region})",
                    where=where or resource,
                    hint="check the image reference, or create and push to the repository",
                ) from None
            if code == "ImageNotFoundException":
                raise _digest_not_found(ref, where or resource) from None
            raise
        details = [d for d in resp.get("imageDetails", []) if d.get("imageDigest") == ref.digest]
        if not details:
            raise _digest_not_found(ref, where or resource)
        tags = [str(t) for t in details[0].get("imageTags") or []]
        if ref.tag and ref.tag not in tags:
            named = _tag_digest(client, account, ref.repository, ref.tag, resource)
            what = (
                f"tag {ref.tag!r} names {named}, not {ref.digest}"
                if named
                else f"tag {ref.tag!r} is not in ECR repository {ref.repository!r}"
            )
            raise ImageError(
                f"{what}: the reference names two different images",
                where=where or resource,
                hint=f"use {ref.name}@{ref.digest} alone (the digest is what is released), "
                f"or {ref.name}:{ref.tag} alone to release what the tag names now",
            )
        self._cache[key] = ref.digest


def _digest_not_found(ref: ImageRef, where: str) -> ImageError:
    return ImageError(
        f"digest {ref.digest} not found in ECR repository {ref.repository!r}",
        where=where,
        hint="push the image first, or copy the digest from `aws ecr describe-images "
        f"--repository-name {ref.repository}`",
    )


def _code(exc: BaseException) -> str | None:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if not is_aws_exception(cause):
        return None
    response = getattr(cause, "response", None) or {}
    code = (response.get("Error") or {}).get("Code")
    return str(code) if code else None


# --- re-tagging (`bluegreen tag`, `deploy --tag-as`) -------------------------------------------
_MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
]


@dataclass(frozen=True)
class Retagged:
    repository: str
    digest: str
    tag: str
    status: str  # "tagged" | "unchanged" | "moved"
    previous: str | None = None  # the digest the tag pointed at before a move


def retag(aws: Aws, ref: ImageRef, new_tag: str, *, force: bool = False) -> Retagged:
    """Add `new_tag` to the exact image `ref` names (by tag or digest) in ECR: BatchGetImage for
    its manifest and media type, then PutImage of that manifest under the new tag; no pull or
    push. Idempotent when the tag already names the same digest; when it names another image,
    ImageError (exit 2) unless `force`, which moves it."""
    from bluegreen.spec.images import parse_image

    where = f"{ref.registry}/{ref.repository}"
    if not ref.is_ecr:
        raise ImageError(f"{ref} is not in a private ECR registry", where=str(ref))
    parse_image(f"{ref.name}:{new_tag}", where="--as")  # tag grammar, exit 2
    account = ref.ecr_account or ""
    resolver = EcrResolver(aws)
    client = resolver._session(ref.ecr_region).ecr()
    image_id: dict[str, str] = (
        {"imageDigest": ref.digest} if ref.digest else {"imageTag": ref.tag or "latest"}
    )
    try:
        with aws_errors(resource=where):
            got = client.batch_get_image(
                registryId=account,
                repositoryName=ref.repository,
                imageIds=[image_id],  # type: ignore[list-item]
                acceptedMediaTypes=_MANIFEST_TYPES,
            )
    except Exception as exc:
        if _code(exc) == "RepositoryNotFoundException":
            raise ImageError(
                f"ECR repository {ref.repository!r} does not exist in account {account}",
                where=where,
            ) from None
        raise
    images = got.get("images") or []
    if not images:
        reasons = ", ".join(f.get("failureReason", "") for f in got.get("failures") or [])
        raise ImageError(
            f"{ref} not found in ECR" + (f" ({reasons})" if reasons else ""),
            where=str(ref),
            hint="push the image first, or fix the tag or digest",
        )
    image = images[0]
    digest = str(image["imageId"]["imageDigest"])
    manifest = str(image["imageManifest"])
    media_type = image.get("imageManifestMediaType")
    previous = _tag_digest(client, account, ref.repository, new_tag, where)
    if previous == digest:
        return Retagged(ref.repository, digest, new_tag, "unchanged")
    if previous is not None and not force:
        raise ImageError(
            f"tag {new_tag!r} already names another image ({previous}), not {digest}",
            where=f"{where}:{new_tag}",
            hint="pass --force to move the tag, or choose another tag",
        )
    kwargs: dict[str, Any] = {
        "registryId": account,
        "repositoryName": ref.repository,
        "imageManifest": manifest,
        "imageTag": new_tag,
        "imageDigest": digest,
    }
    if media_type:
        kwargs["imageManifestMediaType"] = media_type
    try:
        with aws_errors(resource=f"{where}:{new_tag}"):
            client.put_image(**kwargs)
    except Exception as exc:
        code = _code(exc)
        if code == "ImageAlreadyExistsException":  # tagged meanwhile with this very digest
            return Retagged(ref.repository, digest, new_tag, "unchanged")
        if code == "ImageTagAlreadyExistsException":
            raise ImageError(
                f"tag {new_tag!r} already exists in the immutable repository {ref.repository!r}",
                where=f"{where}:{new_tag}",
                hint="immutable tags cannot move; choose another tag",
            ) from None
        raise
    status = "moved" if previous is not None else "tagged"
    return Retagged(ref.repository, digest, new_tag, status, previous)


def _tag_digest(client: Any, account: str, repository: str, tag: str, where: str) -> str | None:
    try:
        with aws_errors(resource=f"{where}:{tag}"):
            resp = client.describe_images(
                registryId=account, repositoryName=repository, imageIds=[{"imageTag": tag}]
            )
    except Exception as exc:
        if _code(exc) == "ImageNotFoundException":
            return None
        raise
    for detail in resp.get("imageDetails") or []:
        if detail.get("imageDigest"):
            return str(detail["imageDigest"])
    return None


def tag_digest(aws: Aws, ref: ImageRef, tag: str) -> str | None:
    """The digest `tag` names in `ref`'s ECR repository, or None when the tag is not there."""
    resolver = EcrResolver(aws)
    client = resolver._session(ref.ecr_region).ecr()
    where = f"{ref.registry}/{ref.repository}"
    return _tag_digest(client, ref.ecr_account or "", ref.repository, tag, where)
