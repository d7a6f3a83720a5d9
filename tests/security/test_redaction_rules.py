"""What `render`, `diff`, plans and dry runs show: real values, except secrets.

A value is redacted when its name looks secret (each name rule below) or when it looks like a
credential by its shape (each detector below), in every place of a task definition; ARNs and
the fields that reference secrets stay visible. The rules are in bluegreen/render/redact.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bluegreen.render.redact import (
    MASK,
    looks_secret_name,
    redact_task_definition,
    redact_text,
)
from tests.fixtures.codedeploy import Stack
from tests.helpers import Ran

# --- names ----------------------------------------------------------------------------------------
SECRET_NAMES = [
    "DB_PASSWORD",
    "db_passwd",
    "PWD",
    "SMTP_PASS",
    "GPG_PASSPHRASE",
    "CLIENT_SECRET",
    "GITHUB_TOKEN",
    "API_KEY",
    "apiKey",
    "STRIPE_APIKEY",
    "SIGNING_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "PRIVATE_PEM",
    "BASIC_AUTH",
    "Authorization",
    "SENTRY_DSN",
    "COOKIE_SECRET",
    "SESSION",
    "x-amz-signature",
    "DBPASSWORD",  # words run together
    "authtoken",
    "db.password",  # a docker label
    "HTTP_Passwd",  # a log option
    "--upload-key",  # a flag
]
PLAIN_NAMES = [
    "LOG_LEVEL",
    "FEATURE_FLAGS",
    "PORT",
    "MONKEY",  # KEY only as a word part
    "AUTHOR",
    "PASSENGER_COUNT",
    "KMS_KEY_ARN",  # the last word describes the secret: shown
    "TOKEN_URL",
    "DB_PASSWORD_FILE",
    "SESSION_TIMEOUT",
    "SECRET_NAME",
    "--listen-port",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_a_secret_looking_name_hides_its_environment_value(name: str) -> None:
    assert looks_secret_name(name)
    out = redact_task_definition(container(environment=[{"name": name, "value": "plain-1"}]))
    assert env_of(out) == {name: MASK}


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_a_plain_name_shows_its_environment_value(name: str) -> None:
    assert not looks_secret_name(name)
    out = redact_task_definition(container(environment=[{"name": name, "value": "plain-1"}]))
    assert env_of(out) == {name: "plain-1"}


# --- values -------------------------------------------------------------------------------------
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
RANDOM = "q7Xv2LmP9sK4tR8wZ3nB6yH1cF5jD0gA"  # 32 random-looking characters
DETECTORS = [
    # (value under a plain name, what is shown, the part that must not be)
    pytest.param(
        "postgres://app:pw-9f8e7d@db:5432/app",
        "postgres://app:***@db:5432/app",
        "pw-9f8e7d",
        id="url-userinfo",
    ),
    pytest.param("AKIAZ7Q3X9W2V5T8R1M4", MASK, "AKIAZ7Q3X9W2V5T8R1M4", id="aws-access-key-id"),
    pytest.param("ASIAZ7Q3X9W2V5T8R1M4", MASK, "ASIAZ7Q3X9W2V5T8R1M4", id="aws-session-key-id"),
    pytest.param(
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYz9Q4kLmN0p",
        MASK,
        "wJalrXUtnFEMI",
        id="aws-secret-access-key",
    ),
    pytest.param(JWT, MASK, "eyJhbGci", id="jwt"),
    pytest.param(PEM, MASK, "MIIEvQIBADAN", id="pem-private-key"),
    pytest.param("Bearer abcDEF1234567890", "Bearer ***", "abcDEF1234567890", id="bearer"),
    pytest.param("ghp_" + "a1B2" * 9, MASK, "a1B2a1B2", id="github-token"),
    pytest.param("xoxb-1234567890-abcdefghij", MASK, "abcdefghij", id="slack-token"),
    pytest.param("--password=hunter2x", "--password=***", "hunter2x", id="name-equals-value"),
    pytest.param("serve --token t0k3n-9", "serve --token ***", "t0k3n-9", id="flag-value-text"),
    pytest.param(RANDOM, MASK, RANDOM, id="high-entropy"),
]
NOT_CREDENTIALS = [
    "info",
    "https://api.example.com/v1?page=2",  # a URL without a password
    "sha256:" + "ab" * 32,  # a digest
    "0123456789abcdef0123456789abcdef01234567",  # a commit SHA (hex)
    "550e8400-e29b-41d4-a716-446655440000",  # a UUID
    "MyApplicationServiceHandlerV2Production",  # words, not random
    "/usr/local/lib/python3.11/site-packages/app",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
]


@pytest.mark.parametrize(("value", "shown", "hidden"), DETECTORS)
def test_a_credential_shaped_value_is_hidden_under_a_plain_name(
    value: str, shown: str, hidden: str
) -> None:
    out = redact_task_definition(container(environment=[{"name": "NOTE", "value": value}]))
    assert env_of(out) == {"NOTE": shown}
    assert hidden not in json.dumps(out)
    assert redact_text(f"prefix {value} suffix") == f"prefix {shown} suffix"


@pytest.mark.parametrize("value", NOT_CREDENTIALS)
def test_a_value_that_is_no_credential_is_shown(value: str) -> None:
    out = redact_task_definition(container(environment=[{"name": "NOTE", "value": value}]))
    assert env_of(out) == {"NOTE": value}


# --- places -------------------------------------------------------------------------------------
def test_every_place_of_a_task_definition() -> None:
    """Each place: secrets by name or shape hidden, the plain neighbours shown as they are."""
    secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    td: dict[str, Any] = {
        "family": "web",
        "containerDefinitions": [
            {
                "name": "web",
                "image": "nginx@sha256:" + "a" * 64,
                "environment": [
                    {"name": "LOG_LEVEL", "value": "debug"},
                    {"name": "DB_PASSWORD", "value": "env-s3cret"},
                    {"name": "DB_SECRET", "value": secret_arn},  # an ARN is never a secret
                ],
                "command": [
                    "serve",
                    "--listen-port",
                    "8080",
                    "--db-password",
                    "arg-s3cret",
                    "--api-token=eq-s3cret",
                    "--upload",
                    "AKIAZ7Q3X9W2V5T8R1M4",
                ],
                "entryPoint": ["sh", "-c", 'exec app --session-key entry-s3cret --workers 4 "$@"'],
                "dockerLabels": {
                    "team": "web",
                    "db.password": "label-s3cret",
                    "build.note": RANDOM,
                },
                "logConfiguration": {
                    "logDriver": "awsfirelens",
                    "options": {"Name": "http", "Host": "logs.example.com", "HTTP_Passwd": "l0g"},
                    "secretOptions": [{"name": "apikey", "valueFrom": secret_arn}],
                },
                "repositoryCredentials": {"credentialsParameter": secret_arn},
                "secrets": [
                    {"name": "DB_URL", "valueFrom": secret_arn},
                    {"name": "PASTED", "valueFrom": "postgres://app:vf-s3cret@db/app"},
                ],
                "healthCheck": {
                    "command": ["CMD-SHELL", "curl -H 'Authorization: Bearer hc-s3cret0' localhost"]
                },
            },
            {
                "name": "log-router",
                "image": "fluent-bit:3",
                "firelensConfiguration": {
                    "type": "fluentbit",
                    "options": {"enable-ecs-log-metadata": "true", "apikey": "fl-s3cret"},
                },
            },
        ],
        "tags": [{"key": "team", "value": "web"}, {"key": "deploy-token", "value": "tag-s3cret"}],
    }
    out = redact_task_definition(td)
    web, router = out["containerDefinitions"]
    assert web["environment"] == [
        {"name": "LOG_LEVEL", "value": "debug"},
        {"name": "DB_PASSWORD", "value": MASK},
        {"name": "DB_SECRET", "value": secret_arn},
    ]
    assert web["command"] == [
        "serve",
        "--listen-port",
        "8080",
        "--db-password",
        MASK,
        "--api-token=***",
        "--upload",
        MASK,
    ]
    assert web["entryPoint"] == ["sh", "-c", 'exec app --session-key *** --workers 4 "$@"']
    assert web["dockerLabels"] == {"team": "web", "db.password": MASK, "build.note": MASK}
    assert web["logConfiguration"]["options"] == {
        "Name": "http",
        "Host": "logs.example.com",
        "HTTP_Passwd": MASK,
    }
    assert web["logConfiguration"]["secretOptions"] == [{"name": "apikey", "valueFrom": secret_arn}]
    assert web["repositoryCredentials"] == {"credentialsParameter": secret_arn}
    assert web["secrets"] == [
        {"name": "DB_URL", "valueFrom": secret_arn},  # a reference, shown
        {"name": "PASTED", "valueFrom": "postgres://app:***@db/app"},  # a pasted credential
    ]
    assert web["healthCheck"]["command"][1] == "curl -H 'Authorization: Bearer ***' localhost"
    assert router["firelensConfiguration"]["options"] == {
        "enable-ecs-log-metadata": "true",
        "apikey": MASK,
    }
    assert out["tags"] == [{"key": "team", "value": "web"}, {"key": "deploy-token", "value": MASK}]
    assert "s3cret" not in json.dumps(out)
    assert td["containerDefinitions"][0]["environment"][1]["value"] == "env-s3cret"  # a copy


# --- through the CLI, against the sandbox ---------------------------------------------------------
@pytest.fixture
def two_env_values(stack: Stack) -> Iterator[Stack]:
    """The stack's template with a plain and a secret-looking environment value, both vars."""
    template = stack.dir / "taskdef.json.j2"
    original = template.read_text()
    data = json.loads(original)
    data["containerDefinitions"][0]["environment"] = [
        {"name": "LOG_LEVEL", "value": "{{ vars.log_level }}"},
        {"name": "SESSION_SECRET", "value": "{{ vars.session_secret }}"},
    ]
    template.write_text(json.dumps(data, indent=2) + "\n")
    yield stack
    template.write_text(original)


