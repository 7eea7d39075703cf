"""The emitted workflow definition as a graph of steps a person reads.

The definition has about 70 states, most of them the "wait until ready" fragments (check,
decide, wait, count, failed, timed out) that stacks/workflow/waits.py builds for each stage. Here
each fragment becomes one step, and the states that only lead to a Fail state are folded into
it, so the picture (pipelinectl.picture) and the live view (pipelinectl.run_view) show what a run
does rather than how it polls. Everything is read from the definition; nothing is restated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from contract.wait_states import SCOPE_SEPARATOR, WaitStateNames

TASK, WAIT, CHOICE, PASS, SUCCEED, FAIL = "Task", "Wait", "Choice", "Pass", "Succeed", "Fail"
PARALLEL = "Parallel"


@dataclass(frozen=True)
class Step:
    """One node of the readable graph: a state, or a whole wait fragment (``kind`` WAIT)."""

    id: str
    name: str
    kind: str
    states: tuple[str, ...]
    max_checks: int | None = None
    wait: WaitStateNames | None = None  # the fragment's names, for a WAIT step
    # On a solution's branch (several solutions): the solution's name, which starts its state names.
    scope: str = ""

    @property
    def label(self) -> str:
        if self.kind == WAIT and self.max_checks is not None:
            return f"{self.name} (at most {self.max_checks} checks)"
        return self.name

    @property
    def can_fail(self) -> bool:
        """Steps that do work (and so may end the run in its failure state)."""
        return self.kind in (TASK, WAIT)


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    label: str
    failure: bool


@dataclass
class WorkflowGraph:
    """Steps in definition order, transitions between them, and where each state belongs."""

    start: str
    steps: dict[str, Step]
    transitions: list[Transition]
    step_of_state: dict[str, str] = field(default_factory=dict)
    # A Parallel step's branches (several solutions: one per solution), each a graph of its own.
    branches: dict[str, list[WorkflowGraph]] = field(default_factory=dict)

    def step_for(self, state_name: str) -> Step | None:
        """The step a state belongs to, on the main path or on a branch."""
        step_id = self.step_of_state.get(state_name)
        if step_id is not None:
            return self.steps.get(step_id)
        for graphs in self.branches.values():
            for branch in graphs:
                step = branch.step_for(state_name)
                if step is not None:
                    return step
        return None

    @property
    def failure_steps(self) -> list[Step]:
        return [step for step in self.steps.values() if step.kind == FAIL]


def wait_fragments(states: dict[str, Any]) -> Iterator[WaitStateNames]:
    """The wait fragments of a definition: a ``Check X`` Task whose Next is ``X ready?`` (or ``X visible?``)."""
    for name, state in states.items():
        names = WaitStateNames.from_check_state(name)
        if names and state.get("Type") == TASK and state.get("Next") in (names.decide, names.visible):
            yield names


def ready_status(decide: dict[str, Any]) -> str:
    """The status that ends a wait: the first rule of its ``X ready?`` Choice (ACTIVE, or COMPLETED
    for a data deletion job)."""
    return str(decide["Choices"][0].get("StringEquals", "ACTIVE"))


def build_graph(definition: dict[str, Any]) -> WorkflowGraph:
    states: dict[str, Any] = definition["States"]
    step_of_state: dict[str, str] = {}
    steps: dict[str, Step] = {}
    for names in wait_fragments(states):
        members = tuple(name for name in names.all if name in states)
        step = Step(
            id=f"WaitFor{_identifier(names.scope)}{names.key}",
            name=(f"{names.scope}{SCOPE_SEPARATOR}" if names.scope else "")
            + f"Wait until {names.stage} is {ready_status(states[names.decide])}",
            kind=WAIT,
            states=members,
            max_checks=_max_checks(states[names.decide]),
            wait=names,
            scope=names.scope,
        )
        steps[step.id] = step
        step_of_state.update({member: step.id for member in members})
    failure_only = _failure_only_states(states)
    for name, state in states.items():
        if name in step_of_state:
            continue
        if name in failure_only and not _is_failure_end(state):
            continue  # folded into the Fail state it leads to, below
        scope, separator, _ = name.partition(SCOPE_SEPARATOR)
        kind = FAIL if _is_failure_end(state) else state["Type"]
        step = Step(id=_identifier(name), name=name, kind=kind, states=(name,), scope=scope if separator else "")
        steps[step.id] = step
        step_of_state[name] = step.id
    for name in failure_only:
        if name not in step_of_state:
            step_of_state[name] = step_of_state[_fail_state_reached(states, name)]
    ordered = _in_definition_order(steps, states, step_of_state)
    transitions = _transitions(states, step_of_state, failure_only, ordered)
    branches = {
        step_of_state[name]: [build_graph(branch) for branch in state["Branches"]]
        for name, state in states.items()
        if state["Type"] == PARALLEL
    }
    return WorkflowGraph(definition["StartAt"], ordered, transitions, step_of_state, branches)


def _max_checks(decide: dict[str, Any]) -> int | None:
    for choice in decide.get("Choices", []):
        if "NumericGreaterThanEquals" in choice:
            return int(choice["NumericGreaterThanEquals"])
    return None


def _identifier(name: str) -> str:
    """A Mermaid-safe id: the state name's words, capitalised and joined."""
    words = "".join(c if c.isalnum() else " " for c in name).split()
    return "".join(word[:1].upper() + word[1:] for word in words)


