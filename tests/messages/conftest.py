"""Messages at the edges (a wrong name, the wrong phase), through the CLI against the sandbox:
the release tests' demo CodeDeploy stack, and the parity tests' rolling and ECS-native ones."""

from __future__ import annotations

from tests.engines.ecs_native.conftest import native
from tests.release.conftest import cli, module_stack, stack

__all__ = ["cli", "module_stack", "native", "stack"]
