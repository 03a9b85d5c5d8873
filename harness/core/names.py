"""Random parts of names (namespaces, pods, tags, test users), so that runs never collide: the
e2e-framework's ``envconf.RandomName``. Here, below every layer, because the deploy layer and the
test kit both name things with it."""

from __future__ import annotations

import secrets
import string


def random_suffix(length: int = 6) -> str:
    """``length`` lower-case letters and digits: valid in any DNS-1123 label."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))
