"""ECR gateway: resolve an image tag to its digest (the ImageResolver of rendering)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bluegreen.aws.errors import aws_errors, is_aws_exception
from bluegreen.errors import ImageError

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.release.images import ImageRef


class EcrResolver:
    """Tags -> digests with ecr:DescribeImages, in the registry's own account and region."""

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self._by_region: dict[str, Aws] = {}
        self._cache: dict[str, str] = {}

    def _session(self, region: str | None) -> Aws:
        if region is None or region == self.aws.region:
            return self.aws
        if region not in self._by_region:
            from bluegreen.aws.session import Aws

            self._by_region[region] = Aws(profile=self.aws.profile, region=region)
        return self._by_region[region]

    def resolve(self, ref: ImageRef, where: str) -> ImageRef:
        if ref.digest:
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


def _code(exc: BaseException) -> str | None:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if not is_aws_exception(cause):
        return None
    response = getattr(cause, "response", None) or {}
    code = (response.get("Error") or {}).get("Code")
    return str(code) if code else None
