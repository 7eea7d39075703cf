"""Filters: their lifecycle, their expression checks, and what they leave of a recommendation list.

The expression grammar and its evaluation are the contract's (contract/filters.py), which the
config validator shares; register personalize.filters.expressions says where each rule comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contract.filters import (
    INTERACTIONS,
    ITEMS,
    MAX_FILTERS_PER_DATASET_GROUP,
    FilterExpressionError,
    check_fields,
    item_matches,
    parse_filter_expression,
    parse_filter_values,
)
from simulator.personalize.core import invalid_input, operation
from simulator.personalize.lifecycle import Resource
from simulator.service_model import SimulatedServiceError

# "Amazon Personalize considers up to 100 of the most recent interactions per user per event type."
FILTER_INTERACTIONS_PER_USER = 100


class FilterOperations:
    """Operations of filters; mixed into PersonalizeSimulator (core state in PersonalizeCore)."""

    @operation("personalize", "CreateFilter")
    def _create_filter(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        self._require_active(group, "Dataset group")
        try:
            expression = parse_filter_expression(p["filterExpression"])
            check_fields(expression, self._filterable_fields(group))
        except FilterExpressionError as error:
            raise invalid_input(f"Invalid filter expression: {error}") from error
        self._require_unique_name("filter", p["name"], "Filter")
        if len(self._children(group.arn, "filter")) >= MAX_FILTERS_PER_DATASET_GROUP:
            raise SimulatedServiceError(
                "LimitExceededException",
                f"A dataset group can have at most {MAX_FILTERS_PER_DATASET_GROUP} filters",
            )
        arn = self._arn(f"filter/{p['name']}")
        attrs = {"filterExpression": p["filterExpression"]}
        self._add("filter", arn, p["name"], self._life(self.durations.filter, "filter"), attrs, group.arn)
        return {"filterArn": arn}

    def _filterable_fields(self, group: Resource) -> dict[str, list[str]]:
        """Datasets of the group and the fields a filter may name (Interactions: EVENT_TYPE only)."""
        fields: dict[str, list[str]] = {}
        for dataset in self._children(group.arn, "dataset"):
            kind = dataset.attrs["datasetType"]
            if kind == "INTERACTIONS":
                fields[INTERACTIONS] = ["EVENT_TYPE"]
            elif kind == "ITEMS":
                schema = self._get(self._dataset_schema(dataset), "schema", "schema")
                fields[ITEMS] = list(schema.attrs["fields"])
        return fields

    def _view_filter(self, res: Resource) -> dict[str, Any]:
        body = {"name": res.name, "filterArn": res.arn, "datasetGroupArn": res.parent, **res.attrs}
        return self._stamp(res, body)

    @operation("personalize", "DescribeFilter")
    def _describe_filter(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"filter": self._view_filter(self._get(p["filterArn"], "filter", "filter"))}

    @operation("personalize", "ListFilters")
    def _list_filters(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("filter", p, "Filters", "FilterSummary", p.get("datasetGroupArn"))

    @operation("personalize", "DeleteFilter")
    def _delete_filter(self, p: dict[str, Any]) -> dict[str, Any]:
        self._start_delete(self._get(p["filterArn"], "filter", "filter"))
        return {}

    def _filter_for(self, campaign: Resource, p: dict[str, Any]) -> Callable[[str], bool]:
        """Which items a GetRecommendations request's filter keeps, for its user.

        The filter must be ACTIVE and of the campaign's dataset group; an INCLUDE clause needs a
        value for each of its parameters, an EXCLUDE clause without them is left out (register
        personalize.filters.expressions)."""
        group_arn = self._resources[campaign.parent].parent if campaign.parent in self._resources else None
        return self._filter_keep(p["filterArn"], str(group_arn), p.get("filterValues", {}))(p.get("userId", ""))

    def _filter_keep(
        self, filter_arn: str, group_arn: str, filter_values: dict[str, str]
    ) -> Callable[[str], Callable[[str], bool]]:
        """For a user, which items the filter keeps (a campaign's request, or a batch job's line)."""
        res = self._get(filter_arn, "filter", "filter")
        status = self._status(res)
        if status != "ACTIVE":
            raise invalid_input(f"Filter {res.arn} is not ACTIVE (current status: {status})")
        if res.parent != group_arn:
            raise invalid_input(f"Filter {res.arn} belongs to another dataset group than the solution it is used with")
        expression = parse_filter_expression(res.attrs["filterExpression"])
        values = parse_filter_values(filter_values)
        clauses = []
        for clause in expression.clauses:
            missing = [c.parameter for c in clause.conditions if c.parameter and c.parameter not in values]
            if missing and clause.action == "INCLUDE":
                raise invalid_input(f"filterValues has no value for {', '.join(f'${m}' for m in missing)}")
            if not missing:
                clauses.append(clause)
        items = self._catalogue(group_arn)
        by_user: dict[str, list[tuple[str, str, int]]] = {}
        for row in self._group_data(group_arn, self._now()) or []:
            by_user.setdefault(row[0], []).append(row)

        def for_user(user_id: str) -> Callable[[str], bool]:
            recent = sorted(by_user.get(user_id, []), key=lambda row: row[2], reverse=True)
            interacted = {item for _, item, _ in recent[:FILTER_INTERACTIONS_PER_USER]}

            def keep(item_id: str) -> bool:
                for clause in clauses:
                    matches = item_matches(clause, items.get(item_id), item_id in interacted, values)
                    if matches != (clause.action == "INCLUDE"):
                        return False
                return True

            return keep

        return for_user

    def _catalogue(self, group_arn: str) -> dict[str, dict[str, Any]]:
        """The items dataset as its latest finished import left it."""
        jobs = [
            job
            for dataset in self._children(group_arn, "dataset")
            if dataset.attrs["datasetType"] == "ITEMS"
            for job in self._children(dataset.arn, "import_job")
            if self._status(job) == "ACTIVE" and job.arn in self._item_rows
        ]
        if not jobs:
            return {}
        latest = max(jobs, key=lambda job: job.life.finished_at())
        return {str(row["ITEM_ID"]): row for row in self._item_rows[latest.arn]}
