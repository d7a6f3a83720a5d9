"""Planted secrets never reach the output of any verb, in text or JSON.

Secrets are planted in a demo sandbox stack's task definition template (a literal environment
value under a name that says secret, a credential pasted into `secrets[].valueFrom` in place
of a reference, an AWS access key id in the container command, an AWS secret access key in a
docker label), in a `--var` and in a `--vars-file` (both used as environment values under
secret-looking names; plain values are shown, see test_redaction_rules.py). Every verb
registered in the typer app runs against that stack (as in GitHub Actions), and its stdout and
stderr are searched for each secret, as are the journal and the step summary afterwards. A
verb that is registered but neither run here nor listed in NOT_PRINTING fails the coverage
test.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.codedeploy import Ran, Stack, wait_idle
from tests.safety.codedeploy_support import group_restored, wait_for_ready

ENV_LITERAL = "lit-S3cret-c0ffee11"
PLAIN_ENV = "checkout-v2,dark-mode"  # not a secret: shown, so a release can be reviewed
VALUE_FROM = "vf-S3cret-b0a710ad"  # the password inside a connection URL used as valueFrom
VAR_SECRET = "var-S3cret-5eed5eed"
FILE_SECRET = "file-S3cret-f11ef11e"
OTHER_FILE_SECRET = "file-S3cret-0dd0dd00"  # a changed value: what `diff` has to show
ACCESS_KEY_ID = "AKIAZ7Q3X9W2V5T8R1M4"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYz9Q4kLmN0p"
PLANTED = (
    ENV_LITERAL,
    VALUE_FROM,
    VAR_SECRET,
    FILE_SECRET,
    OTHER_FILE_SECRET,
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
)

# Registered verbs that are not run below, and why they cannot print task-definition content.
NOT_PRINTING = {
    "sandbox": "the offline AWS itself (up, stack, fault): never reads a spec or its templates",
}


@pytest.fixture
def planted(stack: Stack) -> Iterator[Stack]:
    """The stack with the secrets planted in its template (put back afterwards; the `stack`
    fixture puts the spec back)."""
    template = stack.dir / "taskdef.json.j2"
    original = template.read_text()
    plant(stack)
    yield stack
    template.write_text(original)


def plant(stack: Stack) -> None:
    """Rewrite the stack's task definition template with the secrets in it."""
    template = stack.dir / "taskdef.json.j2"
    data = json.loads(template.read_text())
    container = data["containerDefinitions"][0]
    container["environment"] = [
        {"name": "LOG_LEVEL", "value": "{{ vars.log_level }}"},
        {"name": "FEATURE_FLAGS", "value": PLAIN_ENV},
        {"name": "SESSION_COOKIE_KEY", "value": ENV_LITERAL},
        {"name": "DB_TOKEN", "value": "{{ vars.db_token }}"},
        {"name": "API_KEY", "value": "{{ vars.api_key }}"},
    ]
    container["secrets"] = [
        {"name": "DATABASE_URL", "valueFrom": f"postgres://app:{VALUE_FROM}@db.internal:5432/app"}
    ]
    container["command"] = ["serve", "--upload-key", ACCESS_KEY_ID]
    container["dockerLabels"] = {"build.note": SECRET_ACCESS_KEY}
    template.write_text(json.dumps(data, indent=2) + "\n")
    # defaults for verbs without --var/--vars-file (cleanup, doctor, ...); releases override them
    spec = stack.spec.read_text()
    assert "\n  log_level: info\n" in spec
    stack.spec.write_text(
        spec.replace(
            "\n  log_level: info\n", "\n  log_level: info\n  db_token: unset\n  api_key: unset\n"
        )
    )


def vars_file(folder: Path, value: str) -> Path:
    path = folder / f"vars-{value[-4:]}.yaml"
    path.write_text(f"api_key: {value}\n")
    return path


def registered_verbs() -> set[str]:
    import click
    import typer.main

    from bluegreen.cli.app import app

    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    return set(group.list_commands(click.Context(group)))


