"""`python -m harness.localk8s`: see harness.localk8s.cluster."""

import sys

from harness.localk8s.cluster import main

sys.exit(main(sys.argv[1:]))
