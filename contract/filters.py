"""Personalize filter expressions: parsed once, checked against the datasets, evaluated offline.

One grammar for three readers: the config validator (a malformed expression, or one naming a
field no dataset has, stops synth with the reason), the simulator (CreateFilter answers
InvalidInputException for the same reasons, and GetRecommendations applies the filter), and the
command-line tool (which configured filter excludes seen items, which takes ``$GENRES``).

The grammar, from the developer guide's "Filter expression elements" and "Guidelines and
requirements" (register personalize.filters.expressions)::

    expression := clause ( "|" clause )*
    clause     := (INCLUDE | EXCLUDE) ItemID WHERE condition ( (AND | OR) condition )*
    condition  := Dataset.FIELD (IN | NOT IN) ( values )
                | Dataset.FIELD (= | < | > | <= | >=) value
    values     := "text" ( , "text" )* | $PARAMETER
    Dataset    := Interactions | Items

Item recommendations filter ``ItemID``. Interactions can be filtered on ``EVENT_TYPE`` only, with
``"*"`` for every event type; one clause uses one dataset (chain clauses with ``|``); a parameter
cannot follow NOT IN; at most 5 distinct fields per filter. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MAX_EXPRESSION_CHARACTERS = 2500  # botocore model: FilterExpression max 2500
MAX_FIELDS_PER_FILTER = 5
MAX_FIELDS_PER_DATASET_GROUP = 10
MAX_FILTERS_PER_DATASET_GROUP = 30
INTERACTIONS = "Interactions"
ITEMS = "Items"
EVENT_TYPE = "EVENT_TYPE"
ALL_EVENT_TYPES = "*"
COMPARISONS = ("=", "<", ">", "<=", ">=")

_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?)|(?P<param>\$[A-Za-z0-9_]+)'
    r"|(?P<op><=|>=|[=<>(),|])|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?))"
)


class FilterExpressionError(ValueError):
    """An expression Personalize would refuse, with the reason."""


@dataclass(frozen=True)
class Condition:
    dataset: str
    field: str
    operator: str  # IN, NOT IN, or a comparison
    values: tuple[str | float, ...] = ()
    parameter: str | None = None


@dataclass(frozen=True)
class Clause:
    action: str  # INCLUDE or EXCLUDE
    conditions: tuple[Condition, ...]
    connectors: tuple[str, ...]  # AND / OR between consecutive conditions

    @property
    def dataset(self) -> str:
        return self.conditions[0].dataset


@dataclass(frozen=True)
class FilterExpression:
    text: str
    clauses: tuple[Clause, ...]
    parameters: tuple[str, ...] = field(default=())

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(f"{c.dataset}.{c.field}" for clause in self.clauses for c in clause.conditions)

    @property
    def excludes_interacted(self) -> bool:
        """True when it leaves out every item the user interacted with (EXCLUDE ... EVENT_TYPE IN ("*"))."""
        return any(
            clause.action == "EXCLUDE"
            and any(c.dataset == INTERACTIONS and ALL_EVENT_TYPES in c.values for c in clause.conditions)
            for clause in self.clauses
        )


def parse_filter_expression(text: str) -> FilterExpression:
    """Parse ``text`` or raise :class:`FilterExpressionError` saying what is wrong and where."""
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_EXPRESSION_CHARACTERS:
        raise FilterExpressionError(f"an expression is 1 to {MAX_EXPRESSION_CHARACTERS} characters")
    parser = _Parser(_tokens(text))
    clauses = [parser.clause()]
    while not parser.done:
        if parser.take() != "|":
            raise FilterExpressionError(
                f"expected '|' or the end after a clause, got {parser.tokens[parser.position - 1]!r}"
            )
        clauses.append(parser.clause())
    parsed = FilterExpression(
        text,
        tuple(clauses),
        tuple(sorted({c.parameter for clause in clauses for c in clause.conditions if c.parameter})),
    )
    if len(parsed.fields) > MAX_FIELDS_PER_FILTER:
        raise FilterExpressionError(
            f"a filter may use at most {MAX_FIELDS_PER_FILTER} distinct fields; this one uses {len(parsed.fields)}"
        )
    return parsed


def check_fields(expression: FilterExpression, dataset_fields: Mapping[str, Sequence[str]]) -> None:
    """Every field must be one the named dataset has (``dataset_fields``: dataset -> its fields)."""
    for clause in expression.clauses:
        for condition in clause.conditions:
            known = dataset_fields.get(condition.dataset)
            if known is None:
                raise FilterExpressionError(
                    f"{condition.dataset}.{condition.field}: the dataset group has no {condition.dataset} dataset"
                )
            if condition.field not in {name.upper() for name in known}:
                raise FilterExpressionError(
                    f"{condition.dataset}.{condition.field}: the {condition.dataset} dataset has no field "
                    f"{condition.field} (it has {', '.join(known)})"
                )


def format_filter_values(values: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """GetRecommendations' filterValues: each parameter's values quoted and comma-separated."""
    return {name: ",".join('"' + value.replace('"', '\\"') + '"' for value in given) for name, given in values.items()}


def parse_filter_values(values: Mapping[str, str]) -> dict[str, list[str]]:
    """The values of each parameter as a request sent them (the inverse of :func:`format_filter_values`)."""
    return {
        name: [v.replace('\\"', '"') for v in re.findall(r'"((?:[^"\\]|\\.)*)"', text)] for name, text in values.items()
    }


def item_matches(
    clause: Clause, item: Mapping[str, object] | None, interacted: bool, values: Mapping[str, Sequence[str]]
) -> bool:
    """Whether ``clause``'s condition holds for one item: ``item`` is its row of the items dataset,
    ``interacted`` whether the user interacted with it (the data has no event types, so ``"*"``
    is the only event type that matches), ``values`` the request's parameter values."""
    results = [_holds(c, item, interacted, values) for c in clause.conditions]
    # AND binds tighter than OR.
    groups: list[bool] = [results[0]]
    for connector, result in zip(clause.connectors, results[1:], strict=True):
        if connector == "AND":
            groups[-1] = groups[-1] and result
        else:
            groups.append(result)
    return any(groups)


