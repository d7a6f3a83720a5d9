"""Release notifications: the spec's `notify:` webhooks told of a release's start, its
rollback and its end, as Slack-compatible JSON (`text`, `blocks`, and the structured fields
under `bluegreen`).

A notification never decides anything about the release: each POST runs in a thread of its
own with a time limit (`TIMEOUT_SECONDS`), a failure (refused connection, time-out, non-2xx
answer, a redirect) is a warning on stderr, and the release's exit code is what it would be
without `notify:`. At the end the release waits for its posts at most that time limit.
What is posted: service, cluster, environment, region, revisions, deployment id, outcome and
reason; never environment values, task definition content or the webhook URL itself (which
is a credential: logs name it by scheme and host only).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bluegreen import __version__
from bluegreen.errors import BluegreenError, ExitCode

if TYPE_CHECKING:
    from bluegreen.engines.model import Outcome, Output
    from bluegreen.spec.model import Spec

EVENTS = ("start", "end", "rollback")
TIMEOUT_SECONDS = 5.0
SCHEMES = ("http", "https")


def redact_url(url: str) -> str:
    """The webhook as logs may name it: scheme and host (and port), nothing else (the path,
    query and user info of a webhook URL are its secret)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<webhook>"
    return f"{parts.scheme}://{host}{port}/…"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is answered as failed: the body is never re-sent elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirect())


def post(url: str, body: Mapping[str, Any], timeout: float = TIMEOUT_SECONDS) -> str | None:
    """POST `body` as JSON to `url`; None when the webhook answered 2xx, else why not (the
    URL never part of it)."""
    if urllib.parse.urlsplit(url).scheme.lower() not in SCHEMES:
        return "not an http(s) URL"
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above: http(s) only
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"bluegreen/{__version__}"},
    )
    try:
        with _opener().open(request, timeout=timeout) as response:
            status = int(response.status)
            response.read(65536)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return f"no answer within {timeout:g}s"
        return _scrub(str(reason), url)
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except (OSError, ValueError) as exc:
        return _scrub(f"{type(exc).__name__}: {exc}", url)
    if not 200 <= status < 300:
        return f"HTTP {status}"
    return None


def _scrub(text: str, url: str) -> str:
    return text.replace(url, redact_url(url))


def _escape(text: str) -> str:
    """Slack mrkdwn: &, < and > are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class Notifier:
    """The webhooks of one release and what they have been told. With no webhook (no
    `notify:`, or a dry run) every method does nothing."""

    webhooks: tuple[str, ...] = ()
    events: frozenset[str] = frozenset(EVENTS)
    context: dict[str, Any] = field(default_factory=dict)
    warn: Callable[[str], None] | None = None
    timeout: float = TIMEOUT_SECONDS
    _threads: list[threading.Thread] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _rolled_back: bool = field(default=False, init=False)
    _ended: bool = field(default=False, init=False)
    _deployment_id: str | None = field(default=None, init=False)

    @classmethod
    def for_spec(
        cls, spec: Spec, *, dry_run: bool, warn: Callable[[str], None] | None = None
    ) -> Notifier:
        """The spec's (env-merged) `notify:`; nothing to send on a dry run."""
        if spec.notify is None or dry_run:
            return cls()
        context = {
            "service": spec.service,
            "cluster": spec.cluster,
            "environment": spec.env,
            "region": spec.region,
        }
        return cls(spec.notify.webhooks, spec.notify.events, context, warn)

    # --- the release's moments ------------------------------------------------------------
    def start(self, *, previous: str | None = None) -> None:
        self._send("start", {"outcome": "started", "previousTaskDefinitionArn": previous})

    def observe(self, obj: Mapping[str, Any], text: str | None = None) -> None:
        """An event the release printed (its JSON object, its line for people): the first
        rollback is told at once."""
        kind = obj.get("event")
        if kind in ("created", "deployment") and obj.get("deploymentId"):
            self._deployment_id = str(obj["deploymentId"])
        if kind == "rollback":
            reason = obj.get("reason") or text
            self._rollback(
                str(reason).strip() if reason else None,
                obj.get("deploymentId"),
                obj.get("rollbackDeploymentId"),
            )

    def end(self, outcome: Outcome) -> None:
        """The outcome (a rollback it reports and no event announced is told first)."""
        if self._ended:
            return
        if outcome.rolled_back:
            self._rollback(outcome.reason, outcome.deployment_id, outcome.rollback_deployment_id)
        self._ended = True
        ok = outcome.exit_code == ExitCode.OK
        self._send(
            "end",
            {
                "outcome": "succeeded" if ok else "failed",
                "status": outcome.status,
                "deploymentId": outcome.deployment_id or self._deployment_id,
                "taskDefinitionArn": outcome.task_definition_arn,
                "rolledBack": outcome.rolled_back,
                "rollbackDeploymentId": outcome.rollback_deployment_id,
                "exitCode": outcome.exit_code,
                "reason": outcome.reason,
            },
        )

    def failed(self, exit_code: int, reason: str) -> None:
        """The release ended with an error (no outcome): told as a failed end."""
        if self._ended:
            return
        self._ended = True
        self._send(
            "end",
            {
                "outcome": "failed",
                "status": "Error" if exit_code != ExitCode.CANCELLED else "Cancelled",
                "deploymentId": self._deployment_id,
                "exitCode": exit_code,
                "reason": reason,
            },
        )

    def wait(self) -> None:
        """Let the posts in flight finish, for at most the time limit (and a little)."""
        deadline = time.monotonic() + self.timeout + 1.0
        with self._lock:
            threads, self._threads = list(self._threads), []
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @contextmanager
    def release(self, *, previous: str | None = None) -> Iterator[Notifier]:
        """start; the block (which calls `end`); an error that escapes it told as the end;
        then the posts waited for."""
        if not self.webhooks:
            yield self
            return
        self.start(previous=previous)
        try:
            yield self
        except BluegreenError as exc:
            self.failed(exc.exit_code, exc.render())
            raise
        except KeyboardInterrupt:
            self.failed(ExitCode.CANCELLED, "cancelled")
            raise
        finally:
            self.wait()

    def runner(
        self, run: Callable[[Output], Outcome], *, previous: str | None = None
    ) -> Callable[[Output], Outcome]:
        """`run` (a prepared release) with its start, rollback and end told; `previous`: the
        revision production runs before it."""
        if not self.webhooks:
            return run

        def notified(out: Output) -> Outcome:
            with self.release(previous=previous):
                outcome = run(Observed(out, self.observe))
                self.end(outcome)
            return outcome

        return notified

    # --- sending --------------------------------------------------------------------------
    def _rollback(self, reason: str | None, deployment: Any, rollback_deployment: Any) -> None:
        if self._rolled_back:
            return
        self._rolled_back = True
        self._send(
            "rollback",
            {
                "outcome": "rolling back",
                "deploymentId": deployment or self._deployment_id,
                "rollbackDeploymentId": rollback_deployment,
                "reason": reason,
            },
        )

    def _send(self, event: str, fields: Mapping[str, Any]) -> None:
        if not self.webhooks or event not in self.events:
            return
        body = payload(event, {**self.context, **fields})
        for url in self.webhooks:
            thread = threading.Thread(
                target=self._post, args=(url, body, event), name="notify", daemon=True
            )
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _post(self, url: str, body: Mapping[str, Any], event: str) -> None:
        try:
            problem = post(url, body, self.timeout)
        except Exception as exc:  # never let a notification end the release
            problem = _scrub(f"{type(exc).__name__}: {exc}", url)
        if problem is not None:
            message = (
                f"notify: the {event} notification to {redact_url(url)} failed ({problem}); "
                "the release is not affected"
            )
            if self.warn is not None:
                self.warn(message)
            else:
                print(f"warning: {message}", file=sys.stderr, flush=True)


