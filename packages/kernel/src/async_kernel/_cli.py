"""Command line entry point (placeholder until the CLI lands)."""


def main() -> None:
    """Run the async-kernel command line."""
    raise SystemExit("async-kernel: not implemented yet")
