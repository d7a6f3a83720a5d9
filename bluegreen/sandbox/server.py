"""The sandbox's HTTP endpoint: one threaded WSGI server on loopback.

Requests whose `X-Amz-Target` is `CodeDeploy_20141006.*` go to bluegreen's CodeDeploy
engine; `/_sandbox/*` is the control endpoint; everything else goes to moto's server
application. Control endpoints:

- `GET /_sandbox/info`, `POST /_sandbox/reset`, `GET|POST /_sandbox/settings`
  (`{"timeScale": K, "hooks": "succeed"|"fail"|"wait"}`)
- `POST /_sandbox/faults` (`throttle` {service?, rate?, count?}, `latency` {service?, ms},
  `unhealthy-green` {after_seconds?}, `hook-fail` {event?}, `lost-answer` {operation,
  mode?: error|reset, count?}: a CodeDeploy call is carried out, then answered 500 or its
  connection closed), `task-exit` {code?, container?, after_seconds?}: the essential container
  of each task RunTask starts exits with that code) → `{"id": ...}`;
  `GET /_sandbox/faults`; `DELETE /_sandbox/faults`
- `GET /_sandbox/hooks`: lifecycle hook executions waiting for
  PutLifecycleEventHookExecutionStatus (the sandbox invokes no Lambda, so this is where a
  rehearsal or test finds the `lifecycleEventHookExecutionId` a hook function would receive)

Faults never touch the engine's own calls to moto (marked with a per-server token).
"""

from __future__ import annotations

import io
import ipaddress
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from bluegreen import __version__
from bluegreen.errors import UsageError
from bluegreen.sandbox import aws_errors
from bluegreen.sandbox.clock import SandboxClock
from bluegreen.sandbox.corrections import EcrCorrections, EcsCorrections
from bluegreen.sandbox.ecs_native.api import OPERATIONS as ECS_NATIVE_OPERATIONS
from bluegreen.sandbox.faults import FaultError, FaultRegistry
from bluegreen.sandbox.occupancy import Occupancy

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
StartResponse = Callable[..., Any]

CODEDEPLOY_TARGET_PREFIX = "CodeDeploy_20141006."
CONTROL_PREFIX = "/_sandbox/"
ECS_CREATE_SERVICE_TARGET = "AmazonEC2ContainerServiceV20141113.CreateService"
ECS_UPDATE_SERVICE_TARGET = "AmazonEC2ContainerServiceV20141113.UpdateService"
ECS_LIST_TASKS_TARGET = "AmazonEC2ContainerServiceV20141113.ListTasks"
ECS_CREATE_TASK_SET_TARGET = "AmazonEC2ContainerServiceV20141113.CreateTaskSet"
ECS_RUN_TASK_TARGET = "AmazonEC2ContainerServiceV20141113.RunTask"
ECS_STOP_TASK_TARGET = "AmazonEC2ContainerServiceV20141113.StopTask"
ECR_PUT_IMAGE_TARGET = "AmazonEC2ContainerRegistry_V20150921.PutImage"
ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
ECS_TASK_DEFINITION_USERS = (
    ECS_CREATE_SERVICE_TARGET,
    ECS_UPDATE_SERVICE_TARGET,
    ECS_CREATE_TASK_SET_TARGET,
)
INTERNAL_HEADER = "X-Bluegreen-Sandbox-Internal"
HOOK_MODES = ("succeed", "fail", "wait")
ENGINE_TICK_SECONDS = 0.02  # wall seconds between engine steps


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_non_loopback: bool) -> None:
    if not is_loopback(host) and not allow_non_loopback:
        raise UsageError(
            f"refusing to bind the sandbox to {host}: it has no authentication and must listen "
            "on loopback only",
            hint="use 127.0.0.1 (the default), or pass --allow-non-loopback if you really mean it",
        )


