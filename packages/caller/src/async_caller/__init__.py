"""Run work in any thread or event loop and get a result that can be awaited or waited on anywhere."""

__all__: list[str] = []
