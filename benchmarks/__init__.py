"""Benchmarks for async-kernel and async-caller (run as modules: ``python -m benchmarks.kernel``)."""
