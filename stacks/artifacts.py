"""Names of the files synth writes beside the template (light: no CDK or SDK imports)."""

DEFINITION_FILE_NAME = "personalize-workflow.asl.json"
STACK_NAME = "PersonalizePipeline"
# Written by CDK's policy validation (the cdk-nag plugin app.py adds) on every synth.
VALIDATION_REPORT_FILE_NAME = "validation-report.json"
