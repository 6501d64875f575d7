"""``python -m refaug.cli``: the same as the ``refaug`` console script."""

from __future__ import annotations

import sys

from refaug.cli.main import main

sys.exit(main())
