"""The bad-input corpus: every case exits 2, names the culprit (file:line, JSON path, flag or
reference) and writes nothing to AWS (checked against the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bluegreen.cli.app import run
from tests.fixtures.world import REGISTRY, World

TD = "taskdef.json.j2"
SPEC = "bluegreen.yaml"
APPSPEC = "appspec.yaml.j2"


@dataclass(frozen=True)
class Case:
    id: str
    expect: list[str]  # substrings of stderr, the culprit first
    edits: list[tuple[str, str, str]] = field(default_factory=list)  # (file, old, new)
    files: dict[str, str] = field(default_factory=dict)  # file -> whole new content
    argv: list[str] = field(default_factory=list)
    verb: str = "render"


def spec_edit(old: str, new: str) -> tuple[str, str, str]:
    return (SPEC, old, new)


def td_edit(old: str, new: str) -> tuple[str, str, str]:
    return (TD, old, new)


CASES = [
    # --- the spec file ---------------------------------------------------------------------
    Case(
        "yaml-syntax",
        ["bluegreen.yaml:7", "invalid YAML", "(started on line 6)"],
        edits=[spec_edit("service: web\n", "service: [web\n")],
    ),
    Case(
        "yaml-duplicate-key",
        ["bluegreen.yaml:7", "duplicate key"],
        edits=[spec_edit("service: web\n", "service: web\nservice: api\n")],
    ),
    Case(
        "unknown-top-key",
        ["bluegreen.yaml:8: apspec", "did you mean 'appspec'?"],
        edits=[spec_edit("appspec:", "apspec:")],
    ),
    Case(
        "unknown-nested-key",
        ["bluegreen.yaml:16: codedeploy.deploymnet_config", "did you mean 'deployment_config'?"],
        edits=[spec_edit("deployment_config: canary", "deploymnet_config: canary")],
    ),
    Case(
        "unknown-hook-event",
        [
            "bluegreen.yaml:18: codedeploy.hooks.AfterAllowTestTrafic",
            "did you mean 'AfterAllowTestTraffic'?",
        ],
        edits=[spec_edit("AfterAllowTestTraffic:", "AfterAllowTestTrafic:")],
    ),
    Case(
        "wrong-type-port",
        ["bluegreen.yaml:14: load_balancer.container_port", "expected integer, got string 'http'"],
        edits=[spec_edit("container_port: 8080", "container_port: http")],
    ),
    Case(
        "wrong-type-list",
        ["bluegreen.yaml:21: rollback.alarms", "expected array"],
        edits=[spec_edit("alarms: [web-5xx, web-latency-p99]", "alarms: web-5xx")],
    ),
    Case(
        "missing-required",
        ["bluegreen.yaml:1: (top level)", "missing required key 'task_definition'"],
        edits=[spec_edit("task_definition: taskdef.json.j2\n", "")],
    ),
    Case(
        "wrong-version",
        ["bluegreen.yaml:3: version", "must be 1, got 2"],
        edits=[spec_edit("version: 1", "version: 2")],
    ),
    Case(
        "bad-duration",
        ["bluegreen.yaml:32: verify.timeout", "invalid duration '5 minutes'"],
        edits=[spec_edit("  timeout: 5m", "  timeout: 5 minutes")],
    ),
    Case(
        "bad-deployment-config",
        [
            "bluegreen.yaml:16: codedeploy.deployment_config",
            "'canary:150%/5m' is not valid here",
        ],
        edits=[spec_edit("canary:10%/5m", "canary:150%/5m")],
    ),
    Case(
        "bad-verify-command",
        ["bluegreen.yaml:31: verify.command", "cannot split"],
        edits=[
            spec_edit(
                "command: ./smoke.sh --url $BLUEGREEN_TEST_URL",
                "command: ./smoke.sh --url 'unterminated",
            )
        ],
    ),
    Case(
        "unknown-environment",
        [
            "unknown environment 'prd' (did you mean 'prod'?)",
            "known environments: prod, staging",
            "bluegreen.yaml:43: environments",
        ],
        argv=["--env", "prd"],
    ),
    Case(
        "environment-with-version",
        ["bluegreen.yaml:46: environments.staging.version", "unknown key 'version'"],
        edits=[
            spec_edit("    cluster: web-staging\n", "    cluster: web-staging\n    version: 1\n")
        ],
    ),
    Case(
        "environment-wrong-type",
        ["bluegreen.yaml:49: environments.prod.vars", "expected object, got string"],
        edits=[
            spec_edit('    vars: {desired_cpu: "1024", desired_memory: "2048"}', "    vars: lots")
        ],
        argv=["--env", "prod"],
    ),
    Case("empty-spec", ["bluegreen.yaml", "the spec file is empty"], files={SPEC: "# nothing\n"}),
    Case(
        "spec-not-a-mapping",
        ["bluegreen.yaml", "must be a mapping, got a list"],
        files={SPEC: "- version: 1\n"},
    ),
    Case(
        "missing-spec-file",
        ["nowhere.yaml", "spec file not found"],
        argv=["--config", "nowhere.yaml"],
    ),
    Case(
        "spec-is-a-directory",
        ["templates", "spec file is a directory"],
        argv=["--config", "templates"],
        files={"templates/keep": ""},
    ),
    Case("spec-not-utf8", ["bluegreen.yaml", "not UTF-8"], files={SPEC: "\udcff"}),
    # --- templates ---------------------------------------------------------------------------
    Case(
        "undefined-variable",
        [
            "taskdef.json.j2:17",
            "undefined template variable",
            "'dict object' has no attribute 'log_levl'",
        ],
        edits=[td_edit("vars.log_level", "vars.log_levl")],
    ),
    Case(
        "undefined-top-level-name",
        ["taskdef.json.j2:3", "'network_mode' is undefined"],
        edits=[td_edit('"networkMode": "awsvpc"', '"networkMode": {{ network_mode | tojson }}')],
    ),
    Case(
        "template-syntax",
        ["taskdef.json.j2:5", "template syntax error"],
        edits=[td_edit("{{ vars.desired_cpu | tojson }}", "{{ vars.desired_cpu | tojson }")],
    ),
    Case(
        "template-unknown-filter",
        ["taskdef.json.j2:6", "template syntax error", "No filter named 'to_json'"],
        edits=[
            td_edit("{{ vars.desired_memory | tojson }}", "{{ vars.desired_memory | to_json }}")
        ],
    ),
    Case(
        "template-missing-include",
        ["taskdef.json.j2:2", "included template not found: nope.j2"],
        edits=[td_edit('"family": "web', '"family": "{% include "nope.j2" %}web')],
    ),
    Case(
        "template-sandbox",
        ["taskdef.json.j2:2", "template"],
        edits=[td_edit('"family": "web', '"family": "{{ cycler.__init__.__globals__ }}web')],
    ),
    Case(
        "invalid-json-after-render",
        ["taskdef.json.j2:4", "not valid JSON", "rendered line 4"],
        edits=[
            td_edit(
                '"requiresCompatibilities": ["FARGATE"],',
                '"requiresCompatibilities": ["FARGATE"],,',
            )
        ],
    ),
    Case(
        "value-breaks-json",
        ["taskdef.json.j2:17", "not valid JSON"],
        edits=[td_edit("{{ vars.log_level | tojson }}", "{{ vars.log_level }}")],
    ),
    Case(
        "duplicate-json-key",
        ["taskdef.json.j2:4", "has the key 'networkMode' twice"],
        edits=[
            td_edit(
                '  "requiresCompatibilities"',
                '  "networkMode": "host",\n  "requiresCompatibilities"',
            )
        ],
    ),
    Case(
        "rendered-not-an-object",
        ["taskdef.json.j2", "must be a JSON object, got list"],
        files={TD: "[]\n"},
    ),
    Case(
        "missing-task-definition-template",
        ["nope.json.j2", "template not found"],
        edits=[spec_edit("task_definition: taskdef.json.j2", "task_definition: nope.json.j2")],
    ),
    Case(
        "git-sha-outside-checkout-in-images",
        [
            "bluegreen.yaml:10: images.web",
            "git_sha is used but cannot be computed",
            "not in a usable git checkout",
        ],
        edits=[spec_edit("web:{{ vars.release }}", "web:{{ git_sha }}")],
    ),
    Case(
        "git-branch-outside-checkout-in-template",
        ["taskdef.json.j2:2", "git_branch is used but cannot be computed"],
        edits=[td_edit('"family": "web', '"family": "web-{{ git_branch }}')],
    ),
    # --- task definition schema and semantics ------------------------------------------------
    Case(
        "taskdef-wrong-type",
        [
            "taskdef.json.j2:15: containerDefinitions[0].portMappings[0].containerPort",
            "expected integer, got string '8080'",
        ],
        edits=[td_edit('"containerPort": 8080', '"containerPort": "8080"')],
    ),
    Case(
        "taskdef-unknown-key",
        ["taskdef.json.j2:14: containerDefinitions[0].esential", "did you mean 'essential'?"],
        edits=[td_edit('"essential": true', '"esential": true')],
    ),
    Case(
        "taskdef-bad-enum",
        ["taskdef.json.j2:3: networkMode", "'awsvpn' is not one of"],
        edits=[td_edit('"networkMode": "awsvpc"', '"networkMode": "awsvpn"')],
    ),
    Case(
        "taskdef-describe-output-with-bad-field",
        ["taskdef.json.j2:3: family", "expected string"],
        files={
            TD: '{"taskDefinition": {\n  "revision": 3,\n  "family": 7,\n'
            '  "containerDefinitions": [{"name": "web", "image": "x"}, '
            '{"name": "log-router", "image": "y"}]}}\n'
        },
    ),
    Case(
        "lb-port-not-mapped",
        [
            "taskdef.json.j2:15: containerDefinitions[0].portMappings",
            "load balancer port 9090 is not in the portMappings",
            "(ports: 8080)",
        ],
        edits=[spec_edit("container_port: 8080", "container_port: 9090")],
    ),
    Case(
        "lb-container-missing",
        [
            "bluegreen.yaml:12: load_balancer",
            "load balancer container 'api' is not in the task definition",
        ],
        edits=[spec_edit("container_name: web", "container_name: api")],
    ),
    Case(
        "fargate-memory",
        [
            "taskdef.json.j2:6: memory",
            "Fargate memory from vars.desired_memory (--var desired_memory) (value hidden)",
            "does not fit cpu from vars.desired_cpu (bluegreen.yaml vars)",
        ],
        argv=["--var", "desired_memory=3000"],
    ),
    Case(
        "fargate-cpu",
        [
            "taskdef.json.j2:5: cpu",
            "Fargate cpu from vars.desired_cpu (--var desired_cpu) (value hidden) is not a valid",
        ],
        argv=["--var", "desired_cpu=300"],
    ),
    Case(
        "no-essential-container",
        ["taskdef.json.j2:10: containerDefinitions", "no container is essential"],
        edits=[td_edit('"essential": true', '"essential": false')],
    ),
    # --- AppSpec -----------------------------------------------------------------------------
    Case(
        "appspec-bad-type",
        ["appspec.yaml.j2:4: Resources[0].TargetService.Type", "must be 'AWS::ECS::Service'"],
        edits=[(APPSPEC, "Type: AWS::ECS::Service", "Type: AWS::ECS::TaskSet")],
    ),
    Case(
        "appspec-bad-hook",
        ["appspec.yaml.j2:13: Hooks[0].AfterTraffic", "did you mean 'AfterAllowTraffic'?"],
        edits=[(APPSPEC, "  - {{ event }}:", "  - AfterTraffic:")],
    ),
    Case(
        "appspec-yaml-syntax",
        ["appspec.yaml.j2:9", "not valid YAML"],
        edits=[(APPSPEC, "        LoadBalancerInfo:\n", "        LoadBalancerInfo: [\n")],
    ),
    Case(
        "appspec-no-load-balancer-offline",
        ["bluegreen.yaml: load_balancer", "no live service was read"],
        edits=[spec_edit("load_balancer:\n  container_name: web\n  container_port: 8080\n", "")],
        argv=["--offline"],
        verb="validate",
    ),
    # --- images ------------------------------------------------------------------------------
    Case(
        "image-uppercase",
        ["bluegreen.yaml:10: images.web", "has uppercase letters"],
        edits=[spec_edit("amazonaws.com/web:", "amazonaws.com/Web:")],
    ),
    Case(
        "image-bad-digest",
        ["bluegreen.yaml:11: images.log-router", "64 lowercase hex digits"],
        edits=[spec_edit("@sha256:6f2a", "@sha256:6f2")],
    ),
    Case(
        "image-flag-bad-tag",
        ["--image web", "tag '-x' is invalid"],
        argv=["--image", "web=nginx:-x"],
    ),
    Case("image-flag-malformed", ["--image", "'web' is not NAME=VALUE"], argv=["--image", "web"]),
    Case(
        "image-flag-empty-ref", ["--image web", "has no image reference"], argv=["--image", "web="]
    ),
    Case(
        "image-flag-conflict",
        ["--image web", "given twice with different values"],
        argv=["--image", "web=nginx:1", "--image", "web=nginx:2"],
    ),
    Case(
        "var-flag-malformed",
        ["--var", "an argument (not shown: it may hold a secret) is not NAME=VALUE"],
        argv=["--var", "=x"],
    ),
    Case("var-flag-bad-name", ["--var 1x", "invalid variable name '1x'"], argv=["--var", "1x=2"]),
    Case(
        "unknown-container-in-spec",
        [
            "bluegreen.yaml:10: images.api",
            "no container named 'api'",
            "its containers: web, log-router",
        ],
        edits=[spec_edit("\n  web: 1234", "\n  api: 1234")],
    ),
    Case(
        "unknown-container-flag",
        ["--image api", "no container named 'api'"],
        argv=["--image", "api=nginx:1"],
    ),
    Case(
        "ecr-tag-missing",
        ["bluegreen.yaml:10: images.web", "tag '9.9.9' not found in ECR repository 'web'"],
        argv=["--var", "release=9.9.9"],
    ),
    Case(
        "ecr-repository-missing",
        ["--image web", "ECR repository 'api' does not exist"],
        argv=["--image", f"web={REGISTRY}/api:1.4.2"],
    ),
    Case(
        "ecr-tag-missing-validate",
        ["images.web", "tag '2.0.0' not found"],
        argv=["--var", "release=2.0.0"],
        verb="validate",
    ),
    # --- vars files --------------------------------------------------------------------------
    Case(
        "vars-file-missing",
        ["missing-vars.yaml", "vars file not found"],
        argv=["--vars-file", "missing-vars.yaml"],
    ),
    Case(
        "vars-file-directory",
        ["templates", "vars file is a directory"],
        argv=["--vars-file", "templates"],
        files={"templates/keep": ""},
    ),
    Case(
        "vars-file-not-a-mapping",
        ["list.yaml", "must hold a mapping"],
        argv=["--vars-file", "list.yaml"],
        files={"list.yaml": "- a\n- b\n"},
    ),
    Case(
        "vars-file-bad-yaml",
        ["bad.yaml:3", "invalid YAML"],
        argv=["--vars-file", "bad.yaml"],
        files={"bad.yaml": "a: 1\nb: [\n"},
    ),
    Case("bad-option-value", ["'yaml' is not one of"], argv=["--output", "yaml"]),
]


def apply(folder: Path, case: Case) -> None:
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if "\udcff" in content:
            path.write_bytes(b"version: 1\ncluster: \xff\n")
        else:
            path.write_text(content)
    for name, old, new in case.edits:
        path = folder / name
        text = path.read_text()
        assert old in text, f"{case.id}: {old!r} not in {name}"
        path.write_text(text.replace(old, new, 1))


def test_the_corpus_is_large_and_unique() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_names_the_culprit_and_writes_nothing(
    case: Case, example: Path, shared_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    apply(example, case)
    globals_ = [a for a in case.argv if a in ("--env", "--config", "--output")]
    argv = list(case.argv)
    front: list[str] = []
    for flag in globals_:
        i = argv.index(flag)
        front += argv[i : i + 2]
        del argv[i : i + 2]
    code = run([*front, case.verb, *argv])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    for needle in case.expect:
        assert needle in err, f"{needle!r} not in:\n{err}"
    shared_world.assert_no_writes()


# --- YAML alias bombs and symlink loops: exit 2 quickly, naming the file --------------------------
def alias_bomb(levels: int = 9) -> str:
    """'Billion laughs': each level a list of nine aliases of the one before (9**9 strings)."""
    rows = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        rows.append(f"lol{n}: &lol{n} [" + ", ".join([f"*lol{n - 1}"] * 9) + "]")
    return "\n".join(rows) + "\n"


BOMB_LINE = 6  # lol5 (9**5 = 59049 strings, 66430 nodes) is the first level past the bound


def _indented(text: str) -> str:
    return "".join(f"  {row}\n" for row in text.splitlines())


@pytest.mark.timeout(10)
@pytest.mark.parametrize("where", ["spec", "vars-file", "yaml-template"])
def test_a_yaml_alias_bomb_is_exit_2_quickly_naming_the_file_and_line(
    where: str, example: Path, shared_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    argv = ["render"]
    if where == "spec":
        text = (example / SPEC).read_text()
        (example / SPEC).write_text(text + "x-anchors:\n" + _indented(alias_bomb()))
        culprit = f"{SPEC}:{len(text.splitlines()) + 1 + BOMB_LINE}"
    elif where == "vars-file":
        (example / "bomb.yaml").write_text(alias_bomb())
        argv += ["--vars-file", "bomb.yaml"]
        culprit = f"bomb.yaml:{BOMB_LINE}"
    else:
        (example / "taskdef.yaml.j2").write_text(alias_bomb())
        text = (example / SPEC).read_text()
        (example / SPEC).write_text(text.replace(TD, "taskdef.yaml.j2"))
        culprit = f"taskdef.yaml.j2:{BOMB_LINE}"
    started = time.monotonic()
    code = run(argv)
    elapsed = time.monotonic() - started
    _out, err = capsys.readouterr()
    assert code == 2, err
    assert culprit in err, err
    assert "alias" in err
    assert elapsed < 2.0, elapsed
    shared_world.assert_no_writes()


def test_aliases_within_the_bound_still_load(
    example: Path, shared_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: a few levels of aliases are ordinary YAML."""
    (example / "few.yaml").write_text(alias_bomb(levels=3))
    assert run(["render", "--offline", "--vars-file", "few.yaml"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["-c", "loop-a", "validate"],
        ["-c", "loop-a", "deploy"],
        ["deploy", "-c", "loop-a"],
        ["validate", "-c", "loop-a", "-c", "bluegreen.yaml"],
        ["render", "--vars-file", "loop-a"],
        ["-c", "loop-a/bluegreen.yaml", "deploy", "--dry-run"],
    ],
)
def test_a_symlink_loop_is_exit_2_naming_the_path(
    argv: list[str], example: Path, shared_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    (example / "loop-a").symlink_to("loop-b")
    (example / "loop-b").symlink_to("loop-a")
    code = run(argv)
    _out, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in err
    assert "loop-a" in err
    assert "symlink" in err or "symbolic link" in err
    shared_world.assert_no_writes()
