"""Is a JWT_SECRET random enough to sign tokens with HS256? (issue 27)

A denylist of placeholders let through any long phrase ("my-very-secret-jwt-signing-key-2024") and
the test secrets committed to this repository. Strength is now judged, not guessed at:

* the alphabet is inferred from what the value uses (hex, the base64 family, or printable ASCII),
  and length x log2(alphabet) must reach 256 bits, the key size HS256 needs;
* the value must look drawn from that alphabet: each class of characters (lower case, upper case,
  digits, symbols) must occur about as often as a random draw would make it (a chi-square test
  at a level a random value fails about once in a million draws), and it must use about as many
  distinct characters as a random draw (typed phrases repeat e, s, t and '-'; random values do not);
* a value committed to this repository (its SHA-256 is listed below) is refused whatever it looks like.

The chart applies the same rules (chart/todo-chatbot/templates/_helpers.tpl, jwtSecretProblem).
"""

from __future__ import annotations

import hashlib
import math
import string

HOW = "generate one with: openssl rand -hex 32"
MIN_BITS = 256
# chi-square above this, with at most 3 degrees of freedom: a random value lands there about once
# in ten thousand draws or less (measured: verification/unit/test_secret_strength.py), a phrase
# with words separated by '-' almost always.
MAX_CHI_SQUARE = 25.0
# At least this share of the distinct characters a random draw of the same length would use
# (about 4 standard deviations below the mean for 43 base64 characters, the shortest accepted).
MIN_DISTINCT_SHARE = 0.7

# SHA-256 of every JWT secret that has been committed to this repository (tests, docs, fixtures).
# verification/unit/test_secret_strength.py finds such literals and checks each is refused.
COMMITTED = frozenset({
    "a22e43b757efa4bba4c9cef8edfa7ce2f38e5e7e1b06672b60f7c4e91dfff8b8",  # harness/kube/values-test-secrets.yaml (until issue 27)
    "53d6ef4746130cd10e70b8037cbf1c7d4d3e3e8782383f63bf8b4443e2d19a90",  # images/backend/tests/backend_support.py (until issue 27)
    "d8cc93630304f67c76aad9b6107a291b06a52c356c6c8fdd1494ee502b718aaa",  # images/frontend/e2e/support.py (until issue 27)
    "7b3d979ca8330a94fa7e9e1b466d8b99e0bcdea1ec90596c0dcc8d7ef6b4300c",  # verification/mutants.yaml (a secret baked into the image)
    "a9736a20e6bdd281b6ccb0acecceea18bed81e1de95160a5b9feb76937f5d928",  # verification/mutants.yaml (a real-looking .env.example)
    "a7a1330b376fd6ef52467b30c13e64c7feffe1f8a45dc2c06e2adf50aa0041db",  # verification/static/test_chart_values.py
    "7acb5687c53f92959c271ee3a885bee2b03ac13fe0eca451d0d1c12f158d7f3d",  # images/backend/tests/test_backend_config.py
    "86dfd4ddbcd653d450911c387ecd4ae58c15346ec9e1f3dbed0c4e0f78745ff4",  # .env.example
})

_HEX = set(string.hexdigits)
_B64_SYMBOLS = set("+/-_")
_CLASSES = (
    ("lower", set(string.ascii_lowercase)),
    ("upper", set(string.ascii_uppercase)),
    ("digit", set(string.digits)),
)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _alphabet(secret: str) -> tuple[str, dict[str, int]]:
    """The alphabet's name and its classes with their sizes (only the classes the value uses,
    except for hex, whose letters and digits always go together)."""
    chars = set(secret)
    if chars <= set(string.digits + "abcdef") or chars <= set(string.digits + "ABCDEF"):
        return "hex", {"digit": 10, "letter": 6}
    core = set(secret.rstrip("="))  # base64 padding
    if core <= set(string.ascii_letters + string.digits) | _B64_SYMBOLS:
        if core & set(string.ascii_lowercase) and core & set(string.ascii_uppercase):
            # Both cases: base64 (a random one may lack digits or symbols by chance). Digits and the
            # two symbols count as one class here: two symbols alone are too rare to test fairly.
            return "base64", {"lower": 26, "upper": 26, "digit": 12}
        sizes = {name: len(members) for name, members in _CLASSES if core & members}
        if core & _B64_SYMBOLS:
            sizes["symbol"] = 2  # a base64 variant uses two: '+/' or '-_'
        return "base64", sizes
    sizes = {name: len(members) for name, members in _CLASSES if chars & members}
    others = len(string.printable.strip()) - 62
    if any(c not in string.ascii_letters + string.digits for c in chars):
        sizes["symbol"] = others
    return "printable", sizes


def _class_of(char: str, alphabet: str) -> str:
    if alphabet == "hex":
        return "digit" if char.isdigit() else "letter"
    for name, members in _CLASSES:
        if char in members:
            return name
    return "symbol"


def problem(secret: str) -> str | None:
    """Why ``secret`` is too weak, in words for a person (never quoting it); None when it is strong."""
    if digest(secret) in COMMITTED:
        return f"is a value committed to this repository (a test or documentation secret), not a secret; {HOW}"
    alphabet, sizes = _alphabet(secret)
    core = secret.rstrip("=") if alphabet == "base64" else secret
    n = len(core)
    k = sum(sizes.values())
    bits = n * math.log2(k) if k > 1 else 0.0
    if bits < MIN_BITS:
        need = math.ceil(MIN_BITS / math.log2(k)) if k > 1 else MIN_BITS
        return (f"is too short for its characters: {n} {alphabet} characters carry at most {bits:.0f} bits, "
                f"HS256 needs {MIN_BITS} (at least {need} such characters); {HOW}")
    counts = dict.fromkeys(sizes, 0)
    for char in core:
        name = _class_of(char, alphabet)
        counts[name if name in counts else "digit"] += 1  # both-case base64: symbols count with digits
    chi = sum((counts[c] - n * size / k) ** 2 / (n * size / k) for c, size in sizes.items())
    if chi > MAX_CHI_SQUARE:
        return f"does not look random (its mix of letters, digits and symbols is not what a random draw gives); {HOW}"
    expected = k * (1 - (1 - 1 / k) ** n)
    distinct = len(set(core))
    if distinct < MIN_DISTINCT_SHARE * expected:
        return (f"does not look random: {distinct} distinct characters where a random value of this length has "
                f"about {expected:.0f}; {HOW}")
    # One short unit repeated ("abcdefghijkl" * 4) has the strength of the unit alone.
    if (secret + secret).find(secret, 1) < len(secret):
        return f"is too predictable: one short pattern repeated; {HOW}"
    return None
