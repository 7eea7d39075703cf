"""The workflow definition, built in a second process while app.py builds the stack.

Synth needs the definition only when it writes the template, and building it costs mostly the
Data Science SDK's import. Started first and read last (through a lazy CDK token), that import
runs on the other core. Light module: no CDK or SDK import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class DefinitionBuildError(RuntimeError):
    """The definition could not be built; the message is the builder's own."""


class DefinitionBuild:
    """``python -m stacks.workflow`` for one config block, started at once, awaited by :meth:`text`."""

    def __init__(self, config_block: Any) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "stacks.workflow"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._input = json.dumps(config_block)
        self._text: str | None = None

    def text(self) -> str:
        """The definition's text, exactly as render_definition writes it."""
        if self._text is None:
            stdout, stderr = self._process.communicate(self._input)
            if self._process.returncode != 0:
                raise DefinitionBuildError(f"building the workflow definition failed:\n{stderr.strip()}")
            self._text = stdout
        return self._text
