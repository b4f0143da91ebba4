"""The wire format (messages, codec, connection files) and the transports that carry it.

The lowest layer: it imports nothing else of the kernel. Importing this package loads nothing
heavy (Pyodide has no pyzmq; ``messaging.zmq`` is imported only where ZeroMQ is used).
"""
