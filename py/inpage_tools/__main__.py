"""``python -m inpage_tools`` is the ``inpage`` command."""

import sys

from .cli import main

sys.exit(main())
