"""The JSON contract, walked over every registered verb and its exit paths: with
`--output json` every stdout line is JSON and the last one is the one result line, whose
`exitCode` is the process's exit code and whose `reason` says why (DESIGN.md, pinned).

Each verb is run where it succeeds (or reports nothing to act on), with its spec missing
(bad input, exit 2), and with AWS unreachable (exit 4, or 2 when the verb finds nothing to
act on before it needs AWS). A verb registered without a row here fails the first test, so a
new verb cannot skip the contract."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.codedeploy import Ran, Stack, wait_idle
from tests.security.test_secrets import registered_verbs

# verb -> arguments that make a harmless run against the sandbox stack (no release started
# unless the verb's point is to start one, which the walk then waits out)
HARMLESS: dict[str, tuple[str, ...]] = {
    "init": ("--force",),
    "render": (),
    "validate": (),
    "diff": (),
    "doctor": (),
    "iam-policy": ("--account", "123456789012"),
    "deploy": ("--dry-run",),
    "watch": (),
    "status": (),
    "approve": (),
    "stop": (),
    "rollback": (),
    "history": (),
    "redeploy": ("--dry-run",),
    "promote": ("--from", "live", "--to", "other", "--dry-run"),
    "tag": ("--image", "web=IMAGE", "--as", "walked"),
    "cleanup": ("--keep", "1", "--dry-run"),
    "migrate": ("--to", "ecs", "--dry-run"),
    "run": ("--no-wait",),
    "sandbox": ("fault", "no-such-fault"),
}
OFFLINE_OK = {"init", "render", "validate", "iam-policy", "sandbox"}  # need no AWS read


def contract(ran: Ran, what: str) -> dict[str, Any]:
    """The contract for one run; the result line."""
    assert ran.stdout.strip(), f"{what}: nothing on stdout (exit {ran.code}): {ran.stderr}"
    lines = []
    for number, line in enumerate(ran.stdout.splitlines(), 1):
        try:
            lines.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{what}: stdout line {number} is not JSON: {line[:200]!r}")
    results = [ln for ln in lines if isinstance(ln, dict) and ln.get("event") == "result"]
    assert results == [lines[-1]], f"{what}: one result line, the last: {lines[-3:]}"
    result = results[0]
    assert result["exitCode"] == ran.code, f"{what}: {result} vs exit {ran.code}"
    assert isinstance(result["reason"], str), f"{what}: {result}"
    assert result["reason"], f"{what}: {result}"
    return result


def _args(verb: str, stack: Stack) -> tuple[str, ...]:
    image = f"web={stack.image('walk')}"
    return tuple(image if a == "web=IMAGE" else a for a in HARMLESS[verb])


def test_every_registered_verb_is_walked() -> None:
    assert set(HARMLESS) == registered_verbs()


def test_every_verb_where_it_works_or_finds_nothing(
    stack: Stack, cli: Callable[..., Ran], tmp_path: Path
) -> None:
    stack.push("walk")
    spec = stack.spec.read_text()
    stack.spec.write_text(spec + "environments:\n  live: {}\n  other: {cluster: other-cluster}\n")
    seen: dict[str, int] = {}
    for verb in HARMLESS:
        if verb == "init":
            continue  # it would rewrite the stack's spec; walked in an empty folder below
        ran = cli("-o", "json", verb, *_args(verb, stack))
        seen[verb] = contract(ran, verb)["exitCode"]
        wait_idle(stack)
    # the verbs that only read or plan succeed here; those with nothing to act on say so
    for verb in ("render", "validate", "diff", "status", "history", "deploy", "iam-policy"):
        assert seen[verb] == 0, f"{verb}: exit {seen[verb]}"
    for verb in ("approve", "stop", "sandbox"):
        assert seen[verb] == 2, f"{verb}: exit {seen[verb]}"


def test_every_verb_without_its_spec_is_exit_2(
    cli: Callable[..., Ran], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for verb in HARMLESS:
        if verb in ("init", "sandbox", "tag"):
            continue  # they need no spec (tag: not for an image that names its registry)
        ecr = "web=123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1"
        args = tuple(ecr if a == "web=IMAGE" else a for a in HARMLESS[verb])
        ran = cli("-o", "json", "-c", "missing.yaml", verb, *args)
        result = contract(ran, f"{verb} without a spec")
        assert ran.code == 2, f"{verb}: {result}"
        assert "missing.yaml" in result["reason"], f"{verb}: {result}"
    ran = cli("-o", "json", "init")
    assert contract(ran, "init in an empty folder")["exitCode"] == 0
    assert (tmp_path / "bluegreen.yaml").is_file()


def test_every_verb_with_aws_unreachable(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each verb in its own process, all at once (each waits out botocore's retries of a
    refused connection)."""
    image = "web=public.ecr.aws/x/web:1"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    running = {}
    for verb in HARMLESS:
        if verb in OFFLINE_OK:
            continue
        args = tuple(image if a == "web=IMAGE" else a for a in HARMLESS[verb])
        running[verb] = subprocess.Popen(
            [sys.executable, "-m", "bluegreen", "-o", "json", verb, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for verb, proc in running.items():
        out, err = proc.communicate(timeout=120)
        ran = Ran(proc.returncode, out, err)
        result = contract(ran, f"{verb} with AWS unreachable")
        assert ran.code in (2, 4), f"{verb}: {result}"
