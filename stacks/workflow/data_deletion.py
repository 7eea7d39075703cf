"""Phase 2b: users' deletion requests honoured between the imports and the training.

The data preparation already left the requesting users' rows out of this run's training file,
so the FULL import has replaced their interactions; the data deletion job removes what else the
dataset group holds of them, and training starts only once it is COMPLETED, as the guide asks
(register personalize.data-deletion). Then the requests are moved under completed/, where later
runs still read them. A run with no new request passes straight on.
"""

from __future__ import annotations

from contract.events import STAGE_DELETION
from contract.functions import COMPLETE_DELETION_REQUESTS, START_DATA_DELETION
from contract.layout import DELETION_COMPLETED_PREFIX, DELETION_REQUESTS_PREFIX
from contract.readiness import DELETION_READY
from contract.resources import DATA_BUCKET_PLACEHOLDER, PERSONALIZE_ROLE_PLACEHOLDER
from stacks.workflow.builder import RUN_CONTEXT, WorkflowBuilder
from stacks.workflow.sdk import Choice, ChoiceRule, Pass, State

DELETION_INPUT_PATH = "$.data.deletion.inputUri"


def build_data_deletion(b: WorkflowBuilder, *, then: State) -> State:
    """The phase's first state, a Choice: new deletion requests in this run or not."""
    start = b.invoke(
        "Start data deletion",
        START_DATA_DELETION,
        {
            "datasetGroupArn.$": "$.datasetGroup.arn",
            "dataLocation.$": DELETION_INPUT_PATH,
            "roleArn": "${" + PERSONALIZE_ROLE_PLACEHOLDER + "}",
            "jobNamePrefix": b.names.deletion_job_prefix,
            **RUN_CONTEXT,
        },
        "$.deletionJob",
        STAGE_DELETION,
    )
    complete = b.invoke(
        "Complete deletion requests",
        COMPLETE_DELETION_REQUESTS,
        {
            "bucket": "${" + DATA_BUCKET_PLACEHOLDER + "}",
            "prefix": DELETION_REQUESTS_PREFIX,
            "completedPrefix": DELETION_COMPLETED_PREFIX,
            "runName.$": "$$.Execution.Name",
            "requests.$": "$.data.deletion.requests",
            "job.$": "$.deletionJob",
        },
        "$.deletion",
        STAGE_DELETION,
    )
    none = Pass(
        "No deletion requests",
        comment="Nothing new under deletion-requests/: the outcome event reports an empty list.",
        result={"requests": [], "job": None},
        result_path="$.deletion",
    )
    any_requests = Choice("Deletion requests?")
    any_requests.add_choice(ChoiceRule.IsNull(variable=DELETION_INPUT_PATH, value=True), none)
    any_requests.default_choice(start)
    start.next(b.wait_until_active(DELETION_READY, complete, STAGE_DELETION))
    complete.next(then)
    none.next(then)
    return any_requests
