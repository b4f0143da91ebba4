"""Shared test configuration: the anyio backends every async test runs on."""

from __future__ import annotations

import importlib.util

import pytest

_TRIO_MISSING = importlib.util.find_spec("trio") is None


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param(
            "trio",
            id="trio",
            marks=pytest.mark.skipif(_TRIO_MISSING, reason="trio is not installed"),
        ),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each anyio test on asyncio and on trio."""
    return request.param
