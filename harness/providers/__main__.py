"""`python -m harness.providers`: see harness.providers.commands."""

import sys

from harness.providers.commands import main

sys.exit(main(sys.argv[1:]))
