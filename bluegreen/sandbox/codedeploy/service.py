"""CodeDeploy's JSON 1.1 front: decode a request, run the operation, encode the answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from bluegreen.sandbox.clock import SandboxClock
from bluegreen.sandbox.faults import FaultRegistry

ClientFactory = Callable[[str, str], Any]


class CodeDeployService:
    def __init__(
        self,
        *,
        clock: SandboxClock,
        faults: FaultRegistry,
        hooks: str,
        client_factory: ClientFactory,
    ) -> None:
        self.clock = clock
        self.faults = faults
        self.hooks = hooks
        self.client_factory = client_factory
        self.lock = threading.RLock()

    def reset(self) -> None:
        with self.lock:
            pass

    def tick(self) -> None:
        with self.lock:
            pass

    def handle(self, operation: str, raw: bytes, region: str) -> tuple[int, dict[str, Any]]:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"__type": "SerializationException", "message": "body is not JSON"}
        del body, region
        return 400, {
            "__type": "UnknownOperationException",
            "message": f"operation {operation} is not supported by the sandbox",
        }
