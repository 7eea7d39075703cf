"""Names of the files synth writes beside the template (light: no CDK or SDK imports)."""

DEFINITION_FILE_NAME = "personalize-workflow.asl.json"
STACK_NAME = "PersonalizePipeline"