class Runs:
    """Runs verbs in text and JSON mode and remembers every output."""

    def __init__(self, cli: Callable[..., Ran]) -> None:
        self.cli = cli
        self.verbs: set[str] = set()
        self.leaks: list[str] = []

    def both(self, verb: str, *args: str, expect: int | None = 0) -> tuple[Ran, Ran]:
        text = self.one("text", verb, *args, expect=expect)
        js = self.one("json", verb, *args, expect=expect)
        return text, js

    def one(self, output: str, verb: str, *args: str, expect: int | None = 0) -> Ran:
        self.verbs.add(verb)
        ran = self.cli("-o", output, verb, *args)
        if expect is not None:
            assert ran.code == expect, f"{verb} ({output}): exit {ran.code}\n{ran.stderr}"
        for secret in PLANTED:
            for stream, text in (("stdout", ran.stdout), ("stderr", ran.stderr)):
                if secret in text:
                    self.leaks.append(f"{verb} {args[:1]} ({output}, {stream}): {secret}")
        return ran


def test_every_registered_verb_is_covered_or_listed() -> None:
    covered = set(COVERED_VERBS)
    assert covered.isdisjoint(NOT_PRINTING)
    assert registered_verbs() == covered | set(NOT_PRINTING)


COVERED_VERBS = (
    "render",
    "validate",
    "diff",
    "deploy",
    "status",
    "history",
    "watch",
    "init",
    "cleanup",
    "doctor",
    "iam-policy",
    "tag",
    "stop",
    "approve",
    "redeploy",
    "promote",
    "rollback",
    "migrate",
    "run",
)


