"""Tests for async_kernel.debugger._debugpy_client: DAP framing, request numbering, events, closing.

A small TCP server in the test plays debugpy's adapter, so the client's real socket code runs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from async_kernel.debugger._debugpy_client import DebugpyClient, DebugpyClosedError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from anyio.abc import SocketStream

pytestmark = pytest.mark.anyio


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


async def read_request(stream: SocketStream, buffer: bytearray) -> dict[str, Any]:
    """Read one framed request from the client (the adapter's side)."""
    while b"\r\n\r\n" not in buffer:
        buffer.extend(await stream.receive())
    header, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = int(header.split(b":")[1])
    while len(rest) < length:
        rest += await stream.receive()
    buffer[:] = rest[length:]
    return json.loads(rest[:length])


class FakeAdapter:
    """Accepts one connection; the test scripts what it sends back."""

    def __init__(self) -> None:
        self.connected = anyio.Event()
        self.stream: SocketStream | None = None
        self.buffer = bytearray()

    async def handle(self, stream: SocketStream) -> None:
        async with stream:
            self.stream = stream
            self.connected.set()
            await anyio.sleep_forever()

    async def next_request(self) -> dict[str, Any]:
        assert self.stream is not None
        return await read_request(self.stream, self.buffer)

    async def send(self, data: bytes) -> None:
        assert self.stream is not None
        await self.stream.send(data)


@pytest.fixture
async def connected(
    anyio_backend: str,
) -> AsyncIterator[tuple[DebugpyClient, FakeAdapter, list[dict[str, Any]]]]:
    """A client connected to a fake adapter, its reader running; the messages it delivered."""
    del anyio_backend
    adapter = FakeAdapter()
    delivered: list[dict[str, Any]] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, adapter.handle)
        client = await DebugpyClient.connect("127.0.0.1", port, delivered.append)
        tasks.start_soon(client.read_forever)
        with anyio.fail_after(5):
            await adapter.connected.wait()
        yield client, adapter, delivered
        await client.aclose()
        tasks.cancel_scope.cancel()
    await listener.aclose()


Connected = tuple[DebugpyClient, FakeAdapter, list[dict[str, Any]]]


async def answer(adapter: FakeAdapter, respond: Callable[[dict[str, Any]], list[bytes]]) -> None:
    request = await adapter.next_request()
    for data in respond(request):
        await adapter.send(data)


async def test_response_found_by_request_seq_whatever_the_order(connected: Connected) -> None:
    """Responses may come in any order and split across reads; each reaches its request."""
    client, adapter, delivered = connected
    with anyio.fail_after(5):
        first = await client.send_request("threads")
        second = await client.send_request("evaluate", {"expression": "1"})
        requests = [await adapter.next_request(), await adapter.next_request()]
        assert [(r["seq"], r["command"]) for r in requests] == [
            (first, "threads"),
            (second, "evaluate"),
        ]
        assert requests[1]["arguments"] == {"expression": "1"}
        answers = frame({"type": "response", "request_seq": second, "success": True}) + frame(
            {
                "type": "response",
                "request_seq": first,
                "success": True,
                "body": {"threads": []},
            }
        )
        for index in range(0, len(answers), 7):  # dribbled out in small pieces
            await adapter.send(answers[index : index + 7])
        assert (await client.response(first))["body"] == {"threads": []}
        assert (await client.response(second))["success"] is True
    assert [m["request_seq"] for m in delivered] == [second, first]


async def test_events_go_to_the_callback_and_to_waiters(connected: Connected) -> None:
    """An event is delivered in order, and wakes a waiter that asked for it beforehand."""
    client, adapter, delivered = connected
    initialized = client.expect_event("initialized")
    with anyio.fail_after(5):
        await adapter.send(frame({"type": "event", "event": "output", "body": {"output": "x"}}))
        await adapter.send(frame({"type": "event", "event": "initialized"}))
        assert (await initialized())["event"] == "initialized"
    assert [m["event"] for m in delivered] == ["output", "initialized"]


async def test_closed_connection_fails_pending_requests(connected: Connected) -> None:
    """When the adapter goes away, waiting requests fail instead of hanging."""
    client, adapter, _ = connected
    with anyio.fail_after(5):
        seq = await client.send_request("threads")
        await adapter.next_request()
        assert adapter.stream is not None
        await adapter.stream.aclose()
        with pytest.raises(DebugpyClosedError):
            await client.response(seq)
        assert client.closed
        with pytest.raises(DebugpyClosedError):
            await client.request("threads")


async def test_message_that_is_not_json_is_skipped(connected: Connected) -> None:
    """A garbled body is logged and skipped; the next message still arrives."""
    client, adapter, delivered = connected
    with anyio.fail_after(5):
        seq = await client.send_request("threads")
        await adapter.next_request()
        await adapter.send(b"Content-Length: 5\r\n\r\n{nope")
        await adapter.send(frame({"type": "response", "request_seq": seq, "success": False}))
        assert (await client.response(seq))["success"] is False
    assert len(delivered) == 1