_TITLES = {
    "start": "release started",
    "rollback": "rolling back",
    "end": "release ended",
}


def payload(event: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body: Slack's `text` and `blocks`, and every field under `bluegreen`."""
    data = {"event": event, **{k: v for k, v in fields.items() if v is not None}}
    where = f"{data.get('cluster', '?')}/{data.get('service', '?')}"
    env = f" ({data['environment']})" if data.get("environment") else ""
    title = _TITLES[event]
    if event == "end":
        title = "release succeeded" if data.get("outcome") == "succeeded" else "release failed"
        if data.get("rolledBack"):
            title += " (rolled back)"
    reason = str(data.get("reason") or "")
    if reason.lower().startswith(title):  # e.g. "rolling back: following d-..."
        text = f"bluegreen: {where}{env}: {reason}"
    else:
        text = f"bluegreen: {where}{env}: {title}" + (f": {reason}" if reason else "")
    shown = [
        ("Service", where),
        ("Environment", data.get("environment")),
        ("Region", data.get("region")),
        ("Outcome", data.get("status") or data.get("outcome")),
        ("Deployment", data.get("deploymentId")),
        ("Rollback deployment", data.get("rollbackDeploymentId")),
        ("Revision", _revision(data.get("taskDefinitionArn"))),
        ("Previous revision", _revision(data.get("previousTaskDefinitionArn"))),
        ("Exit code", data.get("exitCode")),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(text)[:3000]}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{_escape(str(value))[:1900]}"}
                for name, value in shown
                if value not in (None, "")
            ][:10],
        },
    ]
    return {"text": text, "blocks": blocks, "bluegreen": data}


def _revision(arn: Any) -> str | None:
    return str(arn).rsplit("/", 1)[-1] if arn else None


class Observed:
    """An output that shows every event to `observe` on its way through."""

    def __init__(
        self, out: Output, observe: Callable[[Mapping[str, Any], str | None], None]
    ) -> None:
        self.out = out
        self.observe = observe
        self.json_mode = bool(getattr(out, "json_mode", False))

    def text(self, line: str = "") -> None:
        self.out.text(line)

    def json(self, obj: dict[str, Any]) -> None:
        self.observe(obj, None)
        self.out.json(obj)

    def emit(self, obj: dict[str, Any], text: str | None) -> None:
        self.observe(obj, text)
        self.out.emit(obj, text)
