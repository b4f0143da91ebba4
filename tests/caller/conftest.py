"""Fixtures for async_caller tests: callers in their own threads, always stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from async_caller import Caller

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def start_caller() -> Iterator[Callable[..., Caller]]:
    """Start callers in new threads; stop and join them all at teardown."""
    started: list[Caller] = []

    def start(backend: str = "asyncio", name: str | None = None) -> Caller:
        caller = Caller.start_new(backend=backend, name=name)
        started.append(caller)
        return caller

    yield start
    for caller in started:
        caller.stop()
        assert not caller.thread.is_alive()


@pytest.fixture(params=["asyncio", "trio"])
def thread_backend(request: pytest.FixtureRequest) -> str:
    """The backend of a caller started in another thread."""
    return request.param
