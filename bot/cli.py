"""`signoff`: the operator's command line (users, audit, doctor; `sandbox` comes from a plug-in)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from bot.errors import SignoffError

# Other packages (the sandbox) add sub-commands through this entry-point group, so bot/ never
# imports them: each entry point is a callable that takes the sub-parsers object.
COMMAND_GROUP = "signoff.commands"

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def build_parser(plugins: Sequence[Register] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signoff", description="Approve AWS approval workflows from Slack."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in plugins:
        register(commands)
    return parser


def _plugins() -> list[Register]:
    return [ep.load() for ep in entry_points(group=COMMAND_GROUP)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(_plugins())
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except SignoffError as exc:
        print(f"signoff: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
