"""Cross-thread call benchmarks for async_caller (run: uv run python -m benchmarks.caller)."""
