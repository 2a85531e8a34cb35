"""Command-line entry: argparse sub-commands for the TUI and the one-shot commands.

The CLI is the only place that prints; every error reaches the user as one line on
stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app import __version__


class CliError(Exception):
    """A problem to report to the user as one line, with an exit code."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="readmark",
        description="Keyboard-driven terminal read-state manager for Matrix.",
    )
    parser.add_argument("--version", action="version", version=f"readmark {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the TUI against a private local Synapse with a seeded account")
    demo.add_argument("--reset", action="store_true", help="start the demo homeserver from scratch")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        raise CliError("readmark demo: not yet implemented", exit_code=1)
    raise CliError("the TUI is not yet implemented; see `readmark --help`", exit_code=1)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except CliError as error:
        print(f"readmark: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("readmark: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
