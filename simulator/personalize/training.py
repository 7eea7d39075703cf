"""Solutions, solution versions and their metrics: training, and automatic training."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.personalize.core import (
    IN_FLIGHT,
    KNOWN_RECIPES,
    MIN_TRAINING_USERS,
    RECIPE_ARN,
    RECIPE_TYPES,
    SERVICE_MODELS,
    UPDATE_CAPABLE_RECIPES,
    in_use,
    invalid_input,
    not_found,
    operation,
)
from simulator.personalize.lifecycle import Model, Resource
from simulator.service_model import SimulatedServiceError


class TrainingOperations:
    """Operations of solutions, solution versions and their metrics; mixed into PersonalizeSimulator (core state in PersonalizeCore)."""

    # ----------------------------------------------------------------- solutions

    @operation("personalize", "CreateSolution")
    def _create_solution(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        recipe = p.get("recipeArn")
        if recipe is not None:
            _recipe_name(recipe)
        self._require_active(group, "Dataset group")
        self._require_unique_name("solution", p["name"], "Solution")
        arn = self._arn(f"solution/{p['name']}")
        attrs: dict[str, Any] = {
            "performHPO": p.get("performHPO", False),
            "performAutoML": p.get("performAutoML", False),
            "performAutoTraining": p.get("performAutoTraining", True),
            "performIncrementalUpdate": p.get("performIncrementalUpdate", False),
        }
        attrs.update({k: p[k] for k in ("recipeArn", "eventType", "solutionConfig") if k in p})
        self._add("solution", arn, p["name"], self._life(self.durations.solution, "solution"), attrs, group.arn)
        return {"solutionArn": arn}

    def _view_solution(self, res: Resource) -> dict[str, Any]:
        body = {"name": res.name, "solutionArn": res.arn, "datasetGroupArn": res.parent, **res.attrs}
        body = self._stamp(res, body)
        versions = sorted(self._children(res.arn, "solution_version"), key=lambda v: v.life.created)
        if versions:
            latest = self._view_solution_version(versions[-1])
            shape = SERVICE_MODELS["personalize"].shape_for("SolutionVersionSummary")
            body["latestSolutionVersion"] = {k: v for k, v in latest.items() if k in shape.members}
        return body

    @operation("personalize", "DescribeRecipe")
    def _describe_recipe(self, p: dict[str, Any]) -> dict[str, Any]:
        """A predefined recipe and its type (register personalize.recipes.types)."""
        name = _recipe_name(p["recipeArn"])
        epoch = datetime(2019, 6, 10, tzinfo=UTC)
        return {
            "recipe": {
                "name": name,
                "recipeArn": p["recipeArn"],
                "algorithmArn": f"arn:aws:personalize:::algorithm/{name}",
                "featureTransformationArn": f"arn:aws:personalize:::feature-transformation/{name}",
                "status": "ACTIVE",
                "recipeType": RECIPE_TYPES[name],
                "creationDateTime": epoch,
                "lastUpdatedDateTime": epoch,
            }
        }

    @operation("personalize", "DescribeSolution")
    def _describe_solution(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"solution": self._view_solution(self._get(p["solutionArn"], "solution", "solution"))}

    @operation("personalize", "ListSolutions")
    def _list_solutions(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("solution", p, "solutions", "SolutionSummary", p.get("datasetGroupArn"))

    @operation("personalize", "DeleteSolution")
    def _delete_solution(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["solutionArn"], "solution", "solution")
        versions = self._children(res.arn, "solution_version")
        served = {arn for c in self._live("campaign") for arn in self._campaign_versions(c)}
        if any(v.arn in served for v in versions):
            raise in_use(f"Solution {res.arn} has a version deployed in a campaign; delete the campaign first")
        if any(self._status(v) in IN_FLIGHT for v in versions):
            raise in_use(f"Solution {res.arn} has a solution version in progress; stop it first")
        self._start_delete(res)
        return {}

    # ----------------------------------------------------------------- solution versions

    @operation("personalize", "CreateSolutionVersion")
    def _create_solution_version(self, p: dict[str, Any]) -> dict[str, Any]:
        solution = self._get(p["solutionArn"], "solution", "solution")
        mode = p.get("trainingMode", "FULL")
        return {"solutionVersionArn": self._start_training(solution, mode, p.get("name")).arn}

    def _start_training(self, solution: Resource, mode: str, name: str | None, at: datetime | None = None) -> Resource:
        recipe = _recipe_name(solution.attrs["recipeArn"]) if "recipeArn" in solution.attrs else None
        if mode == "UPDATE" and recipe not in UPDATE_CAPABLE_RECIPES:
            raise invalid_input(
                f"trainingMode UPDATE is only supported for the aws-user-personalization and aws-hrnn-coldstart recipes, not {recipe}"
            )
        if mode == "UPDATE" and not any(
            self._status(v) == "ACTIVE" for v in self._children(solution.arn, "solution_version")
        ):
            raise invalid_input("trainingMode UPDATE requires an existing ACTIVE solution version trained with FULL")
        self._require_active(solution, "Solution")
        if any(self._status(v) in IN_FLIGHT for v in self._children(solution.arn, "solution_version")):
            raise in_use(f"Solution {solution.arn} already has a solution version in progress")
        training = [v for v in self._live("solution_version") if self._status(v) in IN_FLIGHT]
        if len(training) >= self.max_concurrent_trainings:
            raise SimulatedServiceError("LimitExceededException", "Exceeded the maximum number of concurrent trainings")
        arn = f"{solution.arn}/{self._token(solution.arn)[:8]}"
        duration = self.durations.solution_version_update if mode == "UPDATE" else self.durations.solution_version
        life = self._life(duration, "solution_version", solution.name)
        if at is not None:
            life.created = at
        model, problem = self._train(solution.parent or "", life.created)
        if self._empty_models_next and mode != "AUTOTRAIN":
            self._empty_models_next -= 1
            model = Model()
        if problem and not life.failure:
            life.failure = problem
        attrs = {"trainingMode": mode, **({"versionName": name} if name else {})}
        version = self._add("solution_version", arn, solution.name, life, attrs, solution.arn)
        self._models[arn] = model
        if self._next_metrics_of.get(solution.name):
            self._metrics.setdefault(arn, self._next_metrics_of[solution.name].pop(0))
        elif self._next_metrics:
            self._metrics.setdefault(arn, self._next_metrics.pop(0))
        return version

    def _train(self, group_arn: str, at: datetime) -> tuple[Model, str | None]:
        """Snapshot the data a version trains on; enforce the service's minimums on real data."""
        if not self._has_active_import(group_arn):
            return Model(), "No data found in the dataset group: import interactions before training"
        rows = self._group_data(group_arn, at)
        if rows is None:
            return Model(), None
        users = {user for user, _, _ in rows}
        if len(rows) < self.min_training_interactions or len(users) < MIN_TRAINING_USERS:
            return Model(), (
                f"Insufficient data for training: {len(rows)} interactions from {len(users)} users; at least "
                f"{self.min_training_interactions} interactions from {MIN_TRAINING_USERS} users are required"
            )
        model = Model()
        for user, item, _ in rows:
            model.seen.setdefault(user, set()).add(item)
            model.popularity[item] += 1
        return model, None

    def _view_solution_version(self, res: Resource) -> dict[str, Any]:
        """Billed trainingHours equal the wall time here (register personalize.solution-version.training-hours)."""
        solution = self._resources.get(res.parent or "")
        inherited = {}
        if solution is not None:
            keys = (
                "performHPO",
                "performAutoML",
                "performIncrementalUpdate",
                "recipeArn",
                "eventType",
                "solutionConfig",
            )
            inherited = {k: solution.attrs[k] for k in keys if k in solution.attrs}
            inherited["datasetGroupArn"] = solution.parent
        body: dict[str, Any] = {
            "name": res.attrs.get("versionName", res.name),
            "solutionVersionArn": res.arn,
            "solutionArn": res.parent,
            **inherited,
            "trainingMode": res.attrs["trainingMode"],
            "trainingType": "AUTOMATIC" if res.attrs["trainingMode"] == "AUTOTRAIN" else "MANUAL",
        }
        body = self._stamp(res, body)
        if body["status"] == "ACTIVE":
            body["trainingHours"] = round(res.life.duration / 3600, 3)
        return body

    @operation("personalize", "DescribeSolutionVersion")
    def _describe_solution_version(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["solutionVersionArn"], "solution_version", "solution version")
        return {"solutionVersion": self._view_solution_version(res)}

    @operation("personalize", "ListSolutionVersions")
    def _list_solution_versions(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("solution_version", p, "solutionVersions", "SolutionVersionSummary", p.get("solutionArn"))

    @operation("personalize", "StopSolutionVersionCreation")
    def _stop_solution_version(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["solutionVersionArn"], "solution_version", "solution version")
        status = self._status(res)
        if status not in ("CREATE PENDING", "CREATE IN_PROGRESS"):
            raise in_use(f"Solution version {res.arn} cannot be stopped in {status} state")
        res.life.stopped = self._now()
        return {}

    @operation("personalize", "GetSolutionMetrics")
    def _get_solution_metrics(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["solutionVersionArn"], "solution_version", "solution version")
        self._require_active(res, "Solution version")
        return {"solutionVersionArn": res.arn, "metrics": self._metrics.get(res.arn) or _default_metrics(res.arn)}

    def _autotrain(self) -> None:
        """Emulate performAutoTraining: a version within an hour of the solution, then on schedule.

        Register personalize.auto-training.

        Each slot of the schedule (solution ACTIVE + 1 h, then every schedulingExpression) is
        handled once: a version starts at the slot unless the solution is busy training then,
        in which case that slot is skipped, as the service skips a training it cannot start.
        """
        now = self._now()
        for solution in self._live("solution"):
            if not solution.attrs["performAutoTraining"] or self._status(solution) != "ACTIVE":
                continue
            interval = timedelta(days=_autotraining_days(solution.attrs.get("solutionConfig", {})))
            due = self._autotrain_due.setdefault(solution.arn, solution.life.finished_at() + timedelta(hours=1))
            while due <= now:
                busy = any(v.life.status(due) in IN_FLIGHT for v in self._children(solution.arn, "solution_version"))
                if not busy and self._has_active_import(solution.parent or ""):
                    try:
                        self._start_training(solution, "AUTOTRAIN", None, at=due)
                    except SimulatedServiceError:
                        self.autotraining_skipped.append((solution.arn, due))
                else:
                    self.autotraining_skipped.append((solution.arn, due))
                due += interval
                self._autotrain_due[solution.arn] = due


def _recipe_name(recipe_arn: str) -> str:
    match = RECIPE_ARN.fullmatch(recipe_arn)
    if match is None:
        raise invalid_input(f"Invalid recipe ARN {recipe_arn}: expected arn:aws:personalize:::recipe/<name>")
    if match.group(1) not in KNOWN_RECIPES:
        raise not_found(f"Recipe {recipe_arn} does not exist")
    return match.group(1)


def _default_metrics(arn: str) -> dict[str, float]:
    """Plausible, stable metrics: a level per solution, within 1% from one version to the next.

    Retraining the same recipe on a little more data moves offline metrics little, so by
    default a new version neither clearly beats nor clearly loses to the last one; tests that
    need a better or worse version say so with ``set_metrics``.
    """
    solution_arn = arn.rsplit("/", 1)[0]
    level = hashlib.sha256(solution_arn.encode()).digest()
    jitter = hashlib.sha256(arn.encode()).digest()

    def span(index: int, low: float, high: float) -> float:
        base = low + (high - low) * level[index] / 255
        return round(base * (1 + 0.01 * (jitter[index] / 127.5 - 1)), 4)

    return {
        "coverage": span(0, 0.05, 0.3),
        "mean_reciprocal_rank_at_25": span(1, 0.05, 0.25),
        "normalized_discounted_cumulative_gain_at_5": span(2, 0.05, 0.25),
        "normalized_discounted_cumulative_gain_at_10": span(3, 0.08, 0.3),
        "normalized_discounted_cumulative_gain_at_25": span(4, 0.1, 0.35),
        "precision_at_5": span(5, 0.02, 0.15),
        "precision_at_10": span(6, 0.02, 0.12),
        "precision_at_25": span(7, 0.01, 0.1),
    }


def _autotraining_days(solution_config: dict[str, Any]) -> int:
    expression = solution_config.get("autoTrainingConfig", {}).get("schedulingExpression", "rate(7 days)")
    match = re.fullmatch(r"rate\((\d+) days?\)", expression)
    return int(match.group(1)) if match else 7
