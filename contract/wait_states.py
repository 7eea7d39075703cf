"""Names of the states of one "wait until ready" fragment.

The workflow builder (stacks/workflow/waits.py) names the states of each fragment from its stage;
the workflow picture and the command-line tool read those names back out of the emitted
definition to show each fragment as one step. Keeping the scheme here means the three agree.
"""

from __future__ import annotations

from dataclasses import dataclass

CHECK_PREFIX = "Check "
# Between a solution's name and a state name on its branch.
SCOPE_SEPARATOR = ": "


@dataclass(frozen=True)
class WaitStateNames:
    """The states waiting for one stage, e.g. ``dataset group``, to become ACTIVE."""

    stage: str
    # On a solution's branch (several solutions): the solution's name, before every state name
    # (``picks: Check solution version``), since state names are unique in the whole state machine.
    scope: str = ""

    @classmethod
    def from_check_state(cls, state_name: str) -> WaitStateNames | None:
        """The fragment whose first state is ``state_name`` (``Check dataset group``, or on a
        solution's branch ``picks: Check solution version``), if it is one."""
        scope, separator, rest = state_name.partition(SCOPE_SEPARATOR)
        if separator and rest.startswith(CHECK_PREFIX):
            return cls(rest.removeprefix(CHECK_PREFIX), scope)
        if not state_name.startswith(CHECK_PREFIX):
            return None
        return cls(state_name.removeprefix(CHECK_PREFIX))

    def _scoped(self, name: str) -> str:
        return f"{self.scope}{SCOPE_SEPARATOR}{name}" if self.scope else name

    @property
    def label(self) -> str:
        """``Dataset group``: the stage at the start of a state name."""
        return self.stage[0].upper() + self.stage[1:]

    @property
    def key(self) -> str:
        """``DatasetGroup``: names the stage's check counter, its last answer and its errors."""
        return self.stage.title().replace(" ", "")

    @property
    def check(self) -> str:
        return self._scoped(f"{CHECK_PREFIX}{self.stage}")

    @property
    def decide(self) -> str:
        return self._scoped(f"{self.label} ready?")

    @property
    def visible(self) -> str:
        """Only in a fragment that waits for one version: is the answer about that version yet?"""
        return self._scoped(f"{self.label} visible?")

    @property
    def not_visible(self) -> str:
        return self._scoped(f"{self.label} not visible yet")

    @property
    def never_visible(self) -> str:
        return self._scoped(f"{self.label} never visible")

    @property
    def wait(self) -> str:
        return self._scoped(f"Wait for {self.stage}")

    @property
    def count(self) -> str:
        return self._scoped(f"Count {self.stage} check")

    @property
    def failed(self) -> str:
        return self._scoped(f"{self.label} failed")

    @property
    def failed_without_reason(self) -> str:
        return self._scoped(f"{self.label} failed without a reason")

    @property
    def timed_out(self) -> str:
        return self._scoped(f"{self.label} timed out")

    @property
    def all(self) -> tuple[str, ...]:
        return (
            self.check,
            self.visible,
            self.not_visible,
            self.never_visible,
            self.decide,
            self.wait,
            self.count,
            self.failed,
            self.failed_without_reason,
            self.timed_out,
        )
