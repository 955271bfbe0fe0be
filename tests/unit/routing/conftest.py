"""Fixtures for the routing tests."""

import pytest


@pytest.fixture
def fast() -> float:
    """Solver time limit for unit tests (seconds)."""
    return 0.5
