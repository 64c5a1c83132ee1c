"""``python -m dlnmc``: the ``dlnmc`` command without an installed entry point."""

import sys

from dlnmc.cli import main

sys.exit(main())
