"""`ssd-resnet50`: detect, eval, train, export, optimize, convert, plot, serve from the command line.

One module a command (`detect.py`, `eval.py`, `train.py`, `export.py`, `optimize.py`, `convert.py`,
`plot.py`, `serve.py`), each with `SUMMARY`, `add_arguments(parser)` and `run(args) -> exit status`. This package
is the only place that parses arguments or uses `mindspore_hub`; the library below it never imports it.
"""
import argparse
import importlib
import logging
import sys

from mindspore_hub.errors import HubError

COMMANDS = ("detect", "eval", "train", "export", "optimize", "convert", "plot", "serve")  # module names in this package


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssd-resnet50", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ImportError as error:  # keep the other commands usable
            sub = commands.add_parser(name, help=f"(unavailable: {error})")
            sub.set_defaults(run=lambda args, error=error: _unavailable(args, error))
            continue
        sub = commands.add_parser(name, help=module.SUMMARY, description=module.__doc__.splitlines()[0])
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def _unavailable(args, error) -> int:
    print(f"error: `{args.command}` is unavailable: {error}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return args.run(args)
    except (OSError, ValueError, ImportError, ArithmeticError, HubError) as error:  # a message, not a traceback
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
