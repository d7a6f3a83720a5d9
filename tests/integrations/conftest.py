"""The integration tests' fixtures: the demo CodeDeploy stack of tests/release, shared per
module."""

from __future__ import annotations

from tests.release.conftest import cli, module_stack, stack

__all__ = ["cli", "module_stack", "stack"]
