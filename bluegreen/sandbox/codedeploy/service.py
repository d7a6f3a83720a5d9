"""CodeDeploy's JSON 1.1 front: decode a request, run the operation under the service lock,
encode the answer; and the engine's tick."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from bluegreen.sandbox.clock import SandboxClock
from bluegreen.sandbox.codedeploy.actions import AwsActions
from bluegreen.sandbox.codedeploy.api import CodeDeployApi
from bluegreen.sandbox.codedeploy.engine import Engine
from bluegreen.sandbox.codedeploy.models import ApiError, JsonDict
from bluegreen.sandbox.faults import FaultRegistry

ClientFactory = Callable[[str, str], Any]
Publish = Callable[[str, str, str, dict[str, tuple[int, int, int]]], None]


class CodeDeployService:
    def __init__(
        self,
        *,
        clock: SandboxClock,
        faults: FaultRegistry,
        hooks: str,
        client_factory: ClientFactory,
        publish: Publish | None = None,
    ) -> None:
        self.clock = clock
        self.faults = faults
        self.hooks = hooks
        self.client_factory = client_factory
        self.publish = publish
        self.lock = threading.RLock()
        self._build()

    def _build(self) -> None:
        def actions(region: str) -> AwsActions:
            return AwsActions(self.client_factory, region)

        self.engine = Engine(
            clock=self.clock,
            faults=self.faults,
            hooks_mode=lambda: self.hooks,
            actions=actions,
            configs=lambda state, name: state.configs.get(name),
            publish=self.publish,
        )
        self.api = CodeDeployApi(engine=self.engine, actions=actions, wall=self.clock.wall)

    def reset(self) -> None:
        with self.lock:
            self._build()

    def tick(self) -> None:
        with self.lock:
            self.engine.tick(self.api.states)

    def pending_hooks(self) -> list[JsonDict]:
        """Hook executions waiting for PutLifecycleEventHookExecutionStatus (the sandbox has no
        Lambda to invoke, so tests and rehearsals read the execution ids here)."""
        with self.lock:
            return [
                h.to_json()
                for h in self.engine.hook_executions.values()
                if h.status not in ("Succeeded", "Failed")
            ]

    def handle(self, operation: str, raw: bytes, region: str) -> tuple[int, JsonDict]:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"__type": "SerializationException", "message": "The body is not JSON."}
        if not isinstance(body, dict):
            return 400, {
                "__type": "SerializationException",
                "message": "The body is not an object.",
            }
        try:
            with self.lock:
                result = self.api.call(operation, body, region)
        except ApiError as exc:
            return 400, {"__type": exc.code, "message": exc.message}
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            return 400, {"__type": "InvalidInputException", "message": f"Invalid input: {exc}"}
        return 200, result
