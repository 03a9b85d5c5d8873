"""Print the README's parameter tables from values.yaml's `## @section` / `## @param` comments.

    python chart/tools/readme_params.py > /tmp/params.md   # then paste under "## Parameters"

(The Bitnami readme-generator does the same from npm; this keeps it offline and dependency-free.)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

VALUES = Path(__file__).resolve().parents[1] / "todo-chatbot" / "values.yaml"


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


if __name__ == "__main__":
    sys.stdout.write(tables(VALUES.read_text()))
