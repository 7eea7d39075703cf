"""Custom resource types of the stack, and the Step Functions integrations the workflow uses."""

from __future__ import annotations

# Deletes the pipeline's run-time Personalize resources on stack deletion.
TEARDOWN_RESOURCE_TYPE = "Custom::PersonalizeTeardown"
# Computes the schedule's StartDate at deploy time (register scheduler.rate.first-invocation).
SCHEDULE_START_RESOURCE_TYPE = "Custom::ScheduleStart"
# The optimized EventBridge integration that publishes each run's outcome.
PUT_EVENTS_INTEGRATION = "arn:aws:states:::events:putEvents"
# The Glue engine's job run, waited for by Step Functions (register sfn.glue.sync).
GLUE_START_JOB_RUN_SYNC = "arn:aws:states:::glue:startJobRun.sync"
# aws-sdk integrations: arn:aws:states:::aws-sdk:<service>:<action>.
SDK_INTEGRATION_PREFIX = "arn:aws:states:::aws-sdk:"
# Placeholders of the workflow definition, substituted at deploy time (DefinitionSubstitutions);
# each workflow step's function ARN is ``${<key>FunctionArn}`` (contract.functions).
DATA_BUCKET_PLACEHOLDER = "DataBucketName"
PERSONALIZE_ROLE_PLACEHOLDER = "PersonalizeRoleArn"
# The pipeline's KMS key, when the config names or creates one (encryption.kmsKey).
KMS_KEY_PLACEHOLDER = "PipelineKeyArn"
# The role a batch inference job reads its users file and writes its output with (deployment to batch).
BATCH_ROLE_PLACEHOLDER = "BatchInferenceRoleArn"
# The Glue engine's job (data.engine other than lambda).
GLUE_JOB_PLACEHOLDER = "PrepareInteractionsJobName"
