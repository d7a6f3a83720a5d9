"""Spec files from hypothesis: valid specs with random keys, values, types and nesting put in,
taken out or replaced, and raw random text read as YAML. `render --offline` and
`validate --offline` must end in exit 0, or exit 2 with a message; never a traceback. Raw text
is also tried as a --vars-file."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.project import Project

VERBS = st.sampled_from(["render", "validate"])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            "5m",
            "1h30m",
            "-1s",
            "canary:10%/5m",
            "linear:0%/0m",
            "canary:101%/1m",
            "all-at-once",
            "{{ vars.log_level }}",
            "{{ nope }}",
            "{% if %}",
            "web",
            "taskdef.json.j2",
            "../../etc/passwd",
            "/dev/null",
            "bluegreen.yaml",
            "GreaterThanThreshold",
            "green",
            "mon",
            "09:00-16:00",
            "2026-12-20",
            "Europe/Berlin",
            "Mars/Olympus",
        ]
    )
)
keys = st.text(max_size=12) | st.sampled_from(
    [
        "version",
        "region",
        "cluster",
        "service",
        "task_definition",
        "appspec",
        "images",
        "pin_digests",
        "load_balancer",
        "container_name",
        "container_port",
        "codedeploy",
        "application",
        "deployment_group",
        "deployment_config",
        "hooks",
        "rollback",
        "on_failure",
        "alarms",
        "metrics",
        "name",
        "metric",
        "threshold",
        "comparison",
        "verify",
        "command",
        "timeout",
        "vars",
        "windows",
        "allow",
        "freeze",
        "days",
        "hours",
        "environments",
        "staging",
        "web",
    ]
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)

# SPEC (tests/fixtures/project.py) as data, plus an environment; written out as JSON, which is YAML.
BASE: dict[str, Any] = {
    "version": 1,
    "region": "us-east-1",
    "cluster": "web-cluster",
    "service": "web",
    "task_definition": "taskdef.json.j2",
    "images": {"web": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.0.0"},
    "load_balancer": {"container_name": "web", "container_port": 8080},
    "codedeploy": {"deployment_config": "canary:10%/5m"},
    "vars": {"log_level": "info"},
    "environments": {"staging": {"cluster": "staging", "vars": {"log_level": "debug"}}},
}
# Known places in a spec, as key paths, so that random values land where they matter.
PATHS = [
    ("version",),
    ("region",),
    ("cluster",),
    ("service",),
    ("task_definition",),
    ("appspec",),
    ("images",),
    ("images", "web"),
    ("images", "sidecar"),
    ("pin_digests",),
    ("load_balancer",),
    ("load_balancer", "container_name"),
    ("load_balancer", "container_port"),
    ("codedeploy",),
    ("codedeploy", "deployment_config"),
    ("codedeploy", "application"),
    ("codedeploy", "hooks"),
    ("codedeploy", "hooks", "AfterAllowTestTraffic"),
    ("rollback",),
    ("rollback", "alarms"),
    ("rollback", "metrics"),
    ("rollback", "on_failure"),
    ("verify",),
    ("verify", "command"),
    ("verify", "timeout"),
    ("timeout",),
    ("vars",),
    ("vars", "log_level"),
    ("windows",),
    ("windows", "allow"),
    ("windows", "freeze"),
    ("windows", "timezone"),
    ("environments",),
    ("environments", "staging"),
    ("environments", "staging", "vars"),
    ("environments", "staging", "cluster"),
]


def put(spec: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    node: Any = spec
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def delete(spec: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = spec
    for key in path[:-1]:
        node = node.get(key)
        if not isinstance(node, dict):
            return
    node.pop(path[-1], None)


edits = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from(PATHS), values),
        st.tuples(st.just("delete"), st.sampled_from(PATHS), st.none()),
        st.tuples(st.just("extra"), st.tuples(keys), values),
    ),
    min_size=1,
    max_size=4,
)


def test_the_unchanged_spec_renders(project: Project) -> None:
    """The control: the specs below are this one with edits, so it must render as it is."""
    project.write(json.dumps(BASE, indent=2))
    for verb in ("render", "validate"):
        ran = project.run(verb, "--offline")
        assert ran.code == 0, ran.stderr
    ran = project.run("--env", "staging", "-o", "json", "render", "--offline")
    assert ran.code == 0, ran.stderr
    assert '"LOG_LEVEL"' in ran.stdout


@settings(settings.get_profile("bluegreen-fuzz"))
@given(
    changes=edits,
    verb=VERBS,
    env=st.sampled_from([None, None, None, "staging", "prod"]),
    var=st.none() | st.text(max_size=20) | st.builds("{}={}".format, keys, st.text(max_size=20)),
)
def test_structured_specs(
    project: Project,
    changes: list[tuple[str, tuple[str, ...], object]],
    verb: str,
    env: str | None,
    var: str | None,
) -> None:
    spec = copy.deepcopy(BASE)
    for action, path, value in changes:
        if action == "delete":
            delete(spec, path)
        else:
            put(spec, path, value)
    project.write(json.dumps(spec, indent=2, ensure_ascii=False))
    args = [] if env is None else ["--env", env]
    args += [verb, "--offline"]
    if var is not None:
        args += ["--var", var]
    project.run(*args).check()


# Raw text: random characters, and random lines of YAML-near material.
yaml_bits = st.sampled_from(
    [
        "version: 1",
        "cluster: web-cluster",
        "service: web",
        "task_definition: taskdef.json.j2",
        "images:",
        "  web: nginx:1.27",
        "vars: {a: 1",
        "- item",
        "  - nested",
        "key: [1, 2",
        "&anchor value",
        "*anchor",
        "<<: *anchor",
        "!!python/object/apply:os.system ['true']",
        "!!binary aGVsbG8=",
        "? complex key",
        ": value",
        "---",
        "...",
        "%YAML 1.2",
        "'unterminated",
        '"\\x00"',
        "\t tab: indent",
        "version: 1\nversion: 2",
        "1e999: inf",
        "environments: {staging: {vars: [1]}}",
        "timeout: 99999999999999999999999h",
    ]
)
raw_yaml = st.one_of(
    st.text(max_size=200),
    st.lists(yaml_bits | st.text(max_size=20), max_size=12).map("\n".join),
    st.binary(max_size=120).map(lambda b: b.decode("latin-1")),
)


@settings(settings.get_profile("bluegreen-fuzz"))
@given(text=raw_yaml, verb=VERBS, as_vars_file=st.booleans())
def test_raw_text_as_spec_or_vars_file(
    project: Project, text: str, verb: str, as_vars_file: bool
) -> None:
    if not as_vars_file:
        project.write(spec=text)
        project.run(verb, "--offline").check()
        return
    project.write(spec=json.dumps(BASE))
    vars_file = project.root / "vars.yaml"
    vars_file.write_text(text, encoding="utf-8", errors="surrogatepass")
    project.run(verb, "--offline", "--vars-file", str(vars_file)).check()
