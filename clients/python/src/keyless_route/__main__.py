"""``python -m keyless_route exec … -- <command>``."""

import sys

from .cli import main

sys.exit(main())
