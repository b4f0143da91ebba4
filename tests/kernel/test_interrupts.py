"""The interrupt controller on its own, in this process."""

from __future__ import annotations

import threading

import pytest

from async_kernel.messaging._message import Channel, Message
from async_kernel.runtime._interrupts import CellState, InterruptController


def run_cell_until_interrupted(
    controller: InterruptController, state: CellState, running: threading.Event
) -> None:
    """A running cell: spins until the KeyboardInterrupt lands in it."""
    with controller.running(state, None, lambda: None, lambda: False):
        running.set()
        while True:
            pass


def test_without_signal_handlers_a_main_thread_cell_is_still_interrupted() -> None:
    """An embedded kernel that never installed the handlers must not signal itself to death.

    The kernel's own interrupt signal ends the process when nothing handles it; without the
    handlers the main thread's running cell gets its KeyboardInterrupt the way worker
    threads' cells do.
    """
    assert threading.current_thread() is threading.main_thread()
    controller = InterruptController()
    state = CellState(Message(channel=Channel.shell, header={"msg_type": "execute_request"}), 1)
    running = threading.Event()

    def interrupt_when_running() -> None:
        running.wait(10)
        controller.interrupt()

    interrupter = threading.Thread(target=interrupt_when_running)
    interrupter.start()
    with pytest.raises(KeyboardInterrupt):
        run_cell_until_interrupted(controller, state, running)
    interrupter.join()
    assert state.interrupted
