"""The README's parameter tables from values.yaml's `## @section` / `## @param` comments.

    python chart/tools/readme_params.py            # print them
    python chart/tools/readme_params.py --write    # replace the README's "## Parameters" section (make chart-docs)

(The Bitnami readme-generator does the same from npm; this keeps it offline and dependency-free.)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

VALUES = Path(__file__).resolve().parents[1] / "todo-chatbot" / "values.yaml"
README = VALUES.with_name("README.md")
HEADING = "## Parameters\n"


def default_of(values: dict, path: str) -> str:
    node: object = values
    for key in path.split("."):
        node = node[key]  # type: ignore[index]
    if isinstance(node, str):
        return f'`"{node}"`'
    return "`" + yaml.safe_dump(node, default_flow_style=True).strip().removesuffix("...").strip() + "`"


def tables(text: str) -> str:
    values = yaml.safe_load(text)
    out: list[str] = []
    for line in text.splitlines():
        if section := re.match(r"^## @section (.+)$", line):
            out += [
                "",
                f"### {section.group(1)}",
                "",
                "| Name | Description | Default |",
                "| --- | --- | --- |",
            ]
        elif param := re.match(r"^\s*## @param (\S+) (.+)$", line):
            name, description = param.groups()
            out.append(f"| `{name}` | {description.replace('|', '/')} | {default_of(values, name)} |")
    return "\n".join(out).strip() + "\n"


def with_tables(readme: str, generated: str) -> str:
    """``readme`` with everything from "## Parameters" to the next level-2 heading replaced."""
    start = readme.index(HEADING) + len(HEADING)
    end = readme.find("\n## ", start)
    rest = readme[end + 1:] if end != -1 else ""
    return readme[:start] + "\n" + generated + ("\n" + rest if rest else "")


if __name__ == "__main__":
    generated = tables(VALUES.read_text())
    if sys.argv[1:] == ["--write"]:
        README.write_text(with_tables(README.read_text(), generated))
    elif sys.argv[1:]:
        sys.exit("usage: readme_params.py [--write]")
    else:
        sys.stdout.write(generated)
