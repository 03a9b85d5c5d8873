"""`python -m harness.images`: see harness.images.build."""

import sys

from harness.images.build import main

sys.exit(main(sys.argv[1:]))
