"""Release notifications: the spec's `notify:` webhooks, posted to by real releases against the
sandbox (through the CLI), received by an HTTP server of the test's own on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bluegreen.engines.model import Outcome
from bluegreen.release.notify import Notifier, redact_url
from tests.fixtures.codedeploy import Stack
from tests.helpers import Ran

SECRET = "s3cr3t-env-value-9f2c"  # a task definition environment value (vars.log_level)
HOOK_PATH = "/services/T0001/B0002/very-secret-token"
LONG_CANARY = "canary:10%/60m"  # 6 s of real time at the sandbox's 600x: room for an alarm


@dataclass
class Webhook:
    """An HTTP server on loopback that records every POST and answers `status`."""

    server: ThreadingHTTPServer
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{HOOK_PATH}"

    def events(self) -> list[str]:
        return [body["bluegreen"]["event"] for _, body in self.posts]

    def body(self, event: str) -> dict[str, Any]:
        found = [body for _, body in self.posts if body["bluegreen"]["event"] == event]
        assert len(found) == 1, self.events()
        return found[0]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook: Webhook

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            assert self.headers.get("Content-Type") == "application/json"
            hook.posts.append((self.path, json.loads(raw)))
            self.send_response(hook.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook = Webhook(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def refused_url() -> str:
    """A loopback URL nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{HOOK_PATH}"


def add_notify(stack: Stack, block: str) -> None:
    stack.spec.write_text(stack.spec.read_text().rstrip("\n") + "\n" + block.lstrip("\n"))


def deploy(cli: Callable[..., Ran], stack: Stack, tag: str, *args: str) -> Ran:
    stack.push(tag)
    image = f"web={stack.image(tag)}"
    return cli("-o", "json", "deploy", "--image", image, "--var", f"log_level={SECRET}", *args)


def no_secrets(hook: Webhook) -> None:
    for _, body in hook.posts:
        text = json.dumps(body)
        assert SECRET not in text
        assert "very-secret-token" not in text
        assert "containerDefinitions" not in text


def test_a_release_posts_start_and_end_to_its_environment_webhook(
    stack: Stack, cli: Callable[..., Ran], webhook: Webhook
) -> None:
    add_notify(
        stack,
        f"""
notify: {{webhook: "{refused_url()}"}}
environments:
  prod:
    notify: {{webhook: ["{webhook.url}"]}}
""",
    )
    before = stack.live_task_definition()
    ran = deploy(cli, stack, "notify-v1", "--env", "prod")
    assert ran.code == 0, ran.stderr
    assert "warning" not in ran.stderr  # the top-level (refusing) webhook is replaced
    assert webhook.events() == ["start", "end"]
    assert {path for path, _ in webhook.posts} == {HOOK_PATH}
    start, end = webhook.body("start"), webhook.body("end")
    assert start["bluegreen"]["service"] == stack.result.service
    assert start["bluegreen"]["cluster"] == stack.result.cluster
    assert start["bluegreen"]["environment"] == "prod"
    assert start["bluegreen"]["previousTaskDefinitionArn"] == before
    assert "release started" in start["text"]
    result = ran.result
    fields = end["bluegreen"]
    assert fields["outcome"] == "succeeded"
    assert fields["deploymentId"] == result["deploymentId"]
    assert fields["taskDefinitionArn"] == result["taskDefinitionArn"]
    assert fields["taskDefinitionArn"] == stack.live_task_definition()
    assert (fields["exitCode"], fields["rolledBack"]) == (0, False)
    assert "release succeeded" in end["text"]
    assert end["text"].startswith(f"bluegreen: {stack.result.cluster}/{stack.result.service}")
    assert end["blocks"][0]["type"] == "section"
    shown = " ".join(f["text"] for f in end["blocks"][1]["fields"])
    assert result["deploymentId"] in shown
    no_secrets(webhook)


def test_a_rollback_posts_start_rollback_and_end_with_the_reason(
    stack: Stack, cli: Callable[..., Ran], webhook: Webhook
) -> None:
    add_notify(stack, f'notify: {{webhook: "{webhook.url}"}}\n')
    before = stack.live_task_definition()
    alarm = stack.result.repository + "-5xx"

    def canary_live() -> bool:
        weights = stack.prod_weights()
        return len(weights) == 2 and all(0 < w < 100 for w in weights.values())

    def fire() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if canary_live():
                    stack.client("cloudwatch").set_alarm_state(
                        AlarmName=alarm, StateValue="ALARM", StateReason="test: 5xx"
                    )
                    return
            except Exception:  # noqa: S110 - the listener may not be readable yet
                pass
            time.sleep(0.05)

    threading.Thread(target=fire, daemon=True).start()
    ran = deploy(cli, stack, "notify-v2", "--deployment-config", LONG_CANARY)
    assert ran.code == 1, ran.stderr
    assert ran.result["rolledBack"] is True
    assert stack.live_task_definition() == before  # production is back on blue
    assert webhook.events() == ["start", "rollback", "end"]
    rollback = webhook.body("rollback")["bluegreen"]
    assert rollback["deploymentId"] == ran.result["deploymentId"]
    assert rollback["rollbackDeploymentId"].startswith("d-")
    assert rollback["reason"].startswith("rolling back")
    text = webhook.body("rollback")["text"]
    assert text.startswith(f"bluegreen: {stack.result.cluster}/{stack.result.service}: rolling")
    assert text.count("rolling back") == 1
    end = webhook.body("end")
    assert end["bluegreen"]["outcome"] == "failed"
    assert end["bluegreen"]["rolledBack"] is True
    assert end["bluegreen"]["exitCode"] == 1
    assert end["bluegreen"]["reason"] == ran.result["reason"]
    assert end["text"].endswith(ran.result["reason"])
    assert "(rolled back)" in end["text"]
    no_secrets(webhook)


