"""``python -m tools.mutation``: see :mod:`tools.mutation`."""

import sys

from .cli import main

sys.exit(main())