def test_diff_shows_a_changed_plain_value_and_hides_a_changed_secret(
    two_env_values: Stack, cli: Callable[..., Ran]
) -> None:
    stack = two_env_values
    stack.push("r1")
    image = ("--image", f"web={stack.image('r1')}")
    released = cli(
        "-o",
        "json",
        "deploy",
        *image,
        "--var",
        "log_level=info",
        "--var",
        "session_secret=old-5ecret",
    )
    assert released.code == 0, released.stderr
    live = stack.client("ecs").describe_task_definition(taskDefinition=stack.live_task_definition())
    env = {
        e["name"]: e["value"]
        for e in live["taskDefinition"]["containerDefinitions"][0]["environment"]
    }
    assert env == {"LOG_LEVEL": "info", "SESSION_SECRET": "old-5ecret"}  # what AWS runs

    changed = ("--var", "log_level=debug", "--var", "session_secret=new-5ecret")
    text = cli("diff", "--exit-code", *image, *changed)
    assert text.code == 1, text.stderr
    assert '-          "value": "info"\n' in text.stdout  # the plain value, in clear
    assert '+          "value": "debug"\n' in text.stdout
    assert '-          "value": "***"\n' in text.stdout  # the secret, hidden, marked changed
    assert '+          "value": "*** (changed)"\n' in text.stdout
    js = cli("-o", "json", "diff", *image, *changed)
    assert js.code == 0, js.stderr
    document = js.lines[0]
    assert document["changed"] is True
    assert document["diff"] == text.stdout.rstrip("\n") + "\n"
    for ran in (text, js):
        assert "5ecret" not in ran.stdout + ran.stderr

    plan = cli("-o", "json", "deploy", "--dry-run", *image, *changed)
    assert plan.code == 0, plan.stderr
    shown = plan.lines[0]["taskDefinition"]["containerDefinitions"][0]["environment"]
    assert shown == [
        {"name": "LOG_LEVEL", "value": "debug"},
        {"name": "SESSION_SECRET", "value": MASK},
    ]
    assert stack.live_task_definition() == released.result["taskDefinitionArn"]  # nothing written


def container(**fields: Any) -> dict[str, Any]:
    return {"family": "app", "containerDefinitions": [{"name": "app", "image": "x", **fields}]}


def env_of(td: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in td["containerDefinitions"][0]["environment"]}