def test_a_failing_webhook_changes_nothing_but_a_warning(
    stack: Stack, cli: Callable[..., Ran], webhook: Webhook
) -> None:
    webhook.status = 500
    refused = refused_url()
    add_notify(stack, f'notify: {{webhook: ["{refused}", "{webhook.url}"]}}\n')
    ran = deploy(cli, stack, "notify-v3")
    assert ran.code == 0, ran.stderr
    assert ran.result["status"] == "Succeeded"
    assert webhook.events() == ["start", "end"]  # posted, answered 500
    warnings = [line for line in ran.stderr.splitlines() if line.startswith("warning: notify:")]
    assert len(warnings) == 4, ran.stderr  # start and end, to each webhook
    assert sum("(HTTP 500)" in w for w in warnings) == 2
    assert all(redact_url(refused) in w or redact_url(webhook.url) in w for w in warnings)
    assert "very-secret-token" not in ran.stderr + ran.stdout  # URLs named by host only


def test_a_dry_run_posts_nothing(stack: Stack, cli: Callable[..., Ran], webhook: Webhook) -> None:
    add_notify(stack, f'notify: {{webhook: "{webhook.url}"}}\n')
    ran = deploy(cli, stack, "notify-v4", "--dry-run")
    assert ran.code == 0, ran.stderr
    assert ran.result["status"] == "DryRun"
    time.sleep(0.2)
    assert webhook.posts == []


def test_a_webhook_that_is_not_http_is_refused_before_any_write(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    add_notify(stack, "notify:\n  webhook: file:///etc/passwd\n  events: [end]\n")
    revisions = stack.client("ecs").list_task_definitions()["taskDefinitionArns"]
    ran = deploy(cli, stack, "notify-v5")
    assert ran.code == 2, ran.stderr
    assert "notify.webhook" in ran.result["reason"]
    assert "http:// or https://" in ran.result["reason"]
    assert "/etc/passwd" not in ran.result["reason"]  # webhook values are never quoted
    assert stack.client("ecs").list_task_definitions()["taskDefinitionArns"] == revisions


def test_the_events_filter_and_a_rollback_told_as_it_happens(webhook: Webhook) -> None:
    """The output port every engine prints to: the first `rollback` event is posted when the
    engine emits it, before the release ends; `events:` keeps only the events named."""
    seen_at_rollback: list[list[str]] = []

    class Sink:
        json_mode = True

        def text(self, line: str = "") -> None:
            pass

        def json(self, obj: dict[str, Any]) -> None:
            pass

        def emit(self, obj: dict[str, Any], text: str | None) -> None:
            pass

    notifier = Notifier((webhook.url,), frozenset({"rollback", "end"}), {"service": "web"})

    def run(out: Any) -> Outcome:
        out.emit({"event": "rollback", "deploymentId": "ecs-svc/1", "reason": "alarm x"}, "rb")
        notifier.wait()
        seen_at_rollback.append(webhook.events())
        out.emit({"event": "rollback", "deploymentId": "ecs-svc/1"}, "following it")
        return Outcome("ecs-svc/1", "ROLLBACK_SUCCESSFUL", True, 1, "alarm x: rolled back")

    outcome = notifier.runner(run)(Sink())
    assert outcome.exit_code == 1
    assert seen_at_rollback == [["rollback"]]
    assert webhook.events() == ["rollback", "end"]  # no start: filtered; one rollback
    assert webhook.body("rollback")["bluegreen"]["reason"] == "alarm x"
    assert webhook.body("end")["bluegreen"]["rolledBack"] is True


def test_a_webhook_that_does_not_answer_delays_the_release_at_most_the_time_limit() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        warned: list[str] = []
        notifier = Notifier((url,), context={"service": "web"}, warn=warned.append, timeout=0.5)
        began = time.monotonic()
        with notifier.release():
            notifier.end(Outcome("d-1", "Succeeded", False, 0, "succeeded"))
        assert time.monotonic() - began < 3.0
    assert len(warned) == 2
    assert all("no answer within 0.5s" in w for w in warned)


@pytest.fixture(scope="module")
def rolling_stack(module_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """A rolling-update (ECS-controller) demo stack beside the module's CodeDeploy one."""
    from bluegreen.aws.session import Aws
    from bluegreen.sandbox import StackKind
    from bluegreen.sandbox.stack import create_stack

    directory = tmp_path_factory.mktemp("rolling") / "app"
    result = create_stack(Aws(region="us-east-1"), directory, "notes", kind=StackKind.rolling)
    return Stack(result, directory, directory / "bluegreen.yaml", module_stack.sandbox)


def test_a_rolling_release_posts_through_the_output_port(
    rolling_stack: Stack,
    cli: Callable[..., Ran],
    webhook: Webhook,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    s = rolling_stack
    monkeypatch.chdir(s.dir)
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(tmp_path / "journal.jsonl"))
    add_notify(s, f'notify: {{webhook: "{webhook.url}", events: [end]}}\n')
    ran = deploy(cli, s, "notify-r1")
    assert ran.code == 0, ran.stderr
    assert webhook.events() == ["end"]  # start left out by `events`
    end = webhook.body("end")["bluegreen"]
    assert end["outcome"] == "succeeded"
    assert end["deploymentId"] == ran.result["deploymentId"]
    assert end["taskDefinitionArn"] == s.live_task_definition()
    no_secrets(webhook)
