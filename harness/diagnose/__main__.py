"""`python -m harness.diagnose`: see harness.diagnose.cli."""

import sys

from harness.diagnose.cli import main

sys.exit(main(sys.argv[1:]))