def credential_scope(environ: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(access key, region, service signing name) from a SigV4 Authorization header."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    start = auth.find(marker)
    if start < 0:
        return None, None, None
    scope = auth[start + len(marker) :].split(",", 1)[0].strip()
    parts = scope.split("/")
    if len(parts) != 5:
        return None, None, None
    return parts[0], parts[2], parts[3].lower()


def _json_response(
    start_response: StartResponse,
    status: int,
    body: Any,
    content_type: str = "application/json",
    extra_headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    data = json.dumps(body, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
    headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
    headers += extra_headers or []
    start_response(f"{status} {reason.get(status, 'Error')}", headers)
    return [data]


def throttling_response(
    environ: dict[str, Any], start_response: StartResponse, service: str | None = None
) -> list[bytes]:
    """The throttling error each protocol's clients expect (botocore retries all of them).
    EC2 answers RequestLimitExceeded in its own error document
    (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html)."""
    content_type = environ.get("CONTENT_TYPE", "")
    message = "Rate exceeded"
    request_id = secrets.token_hex(16)
    if service == "ec2":
        body = (
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
            "<Message>Request limit exceeded.</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
        start_response(
            "400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))]
        )
        return [body]
    if "json" in content_type:
        query_compatible = environ.get("HTTP_X_AMZN_QUERY_MODE", "").lower() == "true"
        if query_compatible:  # awsQueryCompatible services (CloudWatch): query error code
            return _json_response(
                start_response,
                400,
                {"__type": "Throttling", "message": message},
                "application/x-amz-json-1.0",
                [("x-amzn-query-error", "Throttling;Sender")],
            )
        return _json_response(
            start_response,
            400,
            {"__type": "ThrottlingException", "message": message},
            content_type,
        )
    xml = (
        '<ErrorResponse xmlns="http://webservices.amazon.com/AWSFault/2005-15-09">'
        "<Error><Type>Sender</Type><Code>Throttling</Code>"
        f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
        "</ErrorResponse>"
    ).encode()
    start_response(
        "400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))]
    )
    return [xml]


class SandboxServer:
    """moto + bluegreen's CodeDeploy engine + a control API, behind one loopback URL."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        time_scale: float = 1.0,
        hooks: str = "succeed",
        allow_non_loopback: bool = False,
    ) -> None:
        check_bind(host, allow_non_loopback)
        if hooks not in HOOK_MODES:
            raise UsageError(f"unknown hooks mode {hooks!r}; expected one of {HOOK_MODES}")
        if time_scale <= 0:
            raise UsageError(f"time scale must be positive, got {time_scale}")
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from bluegreen.sandbox.codedeploy.service import CodeDeployService
        from bluegreen.sandbox.ecs_native.api import EcsNative
        from bluegreen.sandbox.rolling import RollingEngine
        from bluegreen.sandbox.tasks import OneOffTasks

        self.host = host
        self.port = port
        self.clock = SandboxClock(time_scale)
        self.faults = FaultRegistry(self.clock)
        self.internal_token = secrets.token_hex(16)
        self._moto_app: WSGIApp = DomainDispatcherApplication(create_backend_app)
        self.rolling = RollingEngine(clock=self.clock, faults=self.faults)
        self.corrections = EcsCorrections(self._moto_app, self._after_ecs_update)
        self.tasks = OneOffTasks(clock=self.clock, faults=self.faults, moto_app=self._moto_app)
        self.ecr_corrections = EcrCorrections(self._moto_app)
        self.codedeploy = CodeDeployService(
            clock=self.clock,
            faults=self.faults,
            hooks=hooks,
            client_factory=self.internal_client,
            publish=self.rolling.publish_task_sets,
        )
        self.ecs_native = EcsNative(
            clock=self.clock,
            faults=self.faults,
            hooks_mode=lambda: self.codedeploy.hooks,
            client_factory=self.internal_client,
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._engine_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self._last_engine_error: str | None = None
        self.occupancy = Occupancy()

    # --- lifecycle --------------------------------------------------------------------------
    def _bind(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        if self._server is not None:
            return

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        self._server = make_server(
            self.host, self.port, self.wsgi, threaded=True, request_handler=QuietHandler
        )
        self.port = int(self._server.server_address[1])
        self._stopping.clear()
        self._engine_thread = threading.Thread(
            target=self._engine_loop, name="sandbox-engine", daemon=True
        )
        self._engine_thread.start()

    def start(self) -> None:
        """Serve in a background thread; return once the socket is listening."""
        self._bind()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sandbox-http", daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in the foreground until stop() or KeyboardInterrupt."""
        self._bind()
        server = self._server
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            if self._server is server:
                self._server = None
            self._stop_engine()

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        if self._thread is not None:
            server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
            server.server_close()
            self._server = None
            self._stop_engine()
        else:
            # serve_forever() runs in some other thread (or is the caller): ask its loop to
            # end without waiting here; serve_forever() closes the socket on its way out.
            threading.Thread(target=server.shutdown, daemon=True).start()

    def _stop_engine(self) -> None:
        self._stopping.set()
        if self._engine_thread is not None:
            self._engine_thread.join(timeout=10)
            self._engine_thread = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def reset(self) -> None:
        """Clear moto's state, the engines' state and every fault."""
        from moto.moto_api._internal.models import moto_api_backend

        with self.codedeploy.lock:
            self.faults.clear()
            self.codedeploy.reset()
            self.rolling.reset()
            self.tasks.reset()
            self.ecs_native.reset()
            moto_api_backend.reset()
            self.occupancy.reset()

    def _engine_loop(self) -> None:
        while not self._stopping.wait(ENGINE_TICK_SECONDS):
            for step in (
                self.codedeploy.tick,
                self.rolling.tick,
                self.ecs_native.tick,
                self.tasks.tick,
            ):
                try:
                    step()
                except Exception as exc:  # keep the engine alive; report each new error once
                    summary = f"{type(exc).__name__}: {exc}"
                    if summary != self._last_engine_error:
                        import traceback

                        traceback.print_exception(exc)
                    self._last_engine_error = summary

    def _after_ecs_update(self) -> None:
        """Once moto stored an UpdateService: native deployments start, rollouts step."""
        self.ecs_native.after_update()
        self.rolling.tick()

    # --- clients the engine uses to act on moto ------------------------------------------
    def internal_client(self, service: str, region: str) -> Any:
        """A boto3 client for moto through this endpoint that faults do not touch."""
        with self._clients_lock:
            key = (service, region)
            client = self._clients.get(key)
            if client is None:
                import boto3
                from botocore.config import Config

                client = boto3.session.Session().client(
                    service,  # type: ignore[call-overload]
                    region_name=region,
                    endpoint_url=self.url,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
                    config=Config(retries={"mode": "standard", "max_attempts": 3}),
                )
                token = self.internal_token

                def mark(request: Any, **_: Any) -> None:
                    request.headers[INTERNAL_HEADER] = token

                client.meta.events.register("before-sign", mark)
                self._clients[key] = client
            return client

    # --- WSGI -------------------------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api/reset"):
            self.occupancy.reset()
        internal = environ.get("HTTP_X_BLUEGREEN_SANDBOX_INTERNAL") == self.internal_token
        if internal or path.startswith((CONTROL_PREFIX, "/moto-api")):
            return self._serve(environ, start_response)
        operation = aws_errors.operation_of(environ)
        return self.occupancy.answer(self._serve, environ, start_response, operation)

    def _serve(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response, path[len(CONTROL_PREFIX) :])
        internal = (
            environ.get("HTTP_X_BLUEGREEN_SANDBOX_INTERNAL") == self.internal_token
            or path.startswith("/moto-api")  # moto's own control calls are not AWS traffic
        )
        _, region, service = credential_scope(environ)
        if region is not None and region not in aws_errors.known_regions():
            return aws_errors.invalid_region(environ, start_response, service, region)
        if not internal:
            operation = aws_errors.operation_of(environ)
            denied = self.faults.access_denied(service, operation)
            if denied is not None:
                return aws_errors.access_denied(environ, start_response, service, operation, denied)
            delay = self.faults.latency_ms(service)
            if delay:
                time.sleep(delay / 1000)
            if self.faults.should_throttle(service, operation, region):
                return throttling_response(environ, start_response, service)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target in ECS_TASK_DEFINITION_USERS:
            raw = _read_body(environ)
            environ["wsgi.input"] = io.BytesIO(raw)
            refused = self.corrections.refuse_inactive(environ, start_response, raw)
            if refused is not None:
                return refused
            environ["wsgi.input"] = io.BytesIO(raw)
        if target == ECS_CREATE_TASK_SET_TARGET:
            return self.corrections.create_task_set(environ, start_response, _read_body(environ))
        if target == ECS_CREATE_SERVICE_TARGET:
            raw = _read_body(environ)
            environ["wsgi.input"] = io.BytesIO(raw)
            problem = self.ecs_native.check_create(raw)
            if problem is not None:
                return _ecs_error(start_response, problem.code, problem.message)
            self.rolling.note_create_service(region or "us-east-1", raw)
            answer = list(self._moto_app(environ, start_response))
            self.rolling.apply_noted()
            self.ecs_native.after_create(region or "us-east-1", raw)
            return answer
        if target == ECS_UPDATE_SERVICE_TARGET:
            raw = _read_body(environ)
            problem = self.ecs_native.check_update(raw, region or "us-east-1")
            if problem is not None:
                return _ecs_error(start_response, problem.code, problem.message)
            try:
                return self.corrections.update_service(environ, start_response, raw)
            finally:
                self.ecs_native.discard_note()
        operation = target[len(ECS_TARGET_PREFIX) :]
        if target.startswith(ECS_TARGET_PREFIX) and operation in ECS_NATIVE_OPERATIONS:
            status, payload = self.ecs_native.handle(
                operation, _read_body(environ), region or "us-east-1"
            )
            if status != 200:
                return _ecs_error(start_response, payload["__type"], payload["message"])
            return _json_response(
                start_response,
                status,
                payload,
                "application/x-amz-json-1.1",
                [("x-amzn-RequestId", str(uuid.uuid4()))],
            )
        if target == ECR_PUT_IMAGE_TARGET:
            return self.ecr_corrections.put_image(environ, start_response, _read_body(environ))
        if target == ECS_LIST_TASKS_TARGET:
            return self.corrections.list_tasks(environ, start_response, _read_body(environ))
        if target == ECS_RUN_TASK_TARGET:
            return self.tasks.run_task(environ, start_response, _read_body(environ))
        if target == ECS_STOP_TASK_TARGET:
            return self.tasks.stop_task(environ, start_response, _read_body(environ))
        if target.startswith(CODEDEPLOY_TARGET_PREFIX):
            operation = target[len(CODEDEPLOY_TARGET_PREFIX) :]
            body = _read_body(environ)
            status, payload = self.codedeploy.handle(operation, body, region or "us-east-1")
            lost = None if internal else self.faults.lost_answer(operation)
            if lost is not None:  # carried out, but the caller never learns it
                return _lose_answer(environ, start_response, lost)
            # Every AWS answer, error or not, names its request in x-amzn-RequestId
            # (https://docs.aws.amazon.com/codedeploy/latest/APIReference/CommonParameters.html)
            return _json_response(
                start_response,
                status,
                payload,
                "application/x-amz-json-1.1",
                [("x-amzn-RequestId", str(uuid.uuid4()))],
            )
        return self._moto_app(environ, start_response)

    def _control(
        self, environ: dict[str, Any], start_response: StartResponse, name: str
    ) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            body = json.loads(_read_body(environ) or b"{}")
        except ValueError:
            return _json_response(start_response, 400, {"message": "body is not JSON"})
        if not isinstance(body, dict):
            return _json_response(start_response, 400, {"message": "body must be an object"})
        if name == "info" and method == "GET":
            return _json_response(start_response, 200, self.info())
        if name == "reset" and method == "POST":
            self.reset()
            return _json_response(start_response, 200, {"status": "ok"})
        if name == "settings" and method in ("GET", "POST"):
            try:
                self.apply_settings(body)
            except ValueError as exc:
                return _json_response(start_response, 400, {"message": str(exc)})
            return _json_response(start_response, 200, self.info())
        if name == "hooks" and method == "GET":
            return _json_response(start_response, 200, {"hooks": self.codedeploy.pending_hooks()})
        if name == "faults":
            if method == "GET":
                faults = [f.to_json() for f in self.faults.all()]
                return _json_response(start_response, 200, {"faults": faults})
            if method == "POST":
                try:
                    fault = self.faults.add(body)
                except FaultError as exc:
                    return _json_response(start_response, 400, {"message": str(exc)})
                return _json_response(start_response, 200, {"id": fault.id, **fault.to_json()})
            if method == "DELETE":
                self.faults.clear()
                return _json_response(start_response, 200, {"faults": []})
            return _json_response(start_response, 405, {"message": f"{method} not allowed"})
        return _json_response(start_response, 404, {"message": f"no control endpoint {name!r}"})

    def info(self) -> dict[str, Any]:
        return {
            "sandbox": "bluegreen",
            "version": __version__,
            "timeScale": self.clock.time_scale,
            "hooks": self.codedeploy.hooks,
            **self.occupancy.to_json(),
        }

    def apply_settings(self, body: dict[str, Any]) -> None:
        scale = body.get("timeScale")
        hooks = body.get("hooks")
        if scale is not None and (
            isinstance(scale, bool) or not isinstance(scale, int | float) or scale <= 0
        ):
            raise ValueError("timeScale must be a positive number")
        if hooks is not None and hooks not in HOOK_MODES:
            raise ValueError(f"hooks must be one of {', '.join(HOOK_MODES)}")
        if scale is not None:
            self.clock.set_time_scale(float(scale))
        if hooks is not None:
            self.codedeploy.hooks = hooks


def _ecs_error(start_response: StartResponse, code: str, message: str) -> list[bytes]:
    """An ECS error answer (JSON 1.1, HTTP 400), named by its request id as AWS's are."""
    return _json_response(
        start_response,
        400,
        {"__type": code, "message": message},
        "application/x-amz-json-1.1",
        [("x-amzn-RequestId", str(uuid.uuid4()))],
    )


def _lose_answer(environ: dict[str, Any], start_response: StartResponse, mode: str) -> list[bytes]:
    """The `lost-answer` fault: close the connection with nothing sent ("reset"), or answer
    500 InternalFailure ("error")."""
    sock = environ.get("werkzeug.socket")
    if mode == "reset" and sock is not None:
        import contextlib
        import socket

        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        # the headers never leave: writing them fails as a dropped connection, quietly
        start_response("500 Internal Server Error", [("Content-Length", "0")])
        return []
    return _json_response(
        start_response,
        500,
        {"__type": "InternalFailure", "message": "We encountered an internal error."},
        "application/x-amz-json-1.1",
    )


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None or length <= 0:
        return b""
    data: bytes = stream.read(length)
    return data
