"""The rolling engine's tests: `stack` is the ECS-controller services of
tests/fixtures/rolling.py (the shared plugin's `stack` is the CodeDeploy demo stack)."""

from __future__ import annotations

import pytest

from tests.fixtures.rolling import Stack


@pytest.fixture
def stack(rolling_stack: Stack) -> Stack:
    return rolling_stack
