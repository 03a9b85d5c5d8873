"""`python -m harness.diagnose`: see harness.diagnose.rules."""

import sys

from harness.diagnose.rules import main

sys.exit(main(sys.argv[1:]))
