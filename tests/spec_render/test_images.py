"""The image reference grammar."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bluegreen.errors import ImageError
from bluegreen.spec.images import ImageRef, parse_image

SHA = "sha256:" + "0123456789abcdef" * 4
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("ref", "registry", "repository", "tag", "digest", "canonical"),
    [
        ("nginx", None, "library/nginx", None, None, "docker.io/library/nginx"),
        ("nginx:1.25", None, "library/nginx", "1.25", None, "docker.io/library/nginx:1.25"),
        ("docker.io/nginx", None, "library/nginx", None, None, "docker.io/library/nginx"),
        ("index.docker.io/a/b:c", None, "a/b", "c", None, "docker.io/a/b:c"),
        ("user/app:v1", None, "user/app", "v1", None, "docker.io/user/app:v1"),
        ("localhost/app", "localhost", "app", None, None, "localhost/app"),
        ("localhost:5000/a/b:t", "localhost:5000", "a/b", "t", None, "localhost:5000/a/b:t"),
        ("ghcr.io/org/app@" + SHA, "ghcr.io", "org/app", None, SHA, "ghcr.io/org/app@" + SHA),
        ("ghcr.io/o/a:1@" + SHA, "ghcr.io", "o/a", "1", SHA, "ghcr.io/o/a:1@" + SHA),
        (
            f"{ECR}/team/web:Abc_1.2-x",
            ECR,
            "team/web",
            "Abc_1.2-x",
            None,
            f"{ECR}/team/web:Abc_1.2-x",
        ),
        ("a__c-d--e/f.g", None, "a__c-d--e/f.g", None, None, "docker.io/a__c-d--e/f.g"),
        ("[::1]:5000/x", "[::1]:5000", "x", None, None, "[::1]:5000/x"),
        (
            "Registry.Example.com/x",
            "Registry.Example.com",
            "x",
            None,
            None,
            "Registry.Example.com/x",
        ),
    ],
)
def test_valid_references(
    ref: str,
    registry: str | None,
    repository: str,
    tag: str | None,
    digest: str | None,
    canonical: str,
) -> None:
    parsed = parse_image(ref)
    assert parsed == ImageRef(registry, repository, tag, digest)
    assert str(parsed) == canonical
    assert parse_image(str(parsed)) == parsed  # canonical form is a fixed point


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("", "it is empty"),
        (" nginx", "whitespace"),
        ("ngi nx", "whitespace"),
        ("Nginx", "uppercase"),
        ("MyOrg/app", "uppercase"),
        ("ghcr.io/Org/app", "uppercase"),
        ("a//b", "empty path component"),
        ("app/", "empty path component"),
        (":tag", "repository name is missing"),
        ("app:-x", "tag '-x' is invalid"),
        ("app:" + "t" * 129, "is invalid"),
        ("app:a:b", "is invalid"),
        ("app@sha256:abc", "not of the form algorithm:hex"),
        ("app@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("app@sha256:" + "A" * 64, "64 lowercase hex digits"),
        ("app@sha256:" + "a" * 63 + "g", "lowercase hex"),
        ("app@" + SHA + "@" + SHA, "more than one '@'"),
        ("-app", "path component '-app' is invalid"),
        ("ex_ample.com:port/app", "is not a valid host[:port]"),
        ("a/" + "b" * 260, "longer than 255"),
    ],
)
def test_invalid_references_name_the_reference_and_the_problem(ref: str, problem: str) -> None:
    with pytest.raises(ImageError) as info:
        parse_image(ref, where="bluegreen.yaml:9: images.web")
    assert info.value.where == "bluegreen.yaml:9: images.web"
    assert f"invalid image reference {ref!r}" in info.value.message
    assert problem in info.value.message
    assert info.value.exit_code == 2


def test_ecr_properties() -> None:
    ref = parse_image(f"{ECR}/web:1")
    assert (ref.is_ecr, ref.ecr_account, ref.ecr_region) == (True, "123456789012", "eu-west-1")
    assert parse_image("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/w").is_ecr
    assert parse_image("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/w").ecr_region == (
        "cn-north-1"
    )
    for other in ("public.ecr.aws/x/y:1", "nginx", "12345.dkr.ecr.us-east-1.amazonaws.com/w"):
        assert not parse_image(other).is_ecr


def test_with_digest_keeps_the_tag_and_checks_the_digest() -> None:
    ref = parse_image(f"{ECR}/web:1").with_digest(SHA)
    assert str(ref) == f"{ECR}/web:1@{SHA}"
    with pytest.raises(ImageError):
        ref.with_digest("sha256:short")


# --- properties ---------------------------------------------------------------------------------
component = st.from_regex(r"[a-z0-9]{1,4}(?:(?:\.|_|__|-{1,2})[a-z0-9]{1,4}){0,2}", fullmatch=True)
host = st.from_regex(r"[a-z0-9]{1,6}(?:\.[a-z0-9]{1,6}){1,2}", fullmatch=True)
tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
digest = st.from_regex(r"[0-9a-f]{64}", fullmatch=True).map(lambda h: f"sha256:{h}")


@settings(max_examples=150, deadline=None)
@given(
    registry=st.one_of(st.none(), host, host.map(lambda h: f"{h}:5000")),
    path=st.lists(component, min_size=1, max_size=3),
    tag_=st.one_of(st.none(), tag),
    digest_=st.one_of(st.none(), digest),
)
def test_references_built_from_the_grammar_parse_back(
    registry: str | None, path: list[str], tag_: str | None, digest_: str | None
) -> None:
    # without a registry, a first component with a "." would name one (Docker's rule)
    assume(registry is not None or len(path) == 1 or "." not in path[0])
    text = "/".join([registry, *path] if registry else path)
    if tag_:
        text += f":{tag_}"
    if digest_:
        text += f"@{digest_}"
    ref = parse_image(text)
    assert (ref.tag, ref.digest) == (tag_, digest_)
    repository = "/".join(path)
    if registry is None:
        if len(path) == 1:
            repository = f"library/{repository}"
        assert (ref.registry, ref.repository) == (None, repository)
    else:
        assert (ref.registry, ref.repository) == (registry, repository)
    assert parse_image(str(ref)) == ref
