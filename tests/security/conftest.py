"""Security tests reuse the release tests' demo stack (one `sandbox stack` per module, built by
bluegreen.sandbox.stack.create_stack) and their in-process CLI runner."""

from __future__ import annotations

from tests.release.conftest import cli, module_stack, stack

__all__ = ["cli", "module_stack", "stack"]