def _holds(
    condition: Condition, item: Mapping[str, object] | None, interacted: bool, values: Mapping[str, Sequence[str]]
) -> bool:
    wanted: Sequence[str | float] = values.get(condition.parameter, ()) if condition.parameter else condition.values
    if condition.dataset == INTERACTIONS:
        hit = interacted and ALL_EVENT_TYPES in wanted
        return hit if condition.operator == "IN" else not hit
    value = None if item is None else item.get(condition.field)
    if condition.operator in ("IN", "NOT IN"):
        present = set() if value is None else set(str(value).split("|"))
        hit = bool(present & {str(w) for w in wanted})
        return hit if condition.operator == "IN" else not hit
    if value is None or not wanted:
        return False
    left, right = float(str(value)), float(wanted[0])
    return {"=": left == right, "<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[
        condition.operator
    ]


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterExpressionError(
                f"unexpected text at character {position + 1}: {text[position : position + 20]!r}"
            )
        tokens.append(match.group().strip())
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over the tokens of one expression."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.position = 0

    @property
    def done(self) -> bool:
        return self.position >= len(self.tokens)

    def peek(self) -> str:
        return "" if self.done else self.tokens[self.position]

    def take(self, expected: str | None = None) -> str:
        if self.done:
            raise FilterExpressionError(f"the expression ends early{f': expected {expected}' if expected else ''}")
        token = self.tokens[self.position]
        if expected is not None and token.upper() != expected:
            raise FilterExpressionError(f"expected {expected}, got {token!r}")
        self.position += 1
        return token

    def clause(self) -> Clause:
        action = self.take().upper()
        if action not in ("INCLUDE", "EXCLUDE"):
            raise FilterExpressionError(f"a clause starts with INCLUDE or EXCLUDE, got {action!r}")
        if self.take() != "ItemID":
            raise FilterExpressionError("item recommendations filter ItemID: INCLUDE ItemID or EXCLUDE ItemID")
        self.take("WHERE")
        conditions, connectors = [self.condition()], []
        while self.peek().upper() in ("AND", "OR"):
            connectors.append(self.take().upper())
            conditions.append(self.condition())
        if len({c.dataset for c in conditions}) > 1:
            raise FilterExpressionError("one clause cannot use both Interactions and Items: chain two clauses with '|'")
        return Clause(action, tuple(conditions), tuple(connectors))

    def condition(self) -> Condition:
        name = self.take()
        dataset, _, field_name = name.partition(".")
        if dataset not in (INTERACTIONS, ITEMS) or not field_name:
            raise FilterExpressionError(f"expected Interactions.<FIELD> or Items.<FIELD>, got {name!r}")
        # Field names as the schema spells them; compared without case, like Avro names in Personalize
        # (assumed: the guide's examples are upper case, some samples write event_type).
        field_name = field_name.upper()
        if dataset == INTERACTIONS and field_name != EVENT_TYPE:
            raise FilterExpressionError(f"Interactions can be filtered on EVENT_TYPE only, not {field_name}")
        operator = self.take().upper()
        if operator == "NOT":
            self.take("IN")
            operator = "NOT IN"
        if operator in ("IN", "NOT IN"):
            return self.membership(dataset, field_name, operator)
        if operator not in COMPARISONS:
            raise FilterExpressionError(f"{name}: expected IN, NOT IN or a comparison, got {operator!r}")
        if dataset == INTERACTIONS:
            raise FilterExpressionError("Interactions.EVENT_TYPE is compared with IN or NOT IN only")
        token = self.take()
        if token.startswith("$"):
            return Condition(dataset, field_name, operator, (), token[1:])
        try:
            return Condition(dataset, field_name, operator, (float(token),))
        except ValueError:
            raise FilterExpressionError(
                f"{name} {operator}: expected a number or a $PARAMETER, got {token!r}"
            ) from None

    def membership(self, dataset: str, field_name: str, operator: str) -> Condition:
        name = f"{dataset}.{field_name} {operator}"
        self.take("(")
        values: list[str | float] = []
        parameter = None
        while True:
            token = self.take()
            if parameter or (token.startswith("$") and values):
                raise FilterExpressionError(f"{name}: a $PARAMETER stands alone in the parentheses")
            if token.startswith("$"):
                parameter = token[1:]
            elif token.startswith('"'):
                values.append(token[1:-1].replace('\\"', '"'))
            else:
                raise FilterExpressionError(f'{name}: values are "quoted" or one $PARAMETER, got {token!r}')
            separator = self.take()
            if separator == ")":
                break
            if separator != ",":
                raise FilterExpressionError(f"{name}: expected ',' or ')', got {separator!r}")
        if parameter and operator == "NOT IN":
            raise FilterExpressionError(f"{dataset}.{field_name}: a $PARAMETER cannot be used with NOT IN")
        if ALL_EVENT_TYPES in values and dataset != INTERACTIONS:
            raise FilterExpressionError(f'{dataset}.{field_name}: "*" means every event type, for Interactions only')
        return Condition(dataset, field_name, operator, tuple(values), parameter)
