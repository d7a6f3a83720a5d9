"""Image references from hypothesis, given as `--image web=REF` and written into the spec's
`images`: random strings, and strings built from the reference grammar (domain, port, path
components, tag, digest) with its pieces bent out of shape. Every input ends in exit 0, or
exit 2 with a message; never a traceback."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.project import SPEC, Project

LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
domain = st.sampled_from(
    [
        "",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/",
        "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com.cn/",
        "12345.dkr.ecr.us-east-1.amazonaws.com/",
        "public.ecr.aws/",
        "localhost/",
        "localhost:5000/",
        "[::1]:5000/",
        "[zz]/",
        "registry.example.com:99999999999/",
        "-bad-.example.com/",
        "docker.io/",
        "ghcr.io/",
        "a..b/",
        ":5000/",
    ]
)
component = st.text(alphabet=LOWER + "._-", min_size=0, max_size=12) | st.sampled_from(
    ["web", "library/nginx", "a__b", "a---b", "A", "UPPER", "..", "-", "_x", "x_", "é"]
)
path = st.lists(component, min_size=1, max_size=4).map("/".join)
tag = st.none() | st.text(max_size=140) | st.sampled_from(["latest", "1.0", ".x", "-x", "_x"])
hexes = st.text(alphabet="0123456789abcdefABCDEFg", min_size=0, max_size=130)
digest = st.none() | st.builds(
    "{}:{}".format, st.sampled_from(["sha256", "sha512", "sha384", "md5", "SHA256", ""]), hexes
)


def join(d: str, p: str, t: str | None, g: str | None) -> str:
    ref = d + p
    if t is not None:
        ref += ":" + t
    if g is not None:
        ref += "@" + g
    return ref


grammar_near = st.builds(join, domain, path, tag, digest)
references = st.one_of(grammar_near, st.text(max_size=80), st.binary(max_size=60).map(bytes.hex))


@settings(settings.get_profile("bluegreen-fuzz"))
@given(
    ref=references, verb=st.sampled_from(["render", "validate"]), on_the_command_line=st.booleans()
)
def test_image_references(project: Project, ref: str, verb: str, on_the_command_line: bool) -> None:
    if on_the_command_line:
        project.write()
        ran = project.run(verb, "--offline", "--image", f"web={ref}")
    else:
        spec = SPEC.replace(
            "web: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.0.0",
            "web: " + json.dumps(ref),  # a JSON string is a YAML double-quoted scalar
        )
        project.write(spec=spec)
        ran = project.run(verb, "--offline")
    ran.check()
    if ran.code == 0 and verb == "render":
        assert "web" in ran.stdout
