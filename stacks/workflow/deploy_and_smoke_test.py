"""Phase 4a, a deployment to a campaign: deploy the version, smoke-test it.

A version that passed the gate but answers no recommendations must not stay in service: after
an update, the previous version is put back (and awaited) before the run fails.
"""

from __future__ import annotations

from typing import Any

from contract.events import STAGE_CAMPAIGN, STAGE_SMOKE_TEST
from contract.functions import DEPLOY_CAMPAIGN, SMOKE_TEST
from contract.readiness import CAMPAIGN_CREATED, CAMPAIGN_ROLLBACK, CAMPAIGN_UPDATED
from stacks.config import SolutionConfig
from stacks.workflow.builder import WorkflowBuilder
from stacks.workflow.sdk import Catch, Chain, Choice, ChoiceRule, State, Task


def build_deploy_and_smoke_test(b: WorkflowBuilder, *, then: State) -> State:
    """A campaign that answers goes on to ``then``. Returns the phase's first state, ``Deploy campaign``."""
    config, solution, names = b.config, b.solution, b.names

    def deploy(state_name: str, version_path: str, result_path: str, stage: str) -> Task:
        parameters = {
            "name": names.campaign,
            "solutionArn.$": "$.solution.arn",
            "solutionVersionArn.$": version_path,
            "minProvisionedTPS": solution.campaign_min_provisioned_tps,
        }
        return b.invoke(state_name, DEPLOY_CAMPAIGN, parameters, result_path, stage)

    deploy_campaign = deploy("Deploy campaign", "$.solutionVersion.arn", "$.campaign", STAGE_CAMPAIGN)
    smoke_test = b.invoke(
        "Smoke test recommendations",
        SMOKE_TEST,
        {
            "campaignArn.$": "$.campaign.arn",
            **_smoke_request(solution),
            "numResults": 10,
            # Also through the filter that needs no request values (the exclusion filter by default),
            # for a request by user: the filter reads the user's interactions.
            **(
                {"filterArn.$": "$.filters.smokeFilterArn"}
                if config.smoke_filter is not None and solution.smoke_test.user_id is not None
                else {}
            ),
        },
        "$.smokeTest",
        STAGE_SMOKE_TEST,
    )
    rollback_possible = Choice(b.state_name("Roll back the campaign?"))
    roll_back = deploy("Roll back campaign", "$.campaign.previousSolutionVersionArn", "$.rollback", STAGE_SMOKE_TEST)
    smoke_test.catches.insert(
        0, Catch(error_equals=["SmokeTestFailedError"], next_step=rollback_possible, result_path="$.failure")
    )
    rollback_possible.add_choice(
        ChoiceRule.And(
            [
                ChoiceRule.StringEquals(variable="$.campaign.action", value="updated"),
                ChoiceRule.IsString(variable="$.campaign.previousSolutionVersionArn", value=True),
            ]
        ),
        roll_back,
    )
    rollback_possible.default_choice(b.failure_in(STAGE_SMOKE_TEST))
    roll_back.next(b.wait_until_active(CAMPAIGN_ROLLBACK, b.failure_in(STAGE_SMOKE_TEST), STAGE_SMOKE_TEST))

    campaign_created_or_updated = Choice(b.state_name("Campaign created or updated?"))
    deploy_campaign.next(campaign_created_or_updated)
    campaign_created_or_updated.add_choice(
        ChoiceRule.StringEquals(variable="$.campaign.action", value="updated"),
        b.wait_until_active(CAMPAIGN_UPDATED, smoke_test, STAGE_CAMPAIGN),
    )
    campaign_created_or_updated.default_choice(b.wait_until_active(CAMPAIGN_CREATED, smoke_test, STAGE_CAMPAIGN))
    Chain([smoke_test, then])
    return deploy_campaign


def _smoke_request(solution: SolutionConfig) -> dict[str, Any]:
    """The request the recipe's campaign answers (register personalize.recipes.types): a user, an
    item (related items), or a user and the items to rank (GetPersonalizedRanking)."""
    smoke = solution.smoke_test
    request: dict[str, Any] = {}
    if smoke.user_id is not None:
        request["userId"] = smoke.user_id
    if smoke.item_id is not None:
        request["itemId"] = smoke.item_id
    if smoke.item_ids:
        request["inputList"] = list(smoke.item_ids)
    return request
