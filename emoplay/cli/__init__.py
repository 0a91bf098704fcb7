"""The ``emoplay`` command: one module per subcommand, each with ``register(subparsers)``.

Thin by design: parse arguments, call the library, print. Only ``EmoplayError``
is caught; it becomes one line on stderr and exit code 2. Argument types and the
options several commands share are in ``_arguments``.
"""

from __future__ import annotations

import argparse
import sys

from .._errors import EmoplayError
from .._version import __version__
from . import bench, doctor, explain, log, serve, study, watch
from . import eval as eval_command
from ._arguments import check_detector_arguments

# In the order ``emoplay --help`` lists them.
COMMANDS = (watch, doctor, eval_command, log, bench, serve, explain, study)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emoplay", description="On-device facial emotion events for games.",
                                     allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"emoplay {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # say it with the usage of the command that was given (`watch --bogus`), not the top level's
        innermost_parser(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    if hasattr(args, "detector_range") and (problem := check_detector_arguments(args)):
        innermost_parser(parser, args).error(problem)
    try:
        return int(args.func(args) or 0)
    except EmoplayError as e:
        print(f"emoplay: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of our output left (`emoplay log show F | head`): stop quietly
        _quiet_stdout()
        return 1
    except KeyboardInterrupt:  # Ctrl-C before a command could take it (imports, model loading)
        return 130


def innermost_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the deepest subcommand that ``args`` chose (``emoplay log show`` -> show's parser)."""
    while True:
        chosen = None
        for action in parser._actions:  # argparse keeps its subcommands here, and nowhere public
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(args, action.dest, None) or "")
        if chosen is None:
            return parser
        parser = chosen


def _quiet_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's last flush does not fail on the closed pipe."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
