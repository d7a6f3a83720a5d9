"""The demo CodeDeploy stack of tests/release, for the status and history tests."""

from __future__ import annotations

from tests.release.conftest import cli, module_stack, stack

__all__ = ["cli", "module_stack", "stack"]
