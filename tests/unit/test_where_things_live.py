"""README's "Where things live" map against the tree: every path it names exists, every module is named."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Folders whose every module a newcomer may open; each must have its line.
MAPPED_FOLDERS = ("contract", "stacks", "stacks/workflow", "lambdas", "pipeline", "simulator", "tools")
UNLISTED = {"__init__.py"}


def mapped_paths() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Where things live", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [line.split()[0] for line in block.group(1).splitlines() if line.strip()]


def test_every_path_the_map_names_exists() -> None:
    assert [path for path in mapped_paths() if not (REPO / path).exists()] == []


def test_every_module_is_on_the_map() -> None:
    named = set(mapped_paths())
    modules = {
        str(path.relative_to(REPO))
        for folder in MAPPED_FOLDERS
        for path in (REPO / folder).rglob("*")
        if path.suffix in (".py", ".mjs") and path.name not in UNLISTED and "__pycache__" not in path.parts
    }

    assert sorted(modules - named) == []
