"""The ``ppl-vae`` command: one module per command, each argument parsing and printing over the library
function of the same name in ``ppl_vae.commands``.

Heavy libraries (torch, Pyro, ArviZ, scikit-learn) load inside the commands that use them, so
``ppl-vae --help`` and ``ppl-vae list`` start fast. Every user error is one line,
``ppl-vae: error: <sentence>``; an error raised in a user's plugin is followed by its traceback.

May import every layer below it: mostly ``ppl_vae.commands``, and the few library names a command's
arguments or printing need (loading a run, reading an experiment, the process group of ``torchrun``).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from types import ModuleType

from ppl_vae.cli import classify, evaluate, gaps, latents, listing, ood, ppc, probe, quality, sample, sbc, train
from ppl_vae.core.errors import ConfigError, PluginError, UserError

COMMANDS: dict[str, ModuleType] = {
    "train": train,
    "sample": sample,
    "evaluate": evaluate,
    "ppc": ppc,
    "sbc": sbc,
    "gaps": gaps,
    "classify": classify,
    "latents": latents,
    "probe": probe,
    "ood": ood,
    "quality": quality,
    "list": listing,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ppl-vae", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        command = commands.add_parser(name, help=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and args.command != "train":
            raise ConfigError(f"only 'train' runs under torchrun; run 'ppl-vae {args.command}' as one process")
        args.handler(args)
        sys.stdout.flush()  # inside the try: a reader that has left is met here, not at exit
    except BrokenPipeError:  # the reader of the output left early (ppl-vae ... | head): stop without a traceback
        _silence_stdout()
        return 1
    except PluginError as error:
        print(f"ppl-vae: error: {' '.join(str(error).split())}", file=sys.stderr)
        traceback.print_exception(error.__cause__, file=sys.stderr)
        return 1
    except UserError as error:
        print(f"ppl-vae: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "ppl-vae: interrupted; the last finished epoch is in the run's checkpoint "
            "(continue with ppl-vae train --resume RUN_DIR)",
            file=sys.stderr,
        )
        return 130
    return 0


def _silence_stdout() -> None:
    """Point standard output at the null device, so that Python's flush at exit does not meet the closed pipe again
    (the recipe of Python's documentation of ``signal``, "Note on SIGPIPE")."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # standard output without a file descriptor (captured): nothing to flush there
        pass


if __name__ == "__main__":
    sys.exit(main())
