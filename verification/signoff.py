"""A person's sign-off of a MANUAL requirement (kubectl-ai, kagent, Docker Desktop, a person's time).

    make signoff ID=US4-2 RESULT=pass NOTE="kagent named the missing image and the load command"
    python -m verification.signoff --id US4-2 --result pass --note "…" [--who NAME]

Each signature records who, when, the result, the note and the fingerprint of the tree that was
signed (verification/fingerprint.py). It is kept in ``verification/signoffs.yaml``, which is
committed with the repository (a signature travels with the code it signed) and left out of the
fingerprint itself. The report shows the signature on the MANUAL row ("awaiting a person" when
there is none); a failed one is a FAIL; a signature of another tree is STALE until signed again.
"""

from __future__ import annotations

import argparse
import getpass
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from verification.fingerprint import changed_parts, tree_fingerprint
from verification.requirements import registry

SIGNOFFS = Path(__file__).with_name("signoffs.yaml")
RESULTS = ("pass", "fail")
MAX_NOTE = 2000  # characters: a note is a sentence or a paragraph, not a log


@dataclass(frozen=True)
class Signature:
    id: str
    result: str  # pass | fail
    note: str
    who: str
    when: str
    fingerprint: dict[str, str]


class SignoffError(ValueError):
    """A sign-off that cannot be recorded; the message names the argument and what is accepted."""


def load(path: Path = SIGNOFFS) -> dict[str, Signature]:
    """The latest signature of each ID (the file keeps every one, newest last)."""
    if not path.exists():
        return {}
    entries = yaml.safe_load(path.read_text()) or []
    return {entry["id"]: Signature(**entry) for entry in entries}


def _who() -> str:
    try:
        name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    return name or os.environ.get("USER") or getpass.getuser()


def sign(rid: str, result: str, note: str, who: str | None = None, path: Path = SIGNOFFS) -> Signature:
    """Append a signature for ``rid`` on the tree as it is now."""
    requirement = registry().get(rid)
    if requirement is None or not requirement.manual:
        manual = ", ".join(r.id for r in registry().values() if r.manual)
        raise SignoffError(f"ID={rid!r} is not a requirement a person signs off; those are: {manual}")
    if result not in RESULTS:
        raise SignoffError(f"RESULT={result!r}: say pass or fail")
    note = " ".join(note.split())
    if not note:
        raise SignoffError("NOTE is empty: say what you checked and what you saw")
    if len(note) > MAX_NOTE:
        raise SignoffError(f"NOTE is {len(note)} characters; at most {MAX_NOTE}")
    signature = Signature(rid, result, note, who or _who(), time.strftime("%Y-%m-%d %H:%M:%S %z"), tree_fingerprint())
    entries = (yaml.safe_load(path.read_text()) or []) if path.exists() else []
    entries.append(asdict(signature))
    path.write_text("# A person's sign-off of the MANUAL requirements: make signoff ID=… RESULT=pass|fail NOTE=…\n"
                    + yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))
    return signature


def signature_verdict(rid: str, signature: Signature | None, now: dict[str, str]):
    from verification.verdicts import Verdict

    command = f'make signoff ID={rid} RESULT=pass|fail NOTE="what you checked and saw"'
    if signature is None:
        return Verdict("MANUAL", "awaiting a person: follow its checklist in reports/acceptance.html, then sign",
                       command)
    said = f"signed {signature.result} by {signature.who} on {signature.when}: {signature.note}"
    if parts := changed_parts(signature.fingerprint, now):
        return Verdict("STALE", f"{said} — on another tree ({', '.join(parts)} changed since); sign again", command)
    if signature.result == "fail":
        return Verdict("FAIL", said)
    return Verdict("MANUAL", said)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Record a person's sign-off of a MANUAL requirement.")
    parser.add_argument("--id", required=True, help="the requirement ID, e.g. US4-2")
    parser.add_argument("--result", required=True, help="pass or fail")
    parser.add_argument("--note", default="", help="what you checked and what you saw")
    parser.add_argument("--who", default=None, help="your name (default: git config user.name, else $USER)")
    args = parser.parse_args(argv)
    try:
        signature = sign(args.id, args.result.lower(), args.note, args.who)
    except SignoffError as exc:
        print(f"signoff: {exc}", file=sys.stderr)
        return 2
    print(f"signoff: {signature.id} {signature.result} by {signature.who} recorded in "
          f"{SIGNOFFS.relative_to(SIGNOFFS.parents[1])}; commit it with the tree it signed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
