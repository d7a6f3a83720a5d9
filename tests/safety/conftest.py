"""Fixtures of the safety tests: the demo CodeDeploy stack of tests/release, shared."""

from tests.release.conftest import cli, module_stack, stack  # noqa: F401
