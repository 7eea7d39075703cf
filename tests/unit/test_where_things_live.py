"""README's "Where things live" map against the tree: every path it names exists, every module is named."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Folders whose every module a newcomer may open; each must have its line.
MAPPED_FOLDERS = (
    "contract",
    "stacks",
    "stacks/workflow",
    "lambdas",
    "pipelinectl",
    "simulator",
    "simulator/personalize",
    "tools",
)
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


def test_no_code_outside_tests_imports_the_tests() -> None:
    """tools/, the simulator, the CLI and the stacks stand on their own; the tests import them, not back."""
    importers = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in (*MAPPED_FOLDERS, "app.py")
        for path in ([REPO / folder] if folder.endswith(".py") else (REPO / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.match(r"\s*(from|import) tests(\.|\s)", line)
    ]

    assert importers == []


def test_test_modules_share_helpers_not_each_other() -> None:
    """Shared fixtures and helpers live in conftest.py and helper modules; no test imports a test module."""
    importers = [
        f"{path.relative_to(REPO)}:{number}"
        for path in (REPO / "tests").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.match(r"\s*from tests\.[\w.]*\btest_\w+ import|\s*import tests\.[\w.]*\btest_", line)
    ]

    assert importers == []
