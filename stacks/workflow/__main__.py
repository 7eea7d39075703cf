"""``python -m stacks.workflow``: the definition of the config block on stdin (JSON; null for the defaults).

app.py runs this in a second process while it builds the stack, so the Data Science SDK's
import (seconds: it imports sagemaker) overlaps with the CDK's work instead of adding to it.
"""

from __future__ import annotations

import json
import sys

from stacks.config import ConfigError, load_config
from stacks.workflow import build_workflow_definition, render_definition


def main() -> int:
    try:
        config = load_config(json.loads(sys.stdin.read() or "null"))
    except (ConfigError, json.JSONDecodeError) as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(render_definition(build_workflow_definition(config)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
