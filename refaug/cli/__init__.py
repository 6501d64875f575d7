"""The ``refaug`` command line: the only part of refaug that prints.

One module per group of commands: :mod:`refaug.cli.main` (the parser, ``demo``, ``load``,
``run``, ``export``, ``publish``), :mod:`refaug.cli.prompts` (``prompts``, ``views``) and
:mod:`refaug.cli.mine` (``mine``, ``calibrate``). A module adds its commands with
``register(subparsers)``, listed in :data:`refaug.cli.main.COMMAND_MODULES`.
"""

from __future__ import annotations

from refaug.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
