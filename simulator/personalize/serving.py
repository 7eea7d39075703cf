"""Campaigns, event trackers and GetRecommendations: serving a trained model (filters: :mod:`.filters`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from simulator.personalize.core import (
    IN_FLIGHT,
    RANKING_INPUT_MAX,
    RECIPE_TYPES,
    in_use,
    invalid_input,
    not_found,
    operation,
)
from simulator.personalize.lifecycle import CampaignUpdate, Model, Resource
from simulator.service_model import SimulatedServiceError


class ServingOperations:
    """Operations of campaigns, event trackers, filters and getrecommendations; mixed into PersonalizeSimulator (core state in PersonalizeCore)."""

    # ----------------------------------------------------------------- campaigns

    @operation("personalize", "CreateCampaign")
    def _create_campaign(self, p: dict[str, Any]) -> dict[str, Any]:
        version = self._get(p["solutionVersionArn"], "solution_version", "solution version")
        self._require_active(version, "Solution version")
        self._require_unique_name("campaign", p["name"], "Campaign")
        arn = self._arn(f"campaign/{p['name']}")
        attrs = {
            "solutionVersionArn": version.arn,
            "minProvisionedTPS": p.get("minProvisionedTPS", 1),
            "campaignConfig": p.get("campaignConfig", {}),
        }
        self._add("campaign", arn, p["name"], self._life(self.durations.campaign, "campaign"), attrs, version.parent)
        return {"campaignArn": arn}

    def _served(self, res: Resource) -> dict[str, Any]:
        """What the campaign serves now: creation settings overlaid by every finished update."""
        served = dict(res.attrs)
        now = self._now()
        for update in self._updates.get(res.arn, []):
            if update.life.status(now) == "ACTIVE":
                served.update(
                    solutionVersionArn=update.solution_version_arn,
                    minProvisionedTPS=update.min_tps,
                    campaignConfig=update.config,
                )
        return served

    def _campaign_versions(self, res: Resource) -> set[str]:
        return {res.attrs["solutionVersionArn"], *(u.solution_version_arn for u in self._updates.get(res.arn, []))}

    def _view_campaign(self, res: Resource, *, consistent: bool = False) -> dict[str, Any]:
        """DescribeCampaign's campaign; ``consistent``: the service's own view, without the read lag."""
        now = self._now()
        body = self._stamp(res, {"name": res.name, "campaignArn": res.arn, **self._served(res)})
        updates = [u for u in self._updates.get(res.arn, []) if consistent or u.visible_at <= now]
        if not updates:
            return body
        latest = updates[-1]
        status, since = latest.life.state(now)
        summary: dict[str, Any] = {
            "solutionVersionArn": latest.solution_version_arn,
            "minProvisionedTPS": latest.min_tps,
            "campaignConfig": latest.config,
            "status": status,
            "creationDateTime": latest.life.created,
            "lastUpdatedDateTime": since,
        }
        if status == "CREATE FAILED":
            summary["failureReason"] = latest.life.failure
        body["latestCampaignUpdate"] = summary
        if body["status"] == "CREATE FAILED" and any(u.life.status(now) == "ACTIVE" for u in updates):
            body["status"] = "ACTIVE"
            body.pop("failureReason", None)
        finished = [u.life.finished_at() for u in updates if u.life.status(now) in ("ACTIVE", "CREATE FAILED")]
        body["lastUpdatedDateTime"] = max([body["lastUpdatedDateTime"], *finished])
        return body

    def _campaign_status(self, res: Resource) -> str:
        """The service's own view (no read lag): what UpdateCampaign and DeleteCampaign check."""
        return str(self._view_campaign(res, consistent=True)["status"])

    @operation("personalize", "DescribeCampaign")
    def _describe_campaign(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"campaign": self._view_campaign(self._get(p["campaignArn"], "campaign", "campaign"))}

    @operation("personalize", "ListCampaigns")
    def _list_campaigns(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("campaign", p, "campaigns", "CampaignSummary", p.get("solutionArn"))

    @operation("personalize", "UpdateCampaign")
    def _update_campaign(self, p: dict[str, Any]) -> dict[str, Any]:
        """Register personalize.campaign-update.status: ACTIVE or CREATE FAILED only, the old version served meanwhile."""
        res = self._get(p["campaignArn"], "campaign", "campaign")
        status = self._campaign_status(res)
        if status not in ("ACTIVE", "CREATE FAILED"):
            raise in_use(f"Campaign {res.arn} must be ACTIVE or CREATE FAILED to update (current status: {status})")
        updates = self._updates.setdefault(res.arn, [])
        if updates and updates[-1].life.status(self._now()) in IN_FLIGHT:
            raise in_use(f"Campaign {res.arn} has an update in progress")
        served = self._served(res)
        version_arn = p.get("solutionVersionArn", served["solutionVersionArn"])
        version = self._get(version_arn, "solution_version", "solution version")
        self._require_active(version, "Solution version")
        update = CampaignUpdate(
            solution_version_arn=version_arn,
            min_tps=p.get("minProvisionedTPS", served["minProvisionedTPS"]),
            config=p.get("campaignConfig", served["campaignConfig"]),
            life=self._life(self.durations.campaign_update, "campaign_update"),
            visible_at=self._now() + timedelta(seconds=self.campaign_update_read_lag_seconds),
        )
        updates.append(update)
        return {"campaignArn": res.arn}

    @operation("personalize", "DeleteCampaign")
    def _delete_campaign(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["campaignArn"], "campaign", "campaign")
        updates = self._updates.get(res.arn, [])
        if updates and updates[-1].life.status(self._now()) in IN_FLIGHT:
            raise in_use(f"Campaign {res.arn} has an update in progress")
        self._start_delete(res)
        return {}

    # ----------------------------------------------------------------- event trackers

    @operation("personalize", "CreateEventTracker")
    def _create_event_tracker(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self._get(p["datasetGroupArn"], "dataset_group", "dataset group")
        self._require_active(group, "Dataset group")
        if self._children(group.arn, "event_tracker"):
            raise SimulatedServiceError("LimitExceededException", "A dataset group can have only one event tracker")
        token = self._token(group.arn)
        arn = self._arn(f"event-tracker/{token[:8]}")
        tracking_id = f"{token[:8]}-{token[8:12]}-{token[12:16]}-{token[16:20]}-{token[20:32]}"
        attrs = {"trackingId": tracking_id, "accountId": self.account_id}
        self._add("event_tracker", arn, p["name"], self._life(self.durations.event_tracker, None), attrs, group.arn)
        return {"eventTrackerArn": arn, "trackingId": tracking_id}

    def _view_event_tracker(self, res: Resource) -> dict[str, Any]:
        body = {"name": res.name, "eventTrackerArn": res.arn, "datasetGroupArn": res.parent, **res.attrs}
        return self._stamp(res, body)

    @operation("personalize", "DescribeEventTracker")
    def _describe_event_tracker(self, p: dict[str, Any]) -> dict[str, Any]:
        res = self._get(p["eventTrackerArn"], "event_tracker", "event tracker")
        return {"eventTracker": self._view_event_tracker(res)}

    @operation("personalize", "ListEventTrackers")
    def _list_event_trackers(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list("event_tracker", p, "eventTrackers", "EventTrackerSummary", p.get("datasetGroupArn"))

    @operation("personalize", "DeleteEventTracker")
    def _delete_event_tracker(self, p: dict[str, Any]) -> dict[str, Any]:
        self._start_delete(self._get(p["eventTrackerArn"], "event_tracker", "event tracker"))
        return {}

    # ----------------------------------------------------------------- runtime

    @operation("personalize-runtime", "GetRecommendations")
    def _get_recommendations(self, p: dict[str, Any]) -> dict[str, Any]:
        """What the campaign's recipe type answers (register personalize.recipes.types): a user's
        recommendations (USER_PERSONALIZATION, POPULAR_ITEMS), or the items related to ``itemId``
        (RELATED_ITEMS, required there). A user the version never saw gets popular items, and so
        does an item it never saw (register personalize.get-recommendations.unknown-user)."""
        campaign = self._active_campaign(p)
        recipe_type = self._recipe_type(campaign)
        if recipe_type == "PERSONALIZED_RANKING":
            raise invalid_input(
                f"Campaign {campaign.arn} uses a PERSONALIZED_RANKING recipe: call GetPersonalizedRanking"
            )
        if recipe_type == "RELATED_ITEMS" and "itemId" not in p:
            raise invalid_input("itemId is required for a campaign of a RELATED_ITEMS recipe")
        if recipe_type == "USER_PERSONALIZATION" and "userId" not in p:
            raise invalid_input("userId is required for a campaign of a USER_PERSONALIZATION recipe")
        if "userId" not in p and "itemId" not in p:
            raise invalid_input("userId or itemId is required")
        model = self._models.get(self._served(campaign)["solutionVersionArn"], Model())
        exclude = set(model.seen.get(p.get("userId", ""), set())) | ({p["itemId"]} if "itemId" in p else set())
        keep = self._filter_for(campaign, p) if "filterArn" in p else None
        scores = model.popularity
        if recipe_type == "RELATED_ITEMS":
            exclude = {p["itemId"]}
            scores = related_items(model, p["itemId"]) or model.popularity
        items = rank(scores, exclude, p.get("numResults", 25), keep)
        request_id = self._token(campaign.arn, p.get("userId", p.get("itemId", "")))
        return {"itemList": items, "recommendationId": f"RID-{request_id[:8]}-{request_id[8:12]}-{request_id[12:24]}"}

    @operation("personalize-runtime", "GetPersonalizedRanking")
    def _get_personalized_ranking(self, p: dict[str, Any]) -> dict[str, Any]:
        """The user's ranking of ``inputList``, for a campaign of a PERSONALIZED_RANKING recipe: every
        item of the list, most relevant first; items the version never saw come last."""
        campaign = self._active_campaign(p)
        if self._recipe_type(campaign) != "PERSONALIZED_RANKING":
            raise invalid_input(f"Campaign {campaign.arn} does not use a PERSONALIZED_RANKING recipe")
        if len(p["inputList"]) > RANKING_INPUT_MAX:
            raise invalid_input(f"inputList has {len(p['inputList'])} items; at most {RANKING_INPUT_MAX} are ranked")
        model = self._models.get(self._served(campaign)["solutionVersionArn"], Model())
        keep = self._filter_for(campaign, p) if "filterArn" in p else None
        listed = list(dict.fromkeys(p["inputList"]))
        known = Counter({item: model.popularity[item] for item in listed if model.popularity[item]})
        ranked = rank(known, set(), len(listed), keep)
        unknown = [i for i in listed if i not in known and (keep is None or keep(i))]
        ranked += [{"itemId": item, "score": 0.0} for item in unknown]
        request_id = self._token(campaign.arn, p["userId"])
        return {
            "personalizedRanking": ranked,
            "recommendationId": f"RID-{request_id[:8]}-{request_id[8:12]}-{request_id[12:24]}",
        }

    def _active_campaign(self, p: dict[str, Any]) -> Resource:
        if "campaignArn" not in p:
            raise invalid_input("This simulator serves campaigns only: campaignArn is required")
        campaign = self._resources.get(p["campaignArn"])
        if campaign is None or campaign.kind != "campaign":
            raise not_found(f"Campaign {p['campaignArn']} does not exist")
        status = self._campaign_status(campaign)
        if status != "ACTIVE":
            raise not_found(f"Campaign {campaign.arn} is not active (current status: {status})")
        return campaign

    def _recipe_type(self, campaign: Resource) -> str:
        """The type of the recipe of the campaign's solution, as DescribeRecipe answers it."""
        solution = self._resources.get(str(campaign.parent))
        recipe = solution.attrs.get("recipeArn", "") if solution is not None else ""
        return RECIPE_TYPES.get(str(recipe).rsplit("/", 1)[-1], "USER_PERSONALIZATION")


def related_items(model: Model, item_id: str) -> Counter[str]:
    """Items the users of ``item_id`` also interacted with, by how many of them did: what an
    item-to-item model learns from interactions alone."""
    related: Counter[str] = Counter()
    for items in model.seen.values():
        if item_id in items:
            related.update(items - {item_id})
    return related


def rank(
    popularity: Counter[str], exclude: set[str], limit: int, keep: Callable[[str], bool] | None = None
) -> list[dict[str, Any]]:
    """Most-interacted items first, ties by item id: deterministic like a trained model; ``keep``:
    the request's filter."""
    total = sum(popularity.values()) or 1
    ranked = sorted(
        (item for item in popularity if item not in exclude and (keep is None or keep(item))),
        key=lambda i: (-popularity[i], i),
    )
    return [{"itemId": item, "score": round(popularity[item] / total, 7)} for item in ranked[:limit]]
