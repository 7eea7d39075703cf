"""docs/aws-behaviour.md: every AWS behaviour the code relies on, with its source, and the code citing it.

A citation is ``register <id>`` (any case, the id optionally in backticks) in a comment or
docstring of the code, the simulator, the tools or the tests.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REGISTER = REPO / "docs" / "aws-behaviour.md"
CITED_IN = ("contract", "simulator", "stacks", "lambdas", "pipelinectl", "tools", "tests")
CITATION = re.compile(r"[Rr]egister\s+`{0,2}([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+)`{0,2}")
ENTRY = re.compile(r"^### `([^`]+)`\n(.*?)(?=^### |^## |\Z)", re.MULTILINE | re.DOTALL)


def entries() -> dict[str, str]:
    return dict(ENTRY.findall(REGISTER.read_text()))


def citations() -> dict[str, set[str]]:
    """Entry id -> the files citing it."""
    found: dict[str, set[str]] = {}
    for folder in CITED_IN:
        for path in (REPO / folder).rglob("*.py"):
            for entry_id in CITATION.findall(path.read_text()):
                found.setdefault(entry_id, set()).add(str(path.relative_to(REPO)))
    return found


def test_every_citation_names_an_entry_of_the_register() -> None:
    unknown = {entry_id: sorted(files) for entry_id, files in citations().items() if entry_id not in entries()}

    assert unknown == {}, "add the entry to docs/aws-behaviour.md, or fix the id"


def test_every_entry_gives_its_source_and_whether_it_is_documented_or_assumed() -> None:
    problems = []
    for entry_id, body in entries().items():
        if "- **Source:**" not in body:
            problems.append(f"{entry_id}: no Source")
        status = re.search(r"- \*\*Status:\*\* (documented|assumed)", body)
        if status is None:
            problems.append(f"{entry_id}: Status must start with documented or assumed")
        if "assumed" in body.split("- **Status:**")[-1].split("\n- **")[0] and "Check on a real account:" not in body:
            problems.append(f"{entry_id}: assumed, but says nothing of what a real account should check")
    assert problems == []
    assert len(entries()) >= 25


def test_every_entry_is_cited_by_the_code_or_its_tests() -> None:
    cited = citations()

    assert [entry_id for entry_id in entries() if entry_id not in cited] == []


def test_the_acceptance_test_observes_only_entries_of_the_register() -> None:
    from tools.acceptance import OBSERVATIONS

    assert [entry_id for entry_id, _ in OBSERVATIONS if entry_id not in entries()] == []
