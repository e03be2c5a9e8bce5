"""Build the static site from a checkout: the same build as `inpage build` (see py/inpage_tools/bundle/).

    python build/build_site.py [--out dist] [--project DIR] [--only web,runtime,python,models] [--quiet]
"""

import sys
from pathlib import Path

# The checkout's package, whether or not it is installed in this Python.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "py"))

from inpage_tools.bundle import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