def _targets(state: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(target, label, is_catch) for every way out of a state."""
    if "Next" in state:
        yield state["Next"], "", False
    for choice in state.get("Choices", []):
        yield choice["Next"], describe_rule(choice), False
    if "Default" in state:
        yield state["Default"], "otherwise", False
    for catch in state.get("Catch", []):
        yield catch["Next"], "error", True


def _failure_only_states(states: dict[str, Any]) -> set[str]:
    """States from which every path ends in a Fail state, or on a solution's branch in its failed outcome
    (those ends included)."""
    result = {name for name, state in states.items() if _is_failure_end(state)}
    changed = True
    while changed:
        changed = False
        for name, state in states.items():
            if name in result or state["Type"] in (SUCCEED, CHOICE, PARALLEL) or state.get("End"):
                continue
            targets = [target for target, _, is_catch in _targets(state) if not is_catch]
            if targets and all(target in result for target in targets):
                result.add(name)
                changed = True
    return result


def _is_failure_end(state: dict[str, Any]) -> bool:
    """A Fail state, or the end of a solution's branch with the solution failed (stacks/workflow/builder.py)."""
    if state["Type"] == FAIL:
        return True
    parameters = state.get("Parameters") or {}
    return state["Type"] == PASS and bool(state.get("End")) and parameters.get("outcome") == "failed"


def _fail_state_reached(states: dict[str, Any], name: str) -> str:
    while not _is_failure_end(states[name]):
        name = states[name]["Next"]
    return name


def _in_definition_order(
    steps: dict[str, Step], states: dict[str, Any], step_of_state: dict[str, str]
) -> dict[str, Step]:
    """Steps in the order a run reaches them (breadth-first from StartAt), failure states last."""
    order: list[str] = []
    queue = [next(iter(states))]
    seen: set[str] = set()
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        step_id = step_of_state[name]
        if step_id not in order and steps[step_id].kind != FAIL:
            order.append(step_id)
        queue.extend(target for target, _, _ in _targets(states[name]))
    order += [step_id for step_id, step in steps.items() if step_id not in order]
    return {step_id: steps[step_id] for step_id in order}


def _transitions(
    states: dict[str, Any], step_of_state: dict[str, str], failure_only: set[str], steps: dict[str, Step]
) -> list[Transition]:
    """Transitions between steps; the one way out of a wait that is not a failure is its ready status."""
    transitions: list[Transition] = []
    seen: set[tuple[str, str]] = set()
    for name, state in states.items():
        source = step_of_state[name]
        if name in failure_only:
            continue
        for target_state, label, is_catch in _targets(state):
            target = step_of_state[target_state]
            if target == source or (source, target) in seen:
                continue
            seen.add((source, target))
            failure = is_catch or target_state in failure_only
            if steps[source].kind == WAIT and not failure:
                wait = steps[source].wait
                label = ready_status(states[wait.decide]) if wait is not None else "ACTIVE"
            transitions.append(Transition(source, target, label, failure))
    return transitions


def describe_rule(rule: dict[str, Any]) -> str:
    """A Choice rule in a few words: ``data.unchanged``, ``campaign.action is updated``."""
    if "And" in rule:
        return " and ".join(describe_rule(r) for r in rule["And"])
    if "Or" in rule:
        return " or ".join(describe_rule(r) for r in rule["Or"])
    if "Not" in rule:
        return f"not {describe_rule(rule['Not'])}"
    variable = str(rule.get("Variable", "")).removeprefix("$.")
    for operator, value in rule.items():
        if operator in ("Variable", "Next"):
            continue
        if operator == "IsPresent":
            return f"{variable} present" if value else f"{variable} absent"
        if operator.startswith("Is"):  # IsString, IsNumeric, IsBoolean, IsNull, IsTimestamp
            kind = operator.removeprefix("Is").lower()
            return f"{variable} is a {kind}" if value else f"{variable} is not a {kind}"
        if operator == "BooleanEquals":
            return variable if value else f"not {variable}"
        if operator.startswith("String"):
            return f"{variable} is {value}"
        if operator.startswith("Numeric"):
            return f"{variable} {_NUMERIC[operator]} {value}"
    raise ValueError(f"no description for Choice rule {rule}")


_NUMERIC = {
    "NumericEquals": "=",
    "NumericLessThan": "<",
    "NumericGreaterThan": ">",
    "NumericLessThanEquals": "<=",
    "NumericGreaterThanEquals": ">=",
}