def test_no_verb_prints_a_planted_secret(
    planted: Stack, cli: Callable[..., Ran], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = planted
    # as in GitHub Actions: errors also as ::error annotations, results in the step summary
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    stack.push("s1")
    image = f"web={stack.image('s1')}"
    first = vars_file(tmp_path, FILE_SECRET)
    second = vars_file(tmp_path, OTHER_FILE_SECRET)
    inputs = ("--image", image, "--var", f"db_token={VAR_SECRET}", "--vars-file", str(first))
    runs = Runs(cli)

    # offline and read-only views of what would be sent
    text, js = runs.both("render", *inputs)
    document = next(o for o in js.lines if "taskDefinition" in o)  # then the result line
    container = document["taskDefinition"]["containerDefinitions"][0]
    assert [e["name"] for e in container["environment"]] == [
        "LOG_LEVEL",
        "FEATURE_FLAGS",
        "SESSION_COOKIE_KEY",
        "DB_TOKEN",
        "API_KEY",
    ]  # the content is printed, with the secret values hidden
    shown = {e["name"]: e["value"] for e in container["environment"]}
    assert (shown["LOG_LEVEL"], shown["FEATURE_FLAGS"]) == ("info", PLAIN_ENV)
    assert "DATABASE_URL" in text.stdout
    runs.both("render", "--offline", *inputs)
    runs.both("validate", *inputs)
    runs.both("diff", *inputs)
    runs.both("deploy", "--dry-run", *inputs)
    # a one-off task of the same rendering, with a secret handed in as an override
    runs.both("run", *inputs, "--env-override", f"DB_TOKEN={VAR_SECRET}", "--timeout", "5m")

    # a real release of the planted task definition, then everything that reads it back
    _, released = runs.both("deploy", "--force", *inputs)  # a real release, live or not
    dep = released.result["deploymentId"]
    assert released.result["status"] == "Succeeded"
    changed = ("--image", image, "--var", f"db_token={VAR_SECRET}", "--vars-file", str(second))
    text, _ = runs.both("diff", "--exit-code", *changed, expect=1)
    assert "API_KEY" in text.stdout  # the diff is about the secret's value, and hides it
    runs.both("diff", "--exit-code", *inputs)
    runs.both("status")
    runs.both("history")
    runs.both("watch", dep)
    runs.both("watch", expect=None)
    runs.one(
        "text",
        "init",
        "--from-service",
        f"{stack.result.cluster}/{stack.result.service}",
        "--dir",
        str(tmp_path / "init-text"),
    )
    runs.one(
        "json",
        "init",
        "--from-service",
        f"{stack.result.cluster}/{stack.result.service}",
        "--dir",
        str(tmp_path / "init-json"),
    )
    runs.both("cleanup", "--keep", "1", "--dry-run")
    runs.both("doctor", expect=None)
    runs.both("iam-policy", "--account", "123456789012", *inputs[:4])
    runs.both("tag", "--image", image, "--as", "planted", expect=None)
    runs.both("stop", expect=None)  # nothing in flight: an error naming the group
    runs.both("approve", expect=None)  # nothing waiting
    runs.both("redeploy", "--dry-run", expect=None)
    runs.both("migrate", "--to", "ecs", "--dry-run", expect=None)  # the plan, nothing written
    spec = stack.spec.read_text()
    stack.spec.write_text(spec + "environments:\n  live: {}\n  other: {cluster: other-cluster}\n")
    runs.both("promote", "--from", "live", "--to", "other", "--dry-run", expect=None)
    stack.spec.write_text(spec)
    runs.one("json", "redeploy", expect=None)
    wait_idle(stack)
    runs.one("text", "rollback", expect=None)
    wait_idle(stack)

    assert runs.verbs == set(COVERED_VERBS)
    assert not runs.leaks, "\n".join(runs.leaks)
    # the journal is what `history`, `watch` and `rollback` read back: no values stored there
    journal = Path(os.environ["BLUEGREEN_JOURNAL"]).read_text()
    assert dep in journal
    assert [secret for secret in PLANTED if secret in journal] == []
    written = summary.read_text()
    assert dep in written
    assert [secret for secret in PLANTED if secret in written] == []


@pytest.mark.parametrize(
    ("secret", "context"),
    [
        (VALUE_FROM, f"postgres://app:{VALUE_FROM}@db.internal:5432/app"),
        (ACCESS_KEY_ID, f"--upload-key {ACCESS_KEY_ID}"),
        (SECRET_ACCESS_KEY, f"note {SECRET_ACCESS_KEY}"),
    ],
)
def test_shaped_secrets_are_caught_in_free_text(secret: str, context: str) -> None:
    """The planted forms that do not sit under a secret-looking name are caught by their shape
    wherever they appear."""
    from bluegreen.render.redact import redact_text

    assert secret in context
    assert secret not in redact_text(context)


def test_verify_output_is_shown_without_credentials(
    stack: Stack, cli: Callable[..., Ran], tmp_path: Path
) -> None:
    """A failing smoke test's output is quoted in the stop reason; credentials in it (a
    verbose curl's Authorization header, keys in a log line) are masked there too."""
    stack.push("s3")
    blue = stack.live_task_definition()
    script = tmp_path / "smoke.py"
    script.write_text(
        "import sys\n"
        "print('> Authorization: Bearer abcDEF1234567890token')\n"
        f"print('upload key {ACCESS_KEY_ID} secret {SECRET_ACCESS_KEY}')\n"
        "print('db password=hunter2-in-the-log')\n"
        "print('smoke failed: 503 from /healthz')\n"
        "sys.exit(3)\n"
    )
    for output in ("text", "json"):
        with group_restored(stack):  # verify gates only on a group that waits before rerouting
            wait_for_ready(stack)
            ran = cli(
                "-o",
                output,
                "deploy",
                "--image",
                f"web={stack.image('s3')}",
                "--verify",
                f"{sys.executable} {script}",
            )
        assert ran.code == 1, ran.stderr
        shown = ran.stdout + ran.stderr
        assert "smoke failed: 503 from /healthz" in shown  # the output is there ...
        for secret in ("abcDEF1234567890token", ACCESS_KEY_ID, SECRET_ACCESS_KEY, "hunter2"):
            assert secret not in shown, (output, secret)  # ... without the credentials
        assert stack.live_task_definition() == blue
    journal = Path(os.environ["BLUEGREEN_JOURNAL"]).read_text()  # the stop reason is kept there
    assert "smoke failed: 503 from /healthz" in journal
    for secret in ("abcDEF1234567890token", ACCESS_KEY_ID, SECRET_ACCESS_KEY, "hunter2"):
        assert secret not in journal


# --- secrets kept secret by where they sit, outside `environment` ------------------------------
# Each looks like nothing by its shape; its place says it is a secret.
ARG_SECRET = "arg-S3cret-a1a1a1a1"  # command: [..., "--db-password", ARG_SECRET]
EQUALS_SECRET = "eq-S3cret-e9e9e9e9"  # command: [..., "--api-token=EQUALS_SECRET"]
ENTRY_SECRET = "entry-S3cret-0e0e0e0e"  # entryPoint: ["sh", "-c", "exec app --token ..."]
LABEL_SECRET = "label-S3cret-1abe1abe"  # dockerLabels {"db.password": ...}
LOG_SECRET = "log-S3cret-10910910"  # logConfiguration.options.HTTP_Passwd
FIRELENS_SECRET = "fl-S3cret-f1f1f1f1"  # firelensConfiguration.options.apikey
PLACED = (ARG_SECRET, EQUALS_SECRET, ENTRY_SECRET, LABEL_SECRET, LOG_SECRET, FIRELENS_SECRET)
# Plain neighbours that must stay visible: redaction is not blanket.
PLAIN = ("--listen-port", "8080", "exec app", "team-web", "logs.example.com", "enable-ecs")


def place(stack: Stack) -> None:
    """The stack's template with secrets outside `environment`: a command argument after a
    secret-looking flag and one in --flag=value form, a shell entry point, a docker label, a
    FireLens log router's output option and a FireLens configuration option."""
    template = stack.dir / "taskdef.json.j2"
    data = json.loads(template.read_text())
    web = data["containerDefinitions"][0]
    web["command"] = [
        "serve",
        "--listen-port",
        "8080",
        "--db-password",
        ARG_SECRET,
        f"--api-token={EQUALS_SECRET}",
    ]
    web["entryPoint"] = ["sh", "-c", f'exec app --token {ENTRY_SECRET} "$@"']
    web["dockerLabels"] = {"team": "team-web", "db.password": LABEL_SECRET}
    web["logConfiguration"] = {
        "logDriver": "awsfirelens",
        "options": {"Name": "http", "Host": "logs.example.com", "HTTP_Passwd": LOG_SECRET},
    }
    data["containerDefinitions"].append(
        {
            "name": "log-router",
            "image": stack.image("v1"),
            "essential": False,
            "memory": 64,
            "firelensConfiguration": {
                "type": "fluentbit",
                "options": {"enable-ecs-log-metadata": "true", "apikey": FIRELENS_SECRET},
            },
        }
    )
    template.write_text(json.dumps(data, indent=2) + "\n")


@pytest.fixture
def placed(stack: Stack) -> Iterator[Stack]:
    template = stack.dir / "taskdef.json.j2"
    original = template.read_text()
    place(stack)
    yield stack
    template.write_text(original)


def leaked(ran: Ran) -> list[str]:
    return [s for s in PLACED if s in ran.stdout + ran.stderr]


def test_secrets_outside_environment_are_not_printed(
    placed: Stack, cli: Callable[..., Ran]
) -> None:
    stack = placed
    stack.push("p1")
    image = ("--image", f"web={stack.image('p1')}")
    for args in (
        ("render", *image),
        ("render", "--offline", *image),
        ("validate", *image),
        ("diff", *image),
        ("deploy", "--dry-run", *image),
        ("-v", "deploy", "--dry-run", *image),
    ):
        for output in ("text", "json"):
            ran = cli("-o", output, *args)
            assert ran.code in (0, 1), (args, output, ran.stderr)  # diff: 1 = differs
            assert leaked(ran) == [], (args, output)
            if args[0] == "render" or (output == "json" and "deploy" in args):
                shown = ran.stdout + ran.stderr
                for plain in PLAIN:  # the rest of the task definition is shown
                    assert plain in shown, (args, output, plain)


def test_init_from_service_writes_no_secret_from_outside_environment(
    placed: Stack, cli: Callable[..., Ran], tmp_path: Path
) -> None:
    stack = placed
    stack.push("p2")
    done = cli("-o", "json", "deploy", "--image", f"web={stack.image('p2')}")
    assert done.code == 0, done.stderr
    live = stack.client("ecs").describe_task_definition(
        taskDefinition=done.result["taskDefinitionArn"]
    )["taskDefinition"]
    assert ARG_SECRET in live["containerDefinitions"][0]["command"]  # it is live
    folder = tmp_path / "scaffold"
    ran = cli(
        "init",
        "--from-service",
        f"{stack.result.cluster}/{stack.result.service}",
        "--dir",
        str(folder),
    )
    assert ran.code == 0, ran.stderr
    assert leaked(ran) == []
    written = {p.name: p.read_text() for p in folder.iterdir()}
    for name, text in written.items():
        assert [s for s in PLACED if s in text] == [], name
    template = written["taskdef.json.j2"]
    # each secret is a variable reference in the template, and a note says which to pass
    assert template.count("{{ vars.") >= len(PLACED)
    for place_name in ("command", "entryPoint", "db.password", "HTTP_Passwd", "apikey"):
        assert place_name in ran.stderr, place_name
    assert "team-web" in template
    assert "logs.example.com" in template
