"""Image references, parsed by the Docker distribution reference grammar.

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] path-component ( "/" path-component )*
    domain     := host [ ":" port ]      (a first component is a domain when it contains
                                          "." or ":" or is "localhost")
    path-comp  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest     := algorithm ":" hex      (sha256: 64 hex digits, sha512: 128)

References without a domain are Docker Hub ones: `nginx` is `docker.io/library/nginx`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bluegreen.errors import ImageError

DOCKER_HUB = "docker.io"
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
)
_SPACE = re.compile(r"\s")  # what str.isspace() calls white space
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")
_ECR_HOST = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
)
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
MAX_NAME = 255


@dataclass(frozen=True)
class ImageRef:
    registry: str | None  # None: Docker Hub
    repository: str  # e.g. "library/nginx", "web", "team/web"
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        name = f"{self.registry or DOCKER_HUB}/{self.repository}"
        if self.tag:
            name += f":{self.tag}"
        if self.digest:
            name += f"@{self.digest}"
        return name

    @property
    def is_ecr(self) -> bool:
        """A private Amazon ECR registry (<account>.dkr.ecr.<region>.amazonaws.com)."""
        return bool(self.registry and _ECR_HOST.fullmatch(self.registry))

    @property
    def ecr_account(self) -> str | None:
        m = _ECR_HOST.fullmatch(self.registry or "")
        return m.group("account") if m else None

    @property
    def ecr_region(self) -> str | None:
        m = _ECR_HOST.fullmatch(self.registry or "")
        return m.group("region") if m else None

    @property
    def name(self) -> str:
        """The reference without tag or digest."""
        return f"{self.registry or DOCKER_HUB}/{self.repository}"

    def with_digest(self, digest: str) -> ImageRef:
        _check_digest(digest, str(self), "")
        return replace(self, digest=digest)


def _fail(ref: str, what: str, where: str, hint: str | None = None) -> ImageError:
    return ImageError(
        f"invalid image reference {ref!r}: {what}",
        where=where or None,
        hint=hint
        or "write [registry[:port]/]repository[:tag][@sha256:<64 hex>], "
        "e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
    )


def _check_digest(digest: str, ref: str, where: str) -> None:
    if not _DIGEST.fullmatch(digest):
        raise _fail(ref, f"digest {digest!r} is not of the form algorithm:hex", where)
    algo, _, hexpart = digest.partition(":")
    want = _DIGEST_LENGTHS.get(algo)
    if want is None:
        raise _fail(ref, f"unsupported digest algorithm {algo!r} (sha256, sha384, sha512)", where)
    if len(hexpart) != want or not re.fullmatch(r"[a-f0-9]+", hexpart):
        raise _fail(ref, f"a {algo} digest has {want} lowercase hex digits", where)


def parse_image(ref: str, where: str = "") -> ImageRef:
    """Parse an image reference; ImageError (exit 2) naming the reference and the problem."""
    if not isinstance(ref, str) or not ref.strip():
        raise _fail(str(ref), "it is empty", where)
    if _SPACE.search(ref):
        raise _fail(ref, "it contains whitespace", where)
    rest = ref
    digest: str | None = None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if "@" in digest:
            raise _fail(ref, "more than one '@'", where)
        _check_digest(digest, ref, where)
    tag: str | None = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise _fail(
                ref,
                f"tag {tag!r} is invalid (letters, digits, '_', '.', '-'; at most 128; "
                "not starting with '.' or '-')",
                where,
            )
    if not rest:
        raise _fail(ref, "the repository name is missing", where)
    parts = rest.split("/")
    registry: str | None = None
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost"):
        registry = first
        parts = parts[1:]
        if not _DOMAIN.fullmatch(registry):
            raise _fail(ref, f"registry {registry!r} is not a valid host[:port]", where)
    for comp in parts:
        if not comp:
            raise _fail(ref, "an empty path component ('//' or a trailing '/')", where)
        if not _PATH_COMPONENT.fullmatch(comp):
            if _PATH_COMPONENT.fullmatch(comp.lower()):
                raise _fail(
                    ref,
                    f"repository {'/'.join(parts)!r} has uppercase letters",
                    where,
                    hint="repository names are lowercase; only tags may contain capitals",
                )
            raise _fail(
                ref,
                f"path component {comp!r} is invalid (lowercase letters and digits, "
                "separated by '.', '_', '__' or '-')",
                where,
            )
    repository = "/".join(parts)
    if registry in (None, DOCKER_HUB, "index.docker.io", "registry-1.docker.io"):
        registry = None
        if "/" not in repository:
            repository = f"library/{repository}"
    if len(f"{registry or DOCKER_HUB}/{repository}") > MAX_NAME:
        raise _fail(ref, f"the name is longer than {MAX_NAME} characters", where)
    return ImageRef(registry=registry, repository=repository, tag=tag, digest=digest)


def mutable_tag_notice(ref: ImageRef, container: str) -> str:
    """Why a tag that is not pinned to a digest is a risk, for a registry we cannot resolve."""
    return (
        f"image for container {container!r} ({ref}) uses the mutable tag {ref.tag or 'latest'!r}"
        " and is not pinned to a digest: with the ECS agent's default "
        "ECS_IMAGE_PULL_BEHAVIOR=default each new task pulls whatever the tag points to then "
        "(cached/once reuse whatever image the instance already has), so tasks of one revision "
        "may run different builds; pin it with @sha256:..., or set pin_digests: false to accept"
    )
